"""A results page for the project's docs: the report's Markdown under a header that
says how to reproduce it, how long it took, from which revision and on which CPU.

Everything on the page comes from the sweep directory (the runs' records and the
report), so the make target that ran the study can write it again at any time, and
a rerun of the same target after an interruption gives the same page.
"""

from __future__ import annotations

import csv
import datetime
import math
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sslexp.report.collect import PretrainRun, SweepRun, find_pretrains
from sslexp.report.format import count, percent, points
from sslexp.report.tables import markdown_table
from sslexp.runs.record import as_float, write_atomic

PREVIOUS_COLUMNS = (
    "label fraction",
    "labels",
    "ssl then %",
    "scratch then %",
    "gap then (pp)",
    "ssl now %",
    "scratch now %",
    "gap now (pp)",
    "gap removed",
)


@dataclass(frozen=True)
class Measured:
    """How, when and where a sweep's finished runs were computed."""

    runs: int
    first_start: datetime.datetime | None
    last_finish: datetime.datetime | None
    busy_seconds: float  # while a run or a backbone was training: pauses of a resume left out
    run_seconds: float  # the runs' own wall times added up (pretraining inside them included)
    revisions: list[tuple[str, bool, int]]  # (revision, had local edits, runs)
    cpus: list[tuple[str, int]]  # ("AMD EPYC 7B13, AVX-512", runs)
    versions: dict[str, list[str]]


def busy_seconds(intervals: list[tuple[datetime.datetime, datetime.datetime]]) -> float:
    """The length of the union of ``intervals``: the wall time some run was going, which
    leaves out the pause when a sweep was stopped and resumed later."""
    total, end = 0.0, None
    for start, finish in sorted(intervals):
        if end is None or start > end:
            total += (finish - start).total_seconds()
            end = finish
        elif finish > end:
            total += (finish - end).total_seconds()
            end = finish
    return total


def measure(runs: list[SweepRun], pretrains: list[PretrainRun] = ()) -> Measured:
    """``Measured`` from the records of the finished runs and of the backbones they used
    (a run's record starts after its backbone is ready, so pretraining adds its own time)."""
    finished = [run for run in runs if run.state == "finished" and run.record is not None]
    records = [run.record for run in finished]
    records += [pretrain.record for pretrain in pretrains if pretrain.record is not None]
    starts = [_time(record.started_at) for record in records]
    finishes = [_time(record.finished_at) for record in records]
    intervals = [(start, end) for start, end in zip(starts, finishes) if start and end]
    revisions: Counter = Counter()
    cpus: Counter = Counter()
    versions: dict[str, set[str]] = {}
    for run in finished:
        provenance = run.record.provenance or {}
        git = provenance.get("git") or {}
        if git.get("revision"):
            revisions[(str(git["revision"]), bool(git.get("dirty")))] += 1
        cpu = provenance.get("cpu") or {}
        model = cpu.get("model") or "unknown CPU"
        cores = f", {cpu['cores']} cores" if cpu.get("cores") else ""
        cpus[f"{model}, {cpu.get('instruction_set') or 'instruction set unknown'}{cores}"] += 1
        for library, version in (provenance.get("versions") or {}).items():
            if version is not None:
                versions.setdefault(str(library), set()).add(str(version))
    return Measured(
        runs=len(finished),
        first_start=min((time for time in starts if time), default=None),
        last_finish=max((time for time in finishes if time), default=None),
        busy_seconds=busy_seconds(intervals),
        run_seconds=sum(as_float(run.record.wall_time_s) or 0.0 for run in finished),
        revisions=[(revision, dirty, n) for (revision, dirty), n in revisions.most_common()],
        cpus=cpus.most_common(),
        versions={library: sorted(found) for library, found in sorted(versions.items())},
    )


def _time(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def duration(seconds: float | None) -> str:
    """``1 h 04 min``, ``23 min 10 s``, ``45 s``."""
    if seconds is None or not math.isfinite(seconds):
        return "unknown"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def provenance_lines(measured: Measured, libraries=("tensorflow", "keras")) -> list[str]:
    """Bullets: when, how long, which revision, which CPU and libraries."""
    when = (
        f"{measured.first_start:%Y-%m-%d %H:%M} to {measured.last_finish:%Y-%m-%d %H:%M} UTC"
        if measured.first_start and measured.last_finish
        else "unknown"
    )
    revisions = "; ".join(
        f"`{revision[:10]}`" + (" with local edits" if dirty else "") + f" ({n} runs)"
        for revision, dirty, n in measured.revisions
    )
    cpus = "; ".join(f"{cpu} ({n} runs)" for cpu, n in measured.cpus)
    versions = ", ".join(
        f"{library} {'/'.join(measured.versions[library])}"
        for library in libraries
        if library in measured.versions
    )
    return [
        f"- {measured.runs} finished runs, {when}: **{duration(measured.busy_seconds)} wall "
        f"time** while runs or their backbones' pretraining were going (pauses of a resumed "
        f"sweep left out; {duration(measured.run_seconds)} of downstream run time added up "
        f"over the workers).",
        f"- Revision: {revisions or 'not recorded'}.",
        f"- CPU: {cpus or 'not recorded'}" + (f"; {versions}." if versions else "."),
    ]


def backbone_line(pretrains: list[PretrainRun]) -> str | None:
    """How many backbones the ssl runs used and how long each took to pretrain (inside the
    runs' time when a run pretrained it, before the sweep when `sslexp sweep pretrain`
    did)."""
    seconds = [
        as_float(pretrain.record.wall_time_s)
        for pretrain in pretrains
        if pretrain.record is not None and as_float(pretrain.record.wall_time_s) is not None
    ]
    if not pretrains:
        return None
    if not seconds:
        timed = ""
    elif len(seconds) == 1:
        timed = f", pretrained in {duration(seconds[0])}"
    else:
        timed = (
            f", each pretrained in {duration(min(seconds))} to {duration(max(seconds))} "
            f"({duration(sum(seconds))} in all)"
        )
    return f"- Backbones: {len(pretrains)} used by the ssl runs{timed}."


def sweep_notes(sweep_yaml: str | None) -> list[str]:
    """The sweep file's leading comment: where it says what it covers, what was cut to
    fit and how to run the full version."""
    lines = []
    for line in (sweep_yaml or "").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].removeprefix(" "))
    return lines


