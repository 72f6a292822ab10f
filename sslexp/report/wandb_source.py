"""The report's second source: a W&B sweep's runs (or a group's) through the public API,
as the same ``SweepData`` of ``SweepRun`` records a sweep directory gives.

Every run saves its results.json to W&B when it ends
(``sslexp.training.tracking``); that file is downloaded, so the statistics are
computed from exactly what a local report reads. A run without one (logged by
an older sslexp, or stopped before it ended) is described by its W&B config and
summary instead, with a note. The pretrainings the ssl runs started from are
found by their backbone key, and the checkpoints the pictures need (one ssl and
scratch pair, one pretext model) are downloaded too.
"""

from __future__ import annotations

from pathlib import Path

from sslexp.config import TrainConfig
from sslexp.report.collect import (PretrainRun, SweepData, SweepRun, _match_key, expected_grid,
                                   flat_config)
from sslexp.runs.protocol import BACKBONE_KEY, PRETRAIN_JOB, TEST_ACCURACY, TRAIN_JOB
from sslexp.runs.record import (BACKBONE_FILE, MODEL_FILE, PRETEXT_FILE, RESULTS_FILE, Record,
                                as_float, load_record)
from sslexp.sweep.ledger import SWEEP_COPY
from sslexp.sweep.spec import grid_parameters

# A W&B run state, for a run without a results file.
WANDB_STATES = {"running": "running", "pending": "pending", "failed": "failed",
                "crashed": "interrupted", "killed": "interrupted", "preempted": "interrupted",
                "preempting": "interrupted", "finished": "finished"}


def collect_wandb(api, entity: str, project: str, *, sweep_id: str | None = None,
                  group: str | None = None, download_dir: Path,
                  pictures: bool = True) -> SweepData:
    """The downstream runs of ``sweep_id`` (else of ``group``) in ``entity/project``.

    ``api`` is a ``wandb.Api()``; files go under ``download_dir``. ValueError when
    W&B holds no such runs.
    """
    if bool(sweep_id) == bool(group):
        raise ValueError("select the runs with exactly one of a sweep id or a group name")
    path = f"{entity}/{project}"
    download_dir = Path(download_dir)
    selection = {"sweep": sweep_id} if sweep_id else {"group": group}
    described = f"W&B {path}, " + (f"sweep {sweep_id}" if sweep_id else f"group {group}")
    found = list(api.runs(path, filters={"$and": [selection, {"jobType": TRAIN_JOB}]},
                          per_page=200, lazy=False))
    if not found:
        raise ValueError(f"{described} holds no `{TRAIN_JOB}` runs (check the entity, project "
                         f"and {'sweep id' if sweep_id else 'group name'})")
    notes: list[str] = []
    sweep_config, name = {}, group
    if sweep_id:
        sweep_config, name = _sweep_config(api, f"{path}/{sweep_id}", notes), sweep_id
        name = sweep_config.get("name") or sweep_id
    by_id = {run.id: run for run in found}
    runs = [_sweep_run(run, download_dir / run.id) for run in found]
    without = [run.run_id for run in runs if run.record is not None and run.record.extra.get(
        "from_wandb_summary")]
    if without:
        notes.append(f"{len(without)} run(s) have no {RESULTS_FILE} on W&B; their numbers come "
                     f"from the W&B config and summary: {', '.join(without)}.")
    varying = grid_parameters(sweep_config)
    runs = once_per_point(runs, list(varying), notes)
    grid = expected_grid(download_dir, sweep_config, varying, runs, notes)
    pretrains = _pretrains(api, path, runs, download_dir / "pretrain", pictures, notes)
    if pictures:
        _fetch_pair_checkpoints(runs, by_id)
    yaml_text = _as_yaml(sweep_config) if sweep_config else None
    if sweep_config:
        (download_dir / SWEEP_COPY).parent.mkdir(parents=True, exist_ok=True)
        (download_dir / SWEEP_COPY).write_text(yaml_text)
    return SweepData(download_dir, str(name), yaml_text, sweep_config, varying, runs,
                     grid, False, notes, pretrains=pretrains, source=described)


def once_per_point(runs: list[SweepRun], grid_names: list[str],
                   notes: list[str]) -> list[SweepRun]:
    """One run per grid point (per run name when the grid is unknown): the latest finished
    one, else the latest. ``runs`` come oldest first, as ``Api.runs`` lists them; a point
    run again (after a stop, a crash, or `sslexp sweep fill`) counts once."""
    def point(run: SweepRun) -> tuple:
        if grid_names:
            return tuple(_match_key(run.config.get(name)) for name in grid_names)
        return (run.run_id,)

    chosen: dict[tuple, SweepRun] = {}
    dropped: dict[tuple, list[SweepRun]] = {}
    for run in runs:
        key = point(run)
        kept = chosen.get(key)
        if kept is not None and kept.state == "finished" and run.state != "finished":
            dropped.setdefault(key, []).append(run)
            continue
        if kept is not None:
            dropped.setdefault(key, []).append(kept)
        chosen[key] = run
    for key, others in dropped.items():
        notes.append(f"{chosen[key].run_id}: {len(others) + 1} runs of one grid point on W&B; "
                     f"the latest {'finished ' if chosen[key].state == 'finished' else ''}one "
                     f"counts, not the {len(others)} other(s) "
                     f"({', '.join(sorted({run.state for run in others}))}).")
    kept_ids = {id(run) for run in chosen.values()}
    return [run for run in runs if id(run) in kept_ids]


