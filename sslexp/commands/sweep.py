"""``sslexp sweep``: run a sweep YAML here (``local``), or on the W&B server
(``create``, then ``agents``, then ``fill`` for the points that did not finish), and
upload offline runs (``sync``)."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from sslexp.commands.common import (
    backbone_cache_option,
    cache_dir_option,
    entity_option,
    project_option,
    wandb_options,
)
from sslexp.options import (
    CONTEXT_SETTINGS,
    Command,
    OrderedGroup,
    argument,
    flag,
    option,
    user_errors,
)
from sslexp.runs.protocol import ENTITY_ENV, GROUP_ENV, PROJECT_ENV, WANDB_MODE_ENV

SWEEP_FILE = argument(
    "sweep_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A W&B sweep YAML, e.g. sweeps/demo.yaml.",
)
WORKFLOW = ("plan", "tune-winners", "pretrain", "local", "sync", "create", "agents", "fill")


@click.group(cls=OrderedGroup, order=WORKFLOW, context_settings=CONTEXT_SETTINGS)
def sweep():
    """Run a W&B sweep YAML here (`local`), or on the W&B server (`create`, then
    `agents`, then `fill` for the grid points that did not finish), and upload
    offline runs (`sync`).

    The YAML is a plain W&B sweep file (see sweeps/*.yaml); the same file works
    both ways. The commands are listed in the order they are used:

    \b
    here:      plan -> pretrain -> local -> sync (optional) -> sslexp report DIR
    online:    create -> pretrain (optional) -> agents on each GPU machine
               -> sslexp report --wandb ENTITY/PROJECT --sweep ID
    """


@sweep.command("local", cls=Command, env_prefix="SWEEP")
@SWEEP_FILE
@option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Runs at a time. Default: one per GPU in --gpus, else 1.",
)
@option(
    "--gpus",
    default=None,
    help="GPUs as `nvidia-smi -L` lists them (indices or UUIDs), e.g. 0,1: one worker per "
    "GPU, its runs see only that GPU (CUDA_VISIBLE_DEVICES). Default: the CPU.",
)
@option(
    "--per-gpu",
    type=click.IntRange(min=1),
    default=None,
    help="Workers per GPU in --gpus (GPU memory is taken on demand, so they fit): worth "
    "it for small models that leave the GPU idle between steps (measured gains: "
    "README, Sweeps).",
)
@option(
    "--count",
    type=click.IntRange(min=1),
    default=None,
    help="Start at most this many runs in this invocation (all workers together).",
)
@flag("--retry-failed", False, "Run failed runs again (interrupted runs always run again).")
@option(
    "--max-kills",
    type=click.IntRange(min=1),
    default=None,
    help="A run whose process dies by a signal this many times (out-of-memory killer, "
    "kill -9, a crash) is failed instead of redone. Kept in the ledger. "
    "Default: the ledger's, 3 for a new sweep.",
)
@flag(
    "--isolate",
    False,
    "One process per run, as `wandb agent` does. Default: each worker "
    "is a long-lived process running one `sslexp train` after another "
    "(imports paid once; other commands still get their own process).",
)
@option(
    "--run-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds after which a run counts as wedged: it (and its worker) is killed and "
    "recorded as a death (see --max-kills). Default: no limit.",
)
@option(
    "--dir",
    "sweep_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    envvar="SSLEXP_SWEEP_DIR",
    help="Sweep directory. Default: sweep-runs/<YAML file name>.",
)
@option(
    "--wandb-mode",
    type=click.Choice(["offline", "online", "disabled"]),
    default="offline",
    envvar=[WANDB_MODE_ENV, "WANDB_MODE"],
    help="WANDB_MODE of the runs; offline runs can be uploaded later with `sslexp sync`.",
)
def local(
    sweep_file,
    workers,
    gpus,
    per_gpu,
    count,
    retry_failed,
    max_kills,
    isolate,
    run_timeout,
    sweep_dir,
    wandb_mode,
):
    """Run SWEEP_FILE here, without the W&B server.

    W&B's own sweep engine proposes each run; each run executes the YAML's
    `command` as `wandb agent` would, logging to W&B offline, grouped under the
    sweep name. Running the same command again resumes: finished runs are
    kept, interrupted ones run again.
    """
    from sslexp.sweep.display import SweepDisplay
    from sslexp.sweep.ledger import Ledger
    from sslexp.sweep.processes import forwarding_signals
    from sslexp.sweep.runner import LocalSweep, LocalSweepOptions, worker_slots
    from sslexp.sweep.spec import grid_parameters, planned_run_count
    from sslexp.sweep.summary import format_summary, state_counts

    spec = _load_spec(sweep_file)
    gpu_list = _gpu_ids(gpus) if gpus else ()
    if per_gpu is not None and (not gpu_list or workers is not None):
        raise click.BadParameter(
            "needs --gpus, and replaces --workers (N workers per GPU)", param_hint="--per-gpu"
        )
    backbones_note = _check_grid(spec, sweep_file)
    options = LocalSweepOptions(
        sweep_dir=(sweep_dir or Path("sweep-runs") / sweep_file.stem).resolve(),
        workers=workers,
        gpus=gpu_list,
        count=count,
        retry_failed=retry_failed,
        max_kills=max_kills,
        wandb_mode=wandb_mode,
        isolate=isolate,
        per_gpu=per_gpu,
        run_timeout_s=run_timeout,
    )
    display = SweepDisplay(
        Ledger(options.sweep_dir), workers=len(worker_slots(workers, gpu_list, per_gpu))
    )
    try:
        runner = LocalSweep(spec, options, on_run_end=display.run_ended)
    except ValueError as error:
        raise click.UsageError(str(error)) from error

    counts = state_counts(runner.ledger.read()["runs"])
    planned = planned_run_count(spec)
    click.echo(
        f"Sweep {spec.name!r} in {options.sweep_dir}: "
        f"{planned if planned is not None else 'open-ended'} "
        f"runs planned, {counts['finished']} finished already; "
        f"{len(runner.slots)} worker(s){_describe_gpus(runner.slots)}"
        f"{', one process per run' if isolate else ''}, W&B {wandb_mode}.",
        err=True,
    )
    if backbones_note:
        click.echo(backbones_note, err=True)
    if spec.raw.get("early_terminate"):
        click.echo(
            "Note: early_terminate needs the W&B server; offline every run goes to the end.",
            err=True,
        )
    display.open(total=planned, initial=counts["finished"], description=spec.name)
    try:
        with forwarding_signals(runner.request_stop):
            ledger = runner.run()
    except Exception as error:
        raise click.ClickException(f"a worker stopped unexpectedly: {error}") from error
    finally:
        display.close()

    click.echo(
        format_summary(options.sweep_dir, ledger, spec.metric_name, list(grid_parameters(spec.raw)))
    )
    final = state_counts(ledger["runs"])
    if runner.stopped:
        click.echo("Stopped. Run the same command again to resume.", err=True)
        sys.exit(130)
    if final["failed"] or final["interrupted"]:
        click.echo(
            f"{final['failed']} failed and {final['interrupted']} interrupted run(s); logs are in "
            f"{options.sweep_dir}/runs/<run name>/output.log. Run the same command again to "
            "redo interrupted ones; add --retry-failed to run failed ones again.",
            err=True,
        )
        sys.exit(1)


@sweep.command("plan", cls=Command, env_prefix="SWEEP")
@SWEEP_FILE
@cache_dir_option
@flag(
    "--probe",
    True,
    "Measure a few training steps of each model here (seconds, plus "
    "loading TensorFlow) to estimate the time; --no-probe skips it.",
)
@option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    show_default=False,
    help="Runs at a time, as `sweep local --workers` would run them. Default: the "
    "--workers of the `sweep local` line in the YAML's comments, else 1.",
)
@user_errors
def plan(sweep_file, cache_dir, probe, workers):
    """List what `sweep local SWEEP_FILE` would run, and estimate how long it takes.

    Every run of the grid with its labels (to train, to select the epoch), steps
    per epoch and epochs; the backbones its ssl runs need and whether each is
    cached; the time at most, from a few steps measured here. Every grid point
    is checked as `sslexp train` checks its options. Nothing is trained or written
    except the data cache.
    """
    from sslexp.sweep.plan import format_plan, plan_sweep, runs_sslexp_train, workers_in_comments
    from sslexp.training.costs import run_costs

    spec = _load_spec(sweep_file)
    if spec.method != "grid" or not runs_sslexp_train(spec):
        raise click.BadParameter(
            "a plan needs a grid sweep whose command is `sslexp train` "
            f"(method {spec.method!r}, command {' '.join(spec.command)!r})",
            param_hint="SWEEP_FILE",
        )
    if workers is None:
        workers = workers_in_comments(sweep_file.read_text()) or 1
    try:
        planned = plan_sweep(
            spec,
            _train_options(),
            _train_backbone_cache(),
            lambda runs, pretrainings: run_costs(
                runs,
                pretrainings,
                cache_dir,
                measure=probe,
                progress=lambda line: click.echo(line, err=True),
            ),
        )
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="SWEEP_FILE") from error
    click.echo(format_plan(planned, workers, sweep_file))


@sweep.command("create", cls=Command, env_prefix="SWEEP")
@SWEEP_FILE
@project_option()
@entity_option()
def create(sweep_file, project, entity):
    """Create SWEEP_FILE on the W&B server and print its path and how to start agents.

    The sweep goes to --entity/--project (else $SSLEXP_ENTITY/$SSLEXP_PROJECT, else the
    YAML's `entity`/`project`, else $WANDB_ENTITY/$WANDB_PROJECT, else your default entity
    and project sslexp); its runs, their pretrainings and artifacts follow it there.
    """
    from sslexp.errors import WandbUnavailable
    from sslexp.runs.wandb_target import resolve_target
    from sslexp.sweep.online import agent_hints, create_online_sweep

    spec = _load_spec(sweep_file)
    target = resolve_target(entity or spec.raw.get("entity"), project or spec.raw.get("project"))
    try:
        created = create_online_sweep(spec, target)
    except WandbUnavailable as error:
        _fail(error)
    click.echo(f"sweep id: {created.sweep_id}")
    click.echo(f"sweep path: {created.sweep_path}")
    click.echo("Start one agent per GPU with:")
    for hint in agent_hints(created.sweep_path, gpus="0,1"):
        click.echo(f"  {hint}")


def _fail(error) -> None:
    """A ``WandbUnavailable`` as one line and its exit status (2, or 1 for the network)."""
    failure = click.ClickException(str(error))
    failure.exit_code = error.exit_code
    raise failure from None


@sweep.command("agents", cls=Command, env_prefix="AGENTS")
@argument(
    "sweep_id",
    help="The sweep `sslexp sweep create` printed: ENTITY/PROJECT/ID, or ID "
    "with --entity and --project.",
)
@option(
    "--gpus", default="0", help="GPU indices, e.g. 0,1,2,3: agents on each (CUDA_VISIBLE_DEVICES)."
)
@option(
    "--per-gpu",
    type=click.IntRange(min=1),
    default=1,
    help="Agents per GPU. They share its memory (allocated as needed); measured gains: "
    "README, Sweeps.",
)
@option(
    "--count",
    type=click.IntRange(min=1),
    default=None,
    help="Runs per agent (default: until the sweep ends).",
)
@option(
    "--stagger",
    type=click.FloatRange(min=0),
    default=5.0,
    help="Seconds between agent starts; agents started together can get the same first run.",
)
@flag(
    "--isolate",
    False,
    "One process per run instead of a long-lived worker per agent "
    "(TensorFlow starts once per run), as `sweep local --isolate`.",
)
@option(
    "--run-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds after which a run counts as wedged: it (and its worker) is killed, the "
    "run recorded as failed, and the next run gets a fresh worker. Default: no limit.",
)
@option(
    "--logs",
    "logs_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where each agent process writes its log and state. "
    "Default: sweep-agents/<sweep id>/<host name>.",
)
@project_option()
@entity_option()
@option(
    "--group",
    default=None,
    envvar=GROUP_ENV,
    help="W&B group of the runs and their pretrainings. Default: the sweep id.",
)
@option(
    "--slurm",
    "slurm_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write an sbatch script that runs these agents on every node of a Slurm job, "
    "instead of starting them here.",
)
@option("--nodes", type=click.IntRange(min=1), default=1, help="With --slurm: nodes of the job.")
@option("--time", "time_limit", default="24:00:00", help="With --slurm: the job's time limit.")
@option(
    "--sbatch",
    "sbatch_options",
    multiple=True,
    default=(),
    show_default=False,
    help="With --slurm: another sbatch option, e.g. --sbatch=--partition=gpu (repeatable).",
)
def agents(
    sweep_id,
    gpus,
    per_gpu,
    count,
    stagger,
    isolate,
    run_timeout,
    logs_dir,
    project,
    entity,
    group,
    slurm_file,
    nodes,
    time_limit,
    sbatch_options,
):
    """Run the W&B sweep SWEEP_ID here: agents on each GPU, until the sweep ends.

    Each agent is a process calling `wandb.agent`; every run it is given runs
    as `sslexp train` with the run's parameters in the agent's long-lived
    worker, as `sweep local` runs them (each run's output in its run
    directory's output.log); a run that kills or wedges its worker
    (--run-timeout) is recorded as failed and the next run gets a fresh
    worker. --isolate runs each run as its own process instead. Either way a
    run's name, directory and results are the same.
    Ctrl-C or SIGTERM is passed to every agent (runs are recorded as
    interrupted); a second one kills them. Ends with each agent's outcome.
    """
    from sslexp.sweep.online import parse_gpus
    from sslexp.sweep.processes import forwarding_signals

    given = click.get_current_context().get_parameter_source("gpus") is not ParameterSource.DEFAULT
    if given and slurm_file is None:  # GPUs of this machine (a Slurm job gets its node's)
        gpu_list = _gpu_ids(gpus)
    else:
        try:
            gpu_list = parse_gpus(gpus)  # the default: one agent, on the CPU where no GPU is
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--gpus") from error
    if slurm_file is not None:
        _write_slurm_script(
            slurm_file,
            sweep_id,
            len(gpu_list),
            nodes,
            time_limit,
            sbatch_options,
            click.get_current_context(),
        )
        return
    sweep_id = _existing_sweep(sweep_id, project, entity)  # its path names entity and project
    project = entity = None
    from sslexp.sweep.agent_pool import AgentPool, PoolOptions, describe_slots

    logs_dir = logs_dir or Path("sweep-agents") / sweep_id.replace("/", "-") / socket.gethostname()
    pool = AgentPool(
        PoolOptions(
            sweep_id,
            gpu_list,
            per_gpu,
            count,
            project,
            entity,
            group,
            logs_dir,
            stagger,
            run_timeout,
            isolate,
        ),
        echo=lambda line: click.echo(line, err=True),
    )
    with forwarding_signals(pool.handle_signal):
        slots = pool.run()
    for line in describe_slots(slots):
        click.echo(line)
    if any(slot.exit_code not in (0, None) or slot.lost for slot in slots):
        sys.exit(1)


def _existing_sweep(text: str, project: str | None, entity: str | None) -> str:
    """The sweep's full path (the entity and project in ``text`` win over the options), once
    W&B has confirmed it exists; a usage error (exit 2, or 1 for the network) otherwise."""
    from sslexp.errors import WandbUnavailable
    from sslexp.runs.wandb_target import SweepPath
    from sslexp.sweep.online import check_sweep_exists

    try:
        path = SweepPath.parse(text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="SWEEP_ID") from error
    target = path.target(entity, project)
    try:
        check_sweep_exists(path.full(target))
    except WandbUnavailable as error:
        _fail(error)
    return path.full(target)


def _write_slurm_script(
    path: Path, sweep_id, gpus_per_node, nodes, time_limit, sbatch_options, context: click.Context
) -> None:
    """The sbatch script: this command, minus --slurm and its options, on every node."""
    from sslexp.sweep.online import SlurmJob, slurm_script

    slurm_only = {"slurm_file", "nodes", "time_limit", "sbatch_options", "gpus"}
    argv = [sys.executable, "-m", "sslexp", "sweep", "agents", sweep_id]
    for param in context.command.params:
        if not isinstance(param, click.Option) or param.name in slurm_only:
            continue
        value = context.params.get(param.name)
        if value is None or value == param.default:
            continue
        argv.append(f"{max(param.opts, key=len)}={value}")
    job = SlurmJob(
        nodes=nodes,
        gpus_per_node=gpus_per_node,
        time=time_limit,
        job_name=f"sslexp-{sweep_id.rsplit('/', 1)[-1]}",
        extra=tuple(sbatch_options),
    )
    path.write_text(slurm_script(job, argv, Path.cwd()))
    click.echo(
        f"wrote {path}: {nodes} node(s) x {gpus_per_node} GPU(s); submit it with `sbatch {path}`"
    )


@sweep.command("fill", cls=Command, env_prefix="FILL")
@click.argument("sweep_id")
@project_option()
@entity_option()
@option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the runs' parameter files and the fill's state go. "
    "Default: sweep-agents/<sweep id>/fill.",
)
@flag("--dry-run", False, "List the open grid points; run nothing.")
def fill(sweep_id, project, entity, work_dir, dry_run):
    """Run again the grid points of the W&B sweep SWEEP_ID that have no finished run.

    W&B's grid controller hands out each point once: a point whose run failed,
    crashed or was stopped from W&B is never run again by the agents. This runs
    each such point (and any never run) here, one after the other, as a new run
    of the same sweep, so `sslexp report --wandb --sweep` counts it (once: the
    latest finished run of a point wins). Run it after the agents have ended.
    """
    import wandb

    from sslexp.sweep.fill import fill as fill_points
    from sslexp.sweep.fill import open_points
    from sslexp.sweep.spec import grid_points

    sweep_path = _existing_sweep(sweep_id, project, entity)
    try:
        spec, points = open_points(wandb.Api(), sweep_path)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="SWEEP_ID") from error
    size = len(grid_points(spec))
    click.echo(f"{sweep_path}: {len(points)} of {size} grid point(s) have no finished run")
    for point in points:
        click.echo(f"  {point.describe()}")
    if dry_run or not points:
        return
    work_dir = work_dir or Path("sweep-agents") / sweep_path.replace("/", "-") / "fill"
    ended = fill_points(sweep_path, points, work_dir, echo=lambda line: click.echo(line, err=True))
    states = list(ended.values())
    click.echo(f"filled {states.count('finished')} of {len(points)} grid point(s)")
    if states.count("finished") != len(points):
        sys.exit(1)


@sweep.command("sync", cls=Command, env_prefix="SYNC")
@argument(
    "sweep_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A directory `sslexp sweep local` wrote, e.g. sweep-runs/demo.",
)
@option(
    "--project",
    default=None,
    envvar=PROJECT_ENV,
    help="Upload to this W&B project (default: the one each run recorded).",
)
@option(
    "--entity",
    default=None,
    envvar=ENTITY_ENV,
    help="Upload to this W&B entity (default: the one each run recorded).",
)
@flag(
    "--dry-run",
    False,
    "List what would be uploaded, one line per run with its group; upload nothing.",
)
@flag("--include-unfinished", False, "Upload failed and interrupted runs too.")
def sync(sweep_dir, project, entity, dry_run, include_unfinished):
    """Upload the offline W&B runs of SWEEP_DIR (made by `sslexp sweep local`) with `wandb sync`.

    Each run keeps its group (the sweep name). The offline pretrain runs of the
    backbones the runs used (in the backbone cache, artifacts included) are
    uploaded first, each once.
    """
    from sslexp.sweep.online import find_wandb_executable
    from sslexp.sweep.sync import describe, find_backbone_runs, find_offline_runs, sync_runs

    try:
        runs, without_data = find_offline_runs(sweep_dir, include_unfinished=include_unfinished)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="SWEEP_DIR") from error
    backbones, backbones_without_data = find_backbone_runs(sweep_dir)
    runs = backbones + runs  # a pretraining before the runs that used its backbone
    if backbones_without_data:
        click.echo(
            f"{len(backbones_without_data)} backbone(s) have no offline W&B data "
            "(pretrained with W&B disabled or online): " + ", ".join(backbones_without_data),
            err=True,
        )
    if without_data:
        click.echo(
            f"{len(without_data)} run(s) have no offline W&B "
            "data (logged with W&B disabled or online?): " + ", ".join(without_data),
            err=True,
        )
    if not runs:
        click.echo("Nothing to upload.", err=True)
        return
    if dry_run:
        for run in runs:
            click.echo(describe(run))
        return
    try:
        wandb = find_wandb_executable()
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    statuses = sync_runs(runs, wandb, project, entity, echo=lambda line: click.echo(line, err=True))
    failed = [path for path, code in statuses.items() if code != 0]
    click.echo(f"uploaded {len(statuses) - len(failed)} of {len(statuses)} run(s)")
    for path in failed:
        click.echo(f"failed: {path} (exit status {statuses[path]})", err=True)
    if failed:
        sys.exit(1)


@sweep.command("pretrain", cls=Command, env_prefix="SWEEP")
@SWEEP_FILE
@cache_dir_option
@backbone_cache_option
@wandb_options
@option(
    "--sweep",
    "sweep_path",
    default=None,
    help="The W&B sweep these backbones are for, as `sslexp sweep create` printed it "
    "(ENTITY/PROJECT/ID): they are logged to its entity and project, in its group, "
    "where its agents look for them.",
)
@flag("--dry-run", False, "List the backbones (and whether each is cached); pretrain nothing.")
@user_errors
def pretrain_backbones(
    sweep_file, cache_dir, backbone_cache, wandb_mode, project, entity, group, sweep_path, dry_run
):
    """Pretrain every backbone the ssl runs of SWEEP_FILE will ask for, before the sweep.

    The backbones are keyed by the sweep's `pretext_*` parameters (and data
    set, image size and architecture) exactly as `sslexp train --pretrained
    auto` keys them, so the sweep's ssl runs then find them in --backbone-cache
    and start training at once. Online each is also logged as the W&B artifact
    agents on other machines download instead of pretraining it again (a
    backbone cached without W&B is logged from a run replaying its record), in
    the sweep's entity and project: give --sweep ENTITY/PROJECT/ID (or
    --entity and --project).
    """
    from sslexp.sweep.spec import planned_backbones
    from sslexp.training.backbones import backbone_dir, ensure_backbone, is_usable
    from sslexp.training.shared_backbones import SharedBackbones
    from sslexp.training.tracking import WandbSettings

    spec = _load_spec(sweep_file)
    if spec.method != "grid":
        raise click.BadParameter(
            f"only a grid sweep has a fixed list of runs (method is {spec.method!r})",
            param_hint="SWEEP_FILE",
        )
    configs = planned_backbones(spec)
    if not configs:
        click.echo(f"{spec.name}: no ssl run uses `pretrained: auto`; nothing to pretrain.")
        return
    if sweep_path:
        from sslexp.runs.wandb_target import SweepPath

        try:
            path = SweepPath.parse(sweep_path)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--sweep") from error
        project, entity = path.project or project, path.entity or entity
        group = group or path.sweep_id  # the group the sweep's own pretrainings have
    settings = WandbSettings(wandb_mode, project, entity, group or spec.name)
    shared = SharedBackbones.for_settings(settings)
    for index, config in enumerate(configs, 1):
        directory = backbone_dir(backbone_cache, config)
        status = "cached" if is_usable(directory) else "to pretrain"
        click.echo(f"[{index}/{len(configs)}] {directory} ({status})")
        if dry_run:
            continue
        if status != "cached":
            ensure_backbone(
                config,
                backbone_cache,
                cache_dir,
                settings,
                echo=lambda line: click.echo(f"warning: {line}", err=True),
            )
            status = "ready"
        reference = shared.publish(directory, settings) if shared is not None else None
        where = f"; W&B artifact {reference}" if reference else ""
        if status == "ready" or where:
            click.echo(f"[{index}/{len(configs)}] {directory} ({status}{where})")


@sweep.command("tune-winners", cls=Command, env_prefix="TUNE")
@click.argument(
    "sweep_dirs",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The winners file to write (YAML); a study names it with `tuned: FILE`.",
)
@option(
    "--page",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    show_default=False,
    help="Also write a results page (Markdown): the grid, each arm's winner and its "
    "margin, every candidate and run, wall time, revision and CPU.",
)
@option(
    "--page-command",
    default=None,
    show_default=False,
    help="The command the page gives to reproduce the tuning, e.g. `make tune` "
    "(default: this command).",
)
def tune_winners(sweep_dirs, out, page, page_command):
    """Choose each method's lr, augment and weight decay from finished tuning sweeps.

    SWEEP_DIRS are the directories of the per-method tuning sweeps
    (sweeps/tuning_ssl.yaml, sweeps/tuning_scratch.yaml). Per method the candidate
    with the best mean validation accuracy over the tuned label fractions wins;
    test accuracy is never used. Refused unless every arm had the same grid on
    the tuning fold (the last fold) and every run finished.
    """
    from sslexp.report.tuning import winners_from_sweeps
    from sslexp.tuning import TUNED_FIELDS, write_winners

    try:
        winners = winners_from_sweeps(list(sweep_dirs))
    except (ValueError, FileNotFoundError) as error:
        raise click.ClickException(str(error)) from error
    write_winners(out, winners)
    for method, chosen in winners["methods"].items():
        values = ", ".join(f"{name}={chosen[name]}" for name in TUNED_FIELDS)
        click.echo(
            f"{method}: {values} (validation accuracy {100 * chosen['val_accuracy']:.2f}%"
            f" over {chosen['runs']} run(s))"
        )
    click.echo(f"Chosen by {winners['chosen_by']}. Written to {out}.")
    if page is not None:
        from sslexp.report.tuning_page import write_tuning_page

        command = page_command or " ".join(
            ["sslexp sweep tune-winners", *map(str, sweep_dirs), "--out", str(out)]
        )
        write_tuning_page(page, winners, list(sweep_dirs), out, command)
        click.echo(f"Page: {page}")


def _load_spec(sweep_file: Path):
    """The validated sweep, or a usage error (exit 2) listing the engine's violations."""
    from sslexp.sweep.spec import SweepConfigError, load_sweep

    try:
        return load_sweep(sweep_file)
    except SweepConfigError as error:
        raise click.BadParameter(str(error), param_hint="SWEEP_FILE") from error


def _check_grid(spec, sweep_file: Path) -> str | None:
    """Check every grid point of an `sslexp train` sweep before the first run (usage error
    naming the run and parameter); return a note on backbones still to pretrain."""
    from sslexp.sweep.plan import backbones_note, check_grid, planned_backbones, runs_sslexp_train

    if spec.method != "grid" or not runs_sslexp_train(spec):
        return None
    try:
        check_grid(spec, _train_options())
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="SWEEP_FILE") from error
    return backbones_note(planned_backbones(spec, _train_backbone_cache()), sweep_file)


def _train_options() -> set[str]:
    """The names of `sslexp train`'s options: what an `sslexp train` sweep may vary."""
    from sslexp.commands.train import train

    return {param.name for param in train.params}


def _train_backbone_cache() -> Path:
    """The backbone cache `sslexp train` uses when not told: its option's variable or default."""
    from sslexp.commands.train import train

    (option,) = [param for param in train.params if param.name == "backbone_cache"]
    return Path(os.environ.get(option.envvar) or option.default)


def _gpu_ids(text: str) -> tuple[str, ...]:
    """The ids of --gpus, each a GPU of this machine, or a usage error listing those present."""
    from sslexp.sweep.gpus import check_gpu_ids, find_gpus
    from sslexp.sweep.online import parse_gpus

    try:
        ids = parse_gpus(text)
        check_gpu_ids(ids, find_gpus())
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--gpus") from error
    return ids


def _describe_gpus(slots) -> str:
    gpus = [slot.cuda_visible_devices for slot in slots if slot.cuda_visible_devices is not None]
    return f" on GPU(s) {','.join(gpus)}" if gpus else ""