def previous_rows(previous_csv: Path, comparison) -> list[dict]:
    """An earlier comparison.csv of the same fractions beside this one: each gap then and
    now, and the share of the old gap that is gone."""
    with Path(previous_csv).open(newline="") as stream:
        before = {round(float(row["label_fraction"]), 9): row for row in csv.DictReader(stream)}
    rows = []
    for row in comparison.rows:
        old = before.get(round(row.label_fraction, 9))
        if old is None:
            continue
        old_ssl, old_scratch = float(old["ssl_mean"]), float(old["scratch_mean"])
        old_gap, gap = old_ssl - old_scratch, row.difference.mean
        removed = 1 - gap / old_gap if old_gap else math.nan
        rows.append(
            {
                "label fraction": f"{row.label_fraction:g}",
                "labels": count(row.n_labels.mean),
                "ssl then %": percent(old_ssl),
                "scratch then %": percent(old_scratch),
                "gap then (pp)": points(old_gap, signed=True),
                "ssl now %": percent(row.accuracy["ssl"].mean),
                "scratch now %": percent(row.accuracy["scratch"].mean),
                "gap now (pp)": points(gap, signed=True),
                "gap removed": f"{100 * removed:.0f}%" if math.isfinite(removed) else "n/a",
            }
        )
    return rows


PAGE_OUTPUTS = ("*.png", "comparison.csv", "per_run.csv")  # what a page's directory holds


def copy_outputs(report_dir: Path, target_dir: Path) -> None:
    """The report's PNG figures and CSVs next to the page, the figures' layout kept; those
    of an earlier page go first, so no figure outlives the report it came from."""
    target_dir.mkdir(parents=True, exist_ok=True)
    for pattern in PAGE_OUTPUTS:
        for stale in target_dir.rglob(pattern):
            stale.unlink()
    for source in sorted((report_dir / "figures").rglob("*.png")):
        destination = target_dir / source.relative_to(report_dir / "figures")
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
    for name in ("comparison.csv", "per_run.csv"):
        if (report_dir / name).exists():
            shutil.copyfile(report_dir / name, target_dir / name)


def page_body(report_markdown: str, figures_link: str) -> list[str]:
    """The report's Markdown without its title and timestamp, figures linked next to the
    page."""
    lines = report_markdown.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return [
        line.replace("](figures/", f"]({figures_link}/")
        for line in lines
        if not line.startswith("Sweep `")  # the report's own timestamp line
    ]


def write_page(
    page: Path,
    report,
    command: str,
    previous_csv: Path | None = None,
    previous_label: str | None = None,
) -> Path:
    """Write ``page`` (Markdown) from a finished ``LocalReport``, its figures and CSVs in
    the directory named like the page (``docs/results/fashion_mnist.md`` ->
    ``docs/results/fashion_mnist/``). Written whole or not at all."""
    page = Path(page)
    outputs = page.with_suffix("")
    copy_outputs(report.markdown.parent, outputs)
    sweep = report.sweep
    own = own_runs(sweep)
    lines = [f"# {_title(sweep)}", ""]
    lines += [
        "Reproduce (offline, on the data set the sweep names):",
        "",
        "```bash",
        command,
        "```",
        "",
        *provenance_lines(measure(own, find_pretrains(sweep))),
    ]
    borrowed = len(sweep.runs) - len(own)
    if borrowed:
        lines += [
            f"- Plus {borrowed} baseline runs from another sweep directory (not counted above; "
            "their own page gives their time)."
        ]
    backbones = backbone_line(find_pretrains(sweep))
    lines += [backbones, ""] if backbones else [""]
    notes = sweep_notes(sweep.sweep_yaml)
    if notes:
        lines += ["## What the sweep covers", "", "From the sweep file's header:", "", "```text"]
        lines += notes + ["```", ""]
    if previous_csv is not None:
        rows = previous_rows(previous_csv, report.comparison)
        lines += [
            "## Then and now",
            "",
            f"The same fractions in `{Path(previous_csv).name}` "
            f"({previous_label or 'an earlier comparison'}) beside this sweep: mean test "
            "accuracy, the gap ssl - scratch, and how much of the old gap is gone.",
            "",
            markdown_table(rows, PREVIOUS_COLUMNS) if rows else "(no fraction in common)",
            "",
        ]
    lines += ["## The report", ""]
    lines += page_body(report.markdown.read_text(), outputs.name)
    return write_atomic(page, ("\n".join(lines).rstrip() + "\n").encode())


def own_runs(sweep) -> list[SweepRun]:
    """The runs of the sweep directory itself, not those a baseline lent it."""
    root = Path(sweep.directory).resolve()
    return [
        run
        for run in sweep.runs
        if run.run_dir is None or root in Path(run.run_dir).resolve().parents
    ]


def _title(sweep) -> str:
    description = (sweep.sweep_config or {}).get("description")
    return f"{sweep.name}: {description}" if description else str(sweep.name)
