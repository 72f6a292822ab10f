"""How the report writes numbers, in one place, so that the HTML, the Markdown, the
terminal and the W&B Report print the same value the same way.

Accuracies arrive as fractions in [0, 1]; anything missing, non-numeric, NaN or a
bool reads as "n/a" (a bool is a flag, never a number).
"""

from __future__ import annotations

import math
from pathlib import Path

from sslexp.runs.record import as_float

MISSING = "n/a"


def number(value) -> float:
    """A finite float from anything a record or a statistic holds, else NaN."""
    found = as_float(value)
    return math.nan if found is None else found


def finite(value) -> bool:
    return as_float(value) is not None


def optional_number(value) -> float | None:
    """A finite float, else None: what JSON (and a W&B table) can hold."""
    return as_float(value)


def percent_value(value) -> float:
    """A fraction as percent for a plot (NaN stays NaN, so the point is left out)."""
    return 100 * number(value)


def percent(value, digits: int = 2) -> str:
    """A fraction as percent: 0.8731 -> "87.31"."""
    return f"{100 * number(value):.{digits}f}" if finite(value) else MISSING


def points(value, signed: bool = False, digits: int = 2) -> str:
    """A difference of fractions in percentage points: 0.031 -> "+3.10" (signed)."""
    if not finite(value):
        return MISSING
    return f"{100 * number(value):{'+' if signed else ''}.{digits}f}"


def count(value) -> str:
    """A count with thousands separators: 1234.0 -> "1,234"."""
    return f"{number(value):,.0f}" if finite(value) else MISSING


def mean_std(mean, std) -> str:
    """Accuracy mean ± sample std over folds, in percent (just the mean with one fold)."""
    if not finite(mean):
        return MISSING
    return f"{percent(mean)} ± {percent(std)}" if finite(std) else percent(mean)


def p_value(value) -> str:
    """Three decimals, or two significant digits below 0.001."""
    if not finite(value):
        return MISSING
    return f"{value:.2g}" if value < 0.001 else f"{value:.3f}"


def ratio(value, bound: str = "") -> str:
    """A label-efficiency ratio, with the bound it is ("<= ", "> ") in front."""
    return f"{bound}{number(value):.2f}x" if finite(value) else MISSING


def shown_path(path, bases) -> str:
    """A path as the report shows it: relative to the first of ``bases`` (the sweep
    directory, the project) that holds it, else its name; never this machine's layout."""
    path = Path(path)
    for base in bases:
        try:
            return path.resolve().relative_to(Path(base).resolve()).as_posix() or "."
        except (ValueError, OSError):
            continue
    return path.name if path.is_absolute() else path.as_posix()


def without_machine_paths(text: str, bases) -> str:
    """``text`` with the absolute prefixes of ``bases`` (and the home directory) taken out,
    for messages that name files (a note on an unreadable record, a skipped picture)."""
    prefixes = {str(Path(base).resolve()): "" for base in bases}
    prefixes.update({str(Path(base)): "" for base in bases if Path(base).is_absolute()})
    prefixes.setdefault(str(Path.home()), "~/")
    for prefix in sorted(prefixes, key=len, reverse=True):
        if prefix not in ("", "/"):
            text = text.replace(prefix + "/", prefixes[prefix])
    return text
