"""The data cache: whatever is wrong with an entry, it is moved aside and rebuilt, with
one warning line."""

import numpy as np
import pytest

from sslexp.data import load_dataset


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def garbage(path):
    path.write_bytes(b"\x00garbage" * 100)


def empty(path):
    path.write_bytes(b"")


def without_labels(path):
    with np.load(path) as data:
        kept = {key: data[key] for key in data.files if key != "pool_labels"}
    np.savez(path.with_suffix(""), **kept)  # np.savez appends .npz


def mismatched_lengths(path):
    with np.load(path) as data:
        kept = {key: data[key] for key in data.files}
    kept["pool_labels"] = kept["pool_labels"][:5]
    np.savez(path.with_suffix(""), **kept)


@pytest.mark.parametrize(
    "damage",
    [truncate, garbage, empty, without_labels, mismatched_lengths],
    ids=lambda f: f.__name__,
)
def test_a_damaged_cache_entry_is_moved_aside_and_rebuilt(tmp_path, capfd, damage):
    first = load_dataset("digits", 8, tmp_path)
    (entry,) = tmp_path.glob("digits-8px-*.npz")
    damage(entry)
    capfd.readouterr()

    again = load_dataset("digits", 8, tmp_path)
    warnings = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert len(warnings) == 1 and warnings[0].startswith("warning:"), warnings
    assert entry.name in warnings[0] and "rebuilt" in warnings[0]
    assert again.fingerprint == first.fingerprint
    assert np.array_equal(again.pool_labels, first.pool_labels)
    (aside,) = tmp_path.glob(f"{entry.name}.broken*")
    assert aside.read_bytes() != entry.read_bytes()

    capfd.readouterr()
    load_dataset("digits", 8, tmp_path)  # the rebuilt entry is good: silent
    assert capfd.readouterr().err.strip() == ""
