"""``sslexp sweep local`` (offline, the default) and ``sslexp sweep create`` (W&B server)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import click

from sslexp.options import CONTEXT_SETTINGS, flag, option

SWEEP_FILE = click.argument("sweep_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))


@click.group(context_settings=CONTEXT_SETTINGS)
def sweep():
    """Run a W&B sweep YAML offline (`local`), or create it on the W&B server (`create`).

    The YAML is a plain W&B sweep file (see sweeps/*.yaml); the same file works
    both ways.
    """


@sweep.command("local", context_settings=CONTEXT_SETTINGS)
@SWEEP_FILE
@option("--workers", type=click.IntRange(min=1), default=None,
        help="Runs at a time. Default: one per GPU in --gpus, else 1.")
@option("--gpus", default=None,
        help="GPU indices, e.g. 0,1: one worker per GPU, its runs see only that GPU (CUDA_VISIBLE_DEVICES).")
@option("--count", type=click.IntRange(min=1), default=None,
        help="Start at most this many runs in this invocation (all workers together).")
@flag("--retry-failed", False, "Run failed runs again (interrupted runs always run again).")
@option("--dir", "sweep_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
        envvar="SSLEXP_SWEEP_DIR", help="Sweep directory. Default: sweep-runs/<YAML file name>.")
@option("--wandb-mode", type=click.Choice(["offline", "online", "disabled"]), default="offline",
        envvar=["SSLEXP_WANDB_MODE", "WANDB_MODE"],
        help="WANDB_MODE of the runs; offline runs can be uploaded later with `sslexp sync`.")
def local(sweep_file, workers, gpus, count, retry_failed, sweep_dir, wandb_mode):
    """Run SWEEP_FILE here, without the W&B server.

    W&B's own sweep engine proposes each run; each run executes the YAML's
    `command` as `wandb agent` would, logging to W&B offline, grouped under the
    sweep name. Running the same command again resumes: finished runs are
    kept, interrupted ones run again.
    """
    from sslexp.sweep.agents import parse_gpus
    from sslexp.sweep.config import grid_parameter_names, planned_run_count
    from sslexp.sweep.local import LocalSweep, LocalSweepOptions
    from sslexp.sweep.signals import forwarding_signals
    from sslexp.sweep.summary import format_summary, state_counts

    spec = _load_spec(sweep_file)
    try:
        gpu_list = parse_gpus(gpus) if gpus else ()
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--gpus") from error
    options = LocalSweepOptions(
        sweep_dir=(sweep_dir or Path("sweep-runs") / sweep_file.stem).resolve(),
        workers=workers,
        gpus=gpu_list,
        count=count,
        retry_failed=retry_failed,
        wandb_mode=wandb_mode,
    )
    progress = _Progress()
    try:
        runner = LocalSweep(spec, options, on_run_end=progress.run_ended)
    except ValueError as error:
        raise click.UsageError(str(error)) from error

    counts = state_counts(runner.ledger.read()["runs"])
    planned = planned_run_count(spec)
    click.echo(
        f"Sweep {spec.name!r} in {options.sweep_dir}: "
        f"{planned if planned is not None else 'open-ended'} runs planned, {counts['finished']} finished already; "
        f"{len(runner.slots)} worker(s){_describe_gpus(runner.slots)}, W&B {wandb_mode}.",
        err=True,
    )
    if spec.raw.get("early_terminate"):
        click.echo("Note: early_terminate needs the W&B server; offline every run goes to the end.", err=True)
    progress.open(total=planned, initial=counts["finished"], description=spec.name)
    try:
        with forwarding_signals(runner.request_stop):
            ledger = runner.run()
    except Exception as error:
        raise click.ClickException(f"a worker stopped unexpectedly: {error}") from error
    finally:
        progress.close()

    click.echo(format_summary(options.sweep_dir, ledger, spec.metric_name, grid_parameter_names(spec)))
    final = state_counts(ledger["runs"])
    if runner.stopped:
        click.echo("Stopped. Run the same command again to resume.", err=True)
        sys.exit(130)
    if final["failed"] or final["interrupted"]:
        click.echo(
            f"{final['failed']} failed and {final['interrupted']} interrupted run(s); logs are in "
            f"{options.sweep_dir}/runs/<run id>/output.log. Rerun with --retry-failed to run failed ones again.",
            err=True,
        )
        sys.exit(1)


@sweep.command("create", context_settings=CONTEXT_SETTINGS)
@SWEEP_FILE
@option("--project", default=None, show_default=False,
        help="W&B project of the sweep. Default: the YAML's `project`, else $WANDB_PROJECT, else sslexp.")
@option("--entity", default=None, help="W&B entity (user or team) of the sweep.")
def create(sweep_file, project, entity):
    """Create SWEEP_FILE on the W&B server (`wandb sweep`) and print how to start agents."""
    from sslexp.sweep.online import agent_hints, create_online_sweep

    spec = _load_spec(sweep_file)
    try:
        created = create_online_sweep(spec, project=project, entity=entity)
    except (ValueError, RuntimeError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"sweep id: {created.sweep_id}")
    click.echo(f"sweep path: {created.sweep_path}")
    click.echo("Start one agent per GPU with:")
    for hint in agent_hints(created.sweep_path, gpus="0,1"):
        click.echo(f"  {hint}")


def _load_spec(sweep_file: Path):
    """The validated sweep, or a usage error (exit 2) listing the engine's violations."""
    from sslexp.sweep.config import SweepConfigError, load_sweep

    try:
        return load_sweep(sweep_file)
    except SweepConfigError as error:
        raise click.BadParameter(str(error), param_hint="SWEEP_FILE") from error


def _describe_gpus(slots) -> str:
    gpus = [slot.cuda_visible_devices for slot in slots if slot.cuda_visible_devices is not None]
    return f" on GPU(s) {','.join(gpus)}" if gpus else ""


class _Progress:
    """A tqdm bar over the sweep's planned runs, advanced as runs finish (thread-safe)."""

    def __init__(self):
        self._bar = None
        self._lock = threading.Lock()
        self._not_finished = {"failed": 0, "interrupted": 0}

    def open(self, total: int | None, initial: int, description: str) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=total, initial=initial, desc=description, unit="run", file=sys.stderr, dynamic_ncols=True)

    def run_ended(self, run_id: str, entry: dict) -> None:
        with self._lock:
            if self._bar is None:
                return
            if entry["state"] == "finished":
                self._bar.update(1)
            elif entry["state"] in self._not_finished:
                self._not_finished[entry["state"]] += 1
                self._bar.set_postfix(self._not_finished, refresh=False)
                self._bar.write(f"run {run_id} {entry['state']}: {entry.get('error')}", file=sys.stderr)
            self._bar.refresh()

    def close(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.close()
