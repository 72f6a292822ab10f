"""The verdict: sentences computed from the numbers, claiming only what Holm's test gives."""

import math

import pytest

from sslexp.report.comparison import Comparison, FractionRow
from sslexp.report.stats import LabelEfficiency, describe, fold_blocked_test, paired_difference
from sslexp.report.verdict import RunFacts, verdict, warnings

NO_FACTS = RunFacts(cap_hit=[], noisy_validation={}, without_validation=0,
                    pretrain_still_improving=[])


def row(fraction: float, labels: float, ssl, scratch, holm_p: float) -> FractionRow:
    return FractionRow(
        fraction, describe([labels]), {"ssl": describe(ssl), "scratch": describe(scratch)},
        {"ssl": labels, "scratch": labels},
        {"ssl": dict(enumerate(ssl)), "scratch": dict(enumerate(scratch))},
        paired_difference(ssl, scratch), LabelEfficiency(math.nan, math.nan, "unknown", math.nan),
        holm_p=holm_p)


def test_a_significant_gain_is_stated_with_its_interval_and_where_it_ends():
    rows = [row(0.01, 60, [0.70, 0.73, 0.73], [0.60, 0.62, 0.64], 0.0099),
            row(0.1, 600, [0.80, 0.83, 0.83], [0.79, 0.83, 0.81], 0.4),
            row(1.0, 6000, [0.91, 0.93, 0.92], [0.90, 0.93, 0.92], 0.6)]
    (sentence,) = verdict(Comparison(rows))
    assert sentence.startswith("ssl beats scratch by 10.0 points at 60 labels (95% CI [+7.5, ")
    assert "Holm-adjusted p = 0.0099" in sentence
    assert ("3 of 3 folds positive (exact sign test p = 0.25), so this rests on the t-test's "
            "normality") in sentence
    assert sentence.endswith("no significant difference from 600 labels on.")


@pytest.mark.parametrize("holm_p", [0.05, 0.08, 0.5])
def test_no_significance_is_claimed_at_an_adjusted_p_of_005_or_more(holm_p):
    rows = [row(0.01, 60, [0.70, 0.73, 0.73], [0.60, 0.62, 0.64], holm_p),
            row(0.1, 600, [0.80, 0.83, 0.83], [0.79, 0.83, 0.81], 1.0)]
    (sentence,) = verdict(Comparison(rows))
    assert "beats" not in sentence
    assert sentence.startswith("No label fraction shows a significant difference")
    assert f"smallest adjusted p = {holm_p:.2g}" in sentence


def test_adjusted_p_values_that_are_all_1_are_said_so():
    rows = [row(0.01, 60, [0.70, 0.73, 0.73], [0.60, 0.62, 0.64], 1.0),
            row(0.1, 600, [0.80, 0.83, 0.83], [0.79, 0.83, 0.81], 1.0)]
    (sentence,) = verdict(Comparison(rows))
    assert "(all Holm-adjusted p = 1.00; at 60 labels: ssl - scratch = +" in sentence
    assert "smallest" not in sentence


def test_the_pooled_low_label_test_counts_folds_as_its_units_with_their_floor():
    rows = [row(0.01, 60, [0.70, 0.73, 0.73], [0.60, 0.62, 0.64], 0.2)]
    blocked = fold_blocked_test({0: [0.1, 0.12], 1: [0.11, 0.13], 2: [0.09, 0.07]})
    sentences = verdict(Comparison(rows, blocked, [0.01], 100))
    assert len(sentences) == 2
    assert sentences[1] == ("Pooled over the low-label fractions (0.01: at most 100 labels per "
                            "class) and blocked by fold, ssl - scratch = +10.3 points over 3 "
                            "independent folds (6 fold pairs; exact sign-flip p = 0.25, the "
                            "smallest 3 folds allow being 0.25; not significant).")


def test_five_folds_warn_that_no_exact_test_can_reach_significance():
    five = [0.70, 0.73, 0.73, 0.74, 0.71]
    rows = [row(0.01, 60, five, [a - 0.1 for a in five], 0.001)]
    found = warnings(Comparison(rows), NO_FACTS)
    assert found == ["With 5 fold(s) no exact distribution-free test can reach p < 0.05: its "
                     "smallest two-sided p is 2/2^5 = 0.0625. Per-fraction significance rests "
                     "on the t-test's normality and the fold-blocked pooled test cannot be "
                     "significant; run at least 6 folds (8 for p < 0.01)."]
    six = [*five, 0.72]
    assert warnings(Comparison([row(0.01, 60, six, [a - 0.1 for a in six], 0.001)]),
                    NO_FACTS) == []


def test_warnings_name_capped_runs_few_pairs_and_noisy_validation():
    rows = [row(0.01, 60, [0.70, 0.73], [0.60, 0.62], 0.2)]
    facts = RunFacts(cap_hit=["scratch-p0.01-fold0"], noisy_validation={0.01: 1.0},
                     without_validation=0, pretrain_still_improving=["pretrain-a"])
    found = warnings(Comparison(rows), facts)
    assert "scratch-p0.01-fold0" in found[0] and "--max-updates" in found[0]
    assert "Fewer than 3 fold pairs at label fraction(s) 0.01 (2)" in found[1]
    assert "0.01 (1 per class)" in found[2] and "fewer than 5 validation images" in found[2]
    assert "With 2 fold(s) no exact distribution-free test" in found[3]
    assert "pretrain-a" in found[4]