def _sweep_run(run, directory: Path) -> SweepRun:
    record = _download_record(run, directory)
    if record is None:
        record = _record_from_summary(run)
    state = record.state if record.state != "running" else WANDB_STATES.get(run.state, "failed")
    error = None
    if state != "finished":
        error = record.error_text() or f"W&B state {run.state}"
    config = {**_plain(run.config), **flat_config(record)}
    return SweepRun(str(run.name or run.id), directory, state, config, record, error)


def _download_record(run, directory: Path) -> Record | None:
    try:
        run.file(RESULTS_FILE).download(root=str(directory), replace=True).close()
    except Exception:  # wandb.errors.CommError: the run saved no results file
        return None
    return load_record(directory).record


def _record_from_summary(run) -> Record:
    """What W&B's config and summary say about a run that saved no results file."""
    flat = _plain(run.config)
    try:
        config = TrainConfig.from_flat(flat).as_dict()
    except ValueError:
        config = flat
    summary = dict(run.summary_metrics or {})
    accuracy = as_float(summary.get(TEST_ACCURACY))
    state = WANDB_STATES.get(run.state, "failed")
    if state == "finished" and accuracy is None:
        state = "failed"
    return Record(kind="train", state=state, name=run.name, config=config,
                  test={"accuracy": accuracy} if accuracy is not None else None,
                  split={"n_labels": summary.get("n_labels")},
                  best_epoch=summary.get("best_epoch"), extra={"from_wandb_summary": True})


def backbone_users(runs: list[SweepRun]) -> dict[str, list[str]]:
    """Backbone key -> the ssl runs that started from that backbone (as their records say)."""
    users: dict[str, list[str]] = {}
    for run in runs:
        key = run.record.model_view.pretext.get("key") if run.record else None
        if run.method == "ssl" and key:
            users.setdefault(key, []).append(run.run_id)
    return users


def _pretrains(api, path: str, runs: list[SweepRun], directory: Path, pictures: bool,
               notes: list[str]) -> list[PretrainRun]:
    """The pretrain runs whose backbones the ssl runs used, by backbone key."""
    users = backbone_users(runs)
    if not users:
        return []
    keys = {f"config.{BACKBONE_KEY}": {"$in": list(users)}}
    candidates = api.runs(path, filters={"$and": [{"jobType": PRETRAIN_JOB}, keys]},
                          per_page=200, lazy=False)
    found = []
    for key, run_ids in users.items():
        matching = [run for run in candidates if _plain(run.config).get(BACKBONE_KEY) == key]
        for run in sorted(matching, key=lambda run: run.state != "finished"):
            target = directory / run.id
            record = _download_record(run, target)
            if record is None or not record.is_finished:
                continue
            if pictures:
                _download(run, PRETEXT_FILE, target)
            found.append(PretrainRun(target / BACKBONE_FILE, target, record, run_ids))
            break
        else:
            notes.append(f"No finished pretrain run of backbone {key} (used by "
                         f"{len(run_ids)} ssl run(s)) was found on W&B.")
    return found


def _fetch_pair_checkpoints(runs: list[SweepRun], by_id: dict) -> None:
    """model.keras of the ssl/scratch pair the report draws (the smallest fraction, then fold,
    with both finished), as ``sslexp.report.visuals.choose_pair`` will pick it."""
    pairs: dict[tuple, dict[str, SweepRun]] = {}
    for run in runs:
        if run.is_usable:
            key = (run.label_fraction, run.fold if run.fold is not None else -1)
            pairs.setdefault(key, {})[run.method] = run
    for key in sorted(pairs):
        if {"ssl", "scratch"} <= set(pairs[key]):
            for run in (pairs[key]["ssl"], pairs[key]["scratch"]):
                _download(by_id[run.run_dir.name], MODEL_FILE, run.run_dir)
            return


def _download(run, name: str, directory: Path) -> bool:
    try:
        run.file(name).download(root=str(directory), replace=True).close()
    except Exception:  # not saved (older runs, or W&B disabled for that file)
        return False
    return True


def _sweep_config(api, sweep_path: str, notes: list[str]) -> dict:
    try:
        config = api.sweep(sweep_path).config
    except Exception as error:  # the client raises several types for a missing sweep
        notes.append(f"The sweep's configuration could not be read from W&B "
                     f"({type(error).__name__}: {error}); the expected grid is unknown.")
        return {}
    return dict(config) if isinstance(config, dict) else {}


def _plain(config) -> dict:
    """A W&B config as ``{key: value}`` (older clients wrapped values as ``{"value": v}``)."""
    return {key: value.get("value") if isinstance(value, dict) and set(value) <= {"value", "desc"}
            else value for key, value in dict(config or {}).items() if not key.startswith("_")}


def _as_yaml(config: dict) -> str:
    import yaml

    return yaml.safe_dump(config, sort_keys=False)
