"""How much unlabelled data is needed, on synthetic volume sweeps whose answer is known."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from sslexp.report.collect import PretrainRun
from sslexp.report.volume import answer_volumes, fold_gains, recorded_pretext_updates
from sslexp.report.volume_text import section, sentence
from sslexp.runs.record import Record
from tests.report.volume_factory import (
    FOLDS,
    LABELS,
    SHARES,
    noise,
    plateau,
    rising,
    run,
    volume_sweep,
)


def test_the_answer_is_the_first_volume_of_the_plateau():
    answer = answer_volumes(volume_sweep(plateau))
    assert answer.sufficient == 0.15
    assert answer.units == 6 and answer.gains.left_out == []
    assert [row.below for row in answer.rows[:-1]] == [True, True, False, False]
    # 3,750 images fall 3 points short at every fold: of 2^6 sign patterns, only all-plus
    assert answer.row(0.0625).difference.mean == pytest.approx(0.03)
    assert answer.row(0.0625).test.p_value == pytest.approx(1 / 64)
    assert answer.row(0.15).test.p_value > 0.4  # shortfalls of -0.3, +0.6, -0.3 ... points
    assert answer.row(1.0).gain == pytest.approx(0.05)
    text = sentence(answer)
    assert text.startswith(
        "With 640 pretext updates at every volume, pretraining on 9,000 unlabelled images "
        "already gives a gain not significantly below the whole pool's (60,000 images: "
        "+5.0 points at 60-300 labels; 9,000: +5.0, shortfall +0.0 points, 95% CI ["
    )
    assert "one-sided sign-flip p = " in text and "over 6 folds)" in text
    assert "each doubling of the unlabelled images adds +" in text
    assert text.endswith("over 6 folds.")


def test_a_gain_that_keeps_rising_needs_the_whole_pool():
    answer = answer_volumes(volume_sweep(rising))
    assert answer.sufficient == 1.0
    assert all(row.below for row in answer.rows[:-1])
    text = sentence(answer)
    assert "the whole pool is needed: 24,000 unlabelled images give a gain significantly " in text
    assert "(60,000 images: +8.0 points at 60-300 labels; 24,000: +6.0, shortfall +2.0" in text
    assert "one-sided sign-flip p = 0.0156 over 6 folds" in text  # 1/64


def test_a_volume_below_the_largest_stops_the_descent_even_if_a_smaller_one_is_not():
    # 24,000 images are 2 points short at every fold; 9,000 (noise only) would pass alone
    gains = {0.025: 0.0, 0.0625: 0.0, 0.15: 0.05, 0.4: 0.03, 1.0: 0.05}
    answer = answer_volumes(volume_sweep(lambda s, f, k: gains[s] + noise(s, k)))
    assert not answer.row(0.15).below and answer.row(0.4).below
    assert answer.sufficient == 1.0


def test_the_gain_per_doubling_is_recovered_on_exact_linear_data():
    # 60 labels gain 1 point per doubling, 300 labels 0.4; each fold's slope is offset
    def linear(share, fraction, fold):
        slope = (0.010 if fraction == 0.001 else 0.004) + 0.001 * (fold - 2.5)
        return 0.01 + slope * math.log2(share / SHARES[0])

    answer = answer_volumes(volume_sweep(linear))
    slopes = 0.007 + 0.001 * (np.array(FOLDS) - 2.5)
    assert list(answer.doubling.slopes.values()) == pytest.approx(slopes)
    estimate = answer.doubling.estimate
    half = scipy_stats.t.ppf(0.975, 5) * slopes.std(ddof=1) / math.sqrt(6)
    assert (estimate.mean, estimate.ci_low, estimate.ci_high) == pytest.approx(
        (0.007, 0.007 - half, 0.007 + half)
    )
    assert estimate.p_value == pytest.approx(scipy_stats.ttest_1samp(slopes, 0).pvalue)
    assert answer.per_fraction[0.001].estimate.mean == pytest.approx(0.010)
    assert answer.per_fraction[0.005].estimate.mean == pytest.approx(0.004)
    assert "each doubling of the unlabelled images adds +0.7 points (95% CI [+0.5, +0.9]" in (
        sentence(answer)
    )
    assert "0.001 (60 labels): +1.00" in section(answer)["doubling"]


def test_too_few_folds_to_reach_alpha_say_their_floor():
    answer = answer_volumes(volume_sweep(rising, folds=(0, 1, 2, 3)))
    assert answer.units == 4 and answer.floor == pytest.approx(1 / 16)
    # every fold falls short at every volume, yet 1/16 is the smallest one-sided p
    assert not any(row.below for row in answer.rows) and answer.sufficient is None
    text = sentence(answer)
    assert (
        "With 640 pretext updates at every volume, 4 folds are too few to find any volume's "
        "gain below the whole pool's (a one-sided exact p cannot go below 1/2^4 = 0.0625; "
        "60,000 images: +8.0 points at 60-300 labels; 1,500: -0.1, shortfall +8.1 points, "
        "95% CI [+7.4, +8.8], one-sided sign-flip p = 0.0625 over 4 folds); "
    ) in text
    assert "1/2^4 = 0.0625" in section(answer)["method"]


def test_a_fold_with_missing_runs_is_left_out_of_every_number():
    runs = [
        r
        for r in volume_sweep(plateau)
        if not (
            r.method == "ssl" and r.fold == 3 and r.config["pretext_unlabeled_fraction"] == 0.15
        )
    ]
    runs += [run("scratch", fraction, 7, 0.5) for fraction in LABELS]  # baseline-only fold
    gains = fold_gains(runs)
    assert gains.folds == [0, 1, 2, 4, 5] and gains.left_out == [3]
    answer = answer_volumes(runs)
    assert all(row.test.n_pairs == 5 for row in answer.rows[:-1])
    assert answer.row(0.0625).test.p_value == pytest.approx(1 / 32)
    assert answer.sufficient == 0.15
    assert sentence(answer).endswith("over 5 folds (fold 3 left out: runs missing).")
    assert "Left out for missing runs: fold 3." in section(answer)["method"]


def test_volumes_run_by_epochs_say_so_and_the_updates_they_recorded():
    runs = volume_sweep(plateau, updates=0)
    text = sentence(answer_volumes(runs))
    assert text.startswith(
        "With the same number of pretext epochs (4) at every volume, not the same number of "
        "updates (how many updates each volume got is not recorded), pretraining on"
    )
    pretrains = [
        PretrainRun(
            None,
            None,
            Record(kind="pretrain", state="finished", training={"updates": round(share * 1000)}),
            [r.run_id for r in runs if r.config.get("pretext_unlabeled_fraction") == share],
        )
        for share in SHARES
    ]
    answer = answer_volumes(runs, recorded_updates=recorded_pretext_updates(pretrains))
    assert "(recorded updates: 25 at 1,500 images, 62 at 3,750 images," in sentence(answer)
    assert section(answer)["rows"][0]["pretext updates"] == "25 (recorded; same epochs)"
    assert not answer.compute.matched


def test_the_table_has_a_row_per_volume_with_its_verdict():
    rows = section(answer_volumes(volume_sweep(plateau)))["rows"]
    assert [row["unlabelled images"] for row in rows] == [
        "1,500",
        "3,750",
        "9,000",
        "24,000",
        "60,000",
    ]
    assert [row["verdict"] for row in rows] == [
        "below",
        "below",
        "not significantly below",
        "not significantly below",
        "reference (largest)",
    ]
    assert rows[1]["shortfall vs largest (pp)"] == "+3.00"
    assert rows[1]["one-sided sign-flip p"] == "0.0156"  # 1/64
    assert {row["pretext updates"] for row in rows} == {"640"}


def test_no_answer_without_a_second_volume_and_none_yet_without_a_complete_fold():
    one_share = [
        r
        for r in volume_sweep(plateau)
        if r.config.get("pretext_unlabeled_fraction") in (None, 1.0)
    ]
    assert answer_volumes(one_share) is None
    no_scratch = [r for r in volume_sweep(plateau) if r.method == "ssl"]
    answer = answer_volumes(no_scratch)
    assert answer.units == 0 and answer.sufficient is None
    assert sentence(answer).startswith("How much unlabelled data is needed cannot be answered")


def test_without_the_whole_pool_the_reference_is_the_largest_volume_tested():
    runs = [r for r in volume_sweep(plateau) if r.config.get("pretext_unlabeled_fraction") != 1.0]
    answer = answer_volumes(runs)
    assert answer.gains.volumes[-1] == 0.4 and answer.sufficient == 0.15
    assert "a gain not significantly below the largest volume's (24,000 images: +5.0" in (
        sentence(answer)
    )
