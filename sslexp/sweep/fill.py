"""Fill the holes of a grid sweep on the W&B server: run again, as runs of that sweep, the
grid points without a finished run (never run, failed, crashed, or stopped from W&B).

W&B's grid controller hands out each point once and never again, whatever became of
its run. ``open_points`` compares the sweep's grid (from the engine, as ``sweep
local`` plans it) with the sweep's runs on W&B; ``fill`` runs each open point here,
in-process, the way ``wandb.agent`` runs one: the sweep id, a new run id and the
point's parameters file in the environment, so ``wandb.init`` in ``sslexp train``
joins the sweep (same group, same name, same run directory rule) and the report of
the sweep sees it. A point run more than once counts once in the report, the latest
finished run winning.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sslexp.runs.record import as_float
from sslexp.sweep.agent import LAUNCHER_ONLY_ENV
from sslexp.sweep.spec import SweepSpec, grid_parameters, grid_points, parse_sweep


@dataclass
class OpenPoint:
    """A grid point without a finished run, and what became of the runs that tried it."""

    parameters: dict
    varied: dict  # the parameters the grid varies, which tell the points apart
    tries: list[str] = field(default_factory=list)  # "W&B run id (state)"

    def describe(self) -> str:
        point = " ".join(f"{name}={value}" for name, value in self.varied.items())
        tried = f" (tried: {', '.join(self.tries)})" if self.tries else " (never run)"
        return point + tried


def point_key(values: dict, names: list[str]) -> tuple:
    """A point's varied values, equal across int/float/str spellings (0.1 == "0.1")."""
    def same(value):
        number = None if isinstance(value, bool) else as_float(value)
        return round(number, 10) if number is not None else value
    return tuple(same(values.get(name)) for name in names)


def open_points(api, sweep_path: str) -> tuple[SweepSpec, list[OpenPoint]]:
    """The sweep as W&B holds it, and its grid points with no finished run, in grid order.

    ValueError for a sweep that is not a grid (it has no fixed list of points).
    """
    sweep = api.sweep(sweep_path)
    sweep_id = sweep_path.rsplit("/", 1)[-1]
    spec = parse_sweep(dict(sweep.config), Path(f"{sweep_id}.yaml"))
    if spec.method != "grid":
        raise ValueError(f"sweep {sweep_path} is a {spec.method} sweep: only a grid sweep has "
                         "a fixed list of points to fill.")
    from sslexp.sweep.plan import runs_sslexp_train

    if not runs_sslexp_train(spec):
        raise ValueError(f"sweep {sweep_path} runs `{' '.join(spec.command)}`: fill runs the "
                         "points as `sslexp train`, so it fills only sweeps of that command.")
    names = list(grid_parameters(spec.raw))
    place = sweep_path.rsplit("/", 1)[0]
    finished, tries = set(), {}
    for run in api.runs(place, filters={"sweep": sweep_id}):
        key = point_key(dict(run.config), names)
        if run.state == "finished":
            finished.add(key)
        tries.setdefault(key, []).append(f"{run.id} ({run.state})")
    points = []
    for parameters in grid_points(spec):
        key = point_key(parameters, names)
        if key not in finished:
            points.append(OpenPoint(dict(parameters), {name: parameters.get(name)
                                                       for name in names}, tries.get(key, [])))
    return spec, points


@contextlib.contextmanager
def as_a_run_of(sweep_path: str, run_id: str, parameters_file: Path) -> Iterator[None]:
    """The environment ``wandb.agent`` gives a run of ``sweep_path``; restored afterwards."""
    entity, project, sweep_id = ([None] * 3 + sweep_path.split("/"))[-3:]
    values = {"WANDB_SWEEP_ID": sweep_id, "WANDB_RUN_ID": run_id,
              "WANDB_SWEEP_PARAM_PATH": str(parameters_file), "WANDB_ENTITY": entity,
              "WANDB_PROJECT": project}
    names = (*values, *LAUNCHER_ONLY_ENV)
    saved = {name: os.environ.get(name) for name in names}
    for name in LAUNCHER_ONLY_ENV:
        os.environ.pop(name, None)
    os.environ.update({name: value for name, value in values.items() if value})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def fill(sweep_path: str, points: list[OpenPoint], work_dir: Path,
         echo: Callable[[str], None] = print) -> dict[str, str]:
    """Run each open point as a new run of the sweep, one after the other, through the
    executor an agent uses (a long-lived worker process); the end state of each (W&B run id
    -> finished, failed, interrupted)."""
    from wandb.sdk.lib import config_util
    from wandb.sdk.lib.runid import generate_id

    from sslexp.sweep.agent import Agent, AgentState
    from sslexp.sweep.executor import make_executor

    work_dir = Path(work_dir)
    state = AgentState(work_dir / "fill.json")
    executor = make_executor(isolate=False)
    agent = Agent(sweep_path, executor, state)
    ended = {}
    try:
        for number, point in enumerate(points, 1):
            run_id = generate_id()
            parameters_file = work_dir / f"config-{run_id}.yaml"
            parameters_file.parent.mkdir(parents=True, exist_ok=True)
            config_util.save_config_file_from_dict(
                str(parameters_file), {name: {"value": value} for name, value in
                                       point.parameters.items()})
            echo(f"[{number}/{len(points)}] {point.describe()}: W&B run {run_id}")
            with as_a_run_of(sweep_path, run_id, parameters_file):
                try:
                    agent.run_one()
                except RuntimeError as error:  # the run failed; its record and log say why
                    echo(f"[{number}/{len(points)}] {error}")
            run = state.data["ended"][-1]
            ended[run_id] = run["state"]
            echo(f"[{number}/{len(points)}] {run['name']} (W&B run {run_id}) {run['state']} in "
                 f"{run['run_dir']}")
    finally:
        executor.close()
    return ended
