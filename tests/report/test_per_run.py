"""Each arm's settings and where they came from; the CPU beside every result."""

from sslexp.report.collect import SweepRun
from sslexp.report.per_run import arm_rows
from sslexp.runs.provenance import cpu
from sslexp.runs.record import Record
from sslexp.tuning import write_winners


def finished(method: str, **config) -> SweepRun:
    record = Record(kind="train", state="finished", test={"accuracy": 0.7})
    values = {"method": method, "label_fraction": 0.01, "fold": 0, **config}
    return SweepRun(f"{method}-run", None, "finished", values, record)


def test_each_arm_shows_its_tuned_settings_and_the_rule_that_chose_them(tmp_path):
    winners = write_winners(
        tmp_path / "winners.yaml",
        {
            "chosen_by": "highest mean validation accuracy on tuning fold 10 of 11",
            "methods": {
                "ssl": {"lr": 0.002, "augment": False, "weight_decay": 0.0},
                "scratch": {"lr": 0.006, "augment": True, "weight_decay": 0.05},
            },
        },
    )
    rows = arm_rows(
        [
            finished("ssl", lr=0.002, augment=False, weight_decay=0.0, tuned=str(winners)),
            finished("scratch", lr=0.006, augment=True, weight_decay=0.05, tuned=str(winners)),
        ]
    )
    ssl, scratch = rows
    assert (scratch["lr"], scratch["augment"], scratch["weight decay"]) == ("0.006", "True", "0.05")
    assert scratch["how chosen"] == (
        f"tuned: {winners}, highest mean validation accuracy on tuning fold 10 of 11"
    )
    assert ssl["lr"] == "0.002"
    untuned = arm_rows(
        [finished("scratch", lr=0.001, augment=False, weight_decay=0.0, tuned="gone.yaml")]
    )
    assert untuned[0]["how chosen"] == "tuned: gone.yaml (not readable here)"


def test_the_cpu_is_named_by_its_widest_vector_extension():
    info = "processor\t: 0\nmodel name\t: Example Xeon\nflags\t\t: fpu sse4_2 avx avx2 avx512f\n"
    assert cpu(info)["model"] == "Example Xeon" and cpu(info)["instruction_set"] == "AVX-512"
    assert cpu("model name : Old\nflags : sse4_2\n")["instruction_set"] == "SSE4.2"


def test_the_cores_recorded_are_those_the_process_may_use():
    import os

    assert cpu("")["cores"] == len(os.sched_getaffinity(0))
