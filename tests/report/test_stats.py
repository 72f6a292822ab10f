"""Statistics against values worked out by hand (closed forms for 2 degrees of freedom)."""

import math

import numpy as np
import pytest

from sslexp.report.stats import (
    bootstrap_label_efficiency,
    can_reach,
    describe,
    exact_p_floor,
    fold_blocked_test,
    holm_adjusted,
    label_efficiency,
    labels_to_reach,
    paired_difference,
    sign_flip_test,
    sign_test,
    too_few_pairs,
)

SSL = [0.70, 0.73, 0.73]
SCRATCH = [0.60, 0.62, 0.64]


def test_describe_gives_mean_sample_std_and_range():
    spread = describe(SSL)
    assert spread.n == 3
    assert spread.mean == pytest.approx(0.72)
    # deviations -0.02, 0.01, 0.01 -> squares sum to 0.0006, over n-1=2 -> 0.0003
    assert spread.std == pytest.approx(math.sqrt(0.0003))
    assert (spread.min, spread.max) == (0.70, 0.73)


def test_describe_of_one_value_has_no_std_and_of_none_has_no_mean():
    assert math.isnan(describe([0.5]).std)
    assert describe([0.5]).mean == 0.5
    empty = describe([])
    assert empty.n == 0 and math.isnan(empty.mean)


def test_paired_difference_matches_hand_computed_interval_and_p_value():
    result = paired_difference(SSL, SCRATCH)
    # differences 0.10, 0.11, 0.09: mean 0.10, sample std 0.01, n = 3
    assert result.n_pairs == 3
    assert result.mean == pytest.approx(0.10)
    assert result.std == pytest.approx(0.01)
    # t(0.975, df=2): the t cdf with 2 df is 1/2 + t / (2 sqrt(2 + t^2)), so t^2 = 1.805 / 0.0975
    t_critical = math.sqrt(1.805 / 0.0975)
    half_width = t_critical * 0.01 / math.sqrt(3)
    assert result.ci_low == pytest.approx(0.10 - half_width)
    assert result.ci_high == pytest.approx(0.10 + half_width)
    # t = 0.10 / (0.01 / sqrt 3) = 10 sqrt 3, t^2 = 300; two-sided p = 1 - t / sqrt(2 + t^2)
    assert result.t_statistic == pytest.approx(10 * math.sqrt(3))
    assert result.p_value == pytest.approx(1 - math.sqrt(300 / 302))


def test_paired_difference_needs_two_pairs_for_interval_and_test():
    single = paired_difference([0.8], [0.7])
    assert single.n_pairs == 1
    assert single.mean == pytest.approx(0.1)
    assert math.isnan(single.ci_low) and math.isnan(single.ci_high) and math.isnan(single.p_value)
    none = paired_difference([], [])
    assert none.n_pairs == 0 and math.isnan(none.mean)


def test_paired_difference_rejects_unpaired_lengths():
    with pytest.raises(ValueError, match="same length"):
        paired_difference([0.1, 0.2], [0.1])


def test_labels_to_reach_between_two_points_is_the_straight_line_in_log_labels():
    # PCHIP through two points is the line: target 0.72 lies 2/3 of the way from 0.62
    # (50 labels) to 0.77 (150 labels): log L = log 50 + (2/3) log 3, so L = 50 * 3^(2/3)
    labels, bound = labels_to_reach(0.72, [50, 150], [0.62, 0.77])
    assert bound == "interpolated"
    assert labels == pytest.approx(50 * 3 ** (2 / 3))


def test_labels_to_reach_follows_a_bending_curve_below_the_straight_line():
    # A scratch curve that rises steeply, then flattens (concave in log labels): the
    # monotone cubic lies above its chords, so it reaches a target with fewer labels
    # than the straight line between the two points around the crossing.
    labels, accuracies = [60, 300, 1200], [0.66, 0.74, 0.77]
    curved, bound = labels_to_reach(0.70, labels, accuracies)
    straight = 60 * 5**0.5  # 0.70 is halfway from 0.66 to 0.74 in log labels
    assert bound == "interpolated"
    assert 60 < curved < straight


def test_labels_to_reach_through_a_monotone_fit_keeps_every_crossing_one():
    # Isotonic regression pools the dip [0.8, 0.7] into 0.75 at 100 and 1000 labels, so
    # the fitted curve reaches 0.75 exactly at 100 labels and stays there.
    assert labels_to_reach(0.75, [10, 100, 1000], [0.6, 0.8, 0.7]) == (100.0, "interpolated")


def test_label_efficiency_ratio_is_relative_to_the_labels_ssl_used():
    efficiency = label_efficiency(0.72, 50, [150, 50], [0.77, 0.62])  # unsorted input
    assert efficiency.bound == "interpolated"
    assert efficiency.ratio == pytest.approx(3 ** (2 / 3))


def test_labels_to_reach_above_every_scratch_point_is_more_than_max():
    assert labels_to_reach(0.95, [50, 150, 500], [0.62, 0.77, 0.91]) == (500.0, "more_than")


def test_labels_to_reach_below_the_first_point_is_at_most_min():
    assert labels_to_reach(0.55, [50, 150, 500], [0.62, 0.77, 0.91]) == (50.0, "at_most")


def test_label_efficiency_without_a_curve_or_target_is_unknown():
    assert label_efficiency(0.7, 50, [], []).bound == "unknown"
    assert label_efficiency(float("nan"), 50, [50], [0.6]).bound == "unknown"


def test_holm_adjustment_equals_a_hand_computation():
    # sorted: 0.005 (x4 = 0.02), 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04 -> 0.06,
    # never below the one before); NaN (too few pairs) stays NaN and does not count in m
    adjusted = holm_adjusted([0.01, 0.04, 0.03, float("nan"), 0.005])
    assert adjusted[:3] == pytest.approx([0.03, 0.06, 0.06])
    assert math.isnan(adjusted[3]) and adjusted[4] == pytest.approx(0.02)
    assert holm_adjusted([0.6, 0.5]) == pytest.approx([1.0, 1.0])  # capped at 1


def test_sign_flip_test_is_exact_for_few_pairs():
    # 3 positive differences: of the 8 sign patterns only all-plus and all-minus reach |mean|
    result = sign_flip_test([0.1, 0.2, 0.3])
    assert result.exact and result.n_pairs == 3
    assert result.mean == pytest.approx(0.2) and result.p_value == pytest.approx(2 / 8)
    # |d| = 0.1, 0.2, 0.3, 0.05, observed sum 0.25; the 16 signed sums are +-0.65, +-0.55,
    # +-0.45, +-0.35, +-0.25, +-0.15, +-0.05 (twice): 10 of them reach |0.25|
    assert sign_flip_test([0.1, -0.2, 0.3, 0.05]).p_value == pytest.approx(10 / 16)
    assert sign_flip_test([]).n_pairs == 0 and sign_flip_test([0.0, 0.0]).p_value == 1.0
    assert sign_flip_test([0.3]).p_value == 1.0 and sign_flip_test([0.3]).mean == 0.3


def test_a_one_sided_sign_flip_test_counts_only_the_tested_side():
    # 3 positive differences: only the all-plus pattern reaches the mean, 1 of 8
    greater = sign_flip_test([0.1, 0.2, 0.3], alternative="greater")
    assert greater.p_value == pytest.approx(1 / 8) and greater.alternative == "greater"
    assert sign_flip_test([0.1, 0.2, 0.3], alternative="less").p_value == pytest.approx(1.0)
    # signed sums of |0.1|, |0.2|, |0.3|, |0.05| at or above the observed 0.25: 5 of 16
    assert sign_flip_test([0.1, -0.2, 0.3, 0.05], alternative="greater").p_value == (
        pytest.approx(5 / 16)
    )
    assert sign_flip_test([0.3], alternative="greater").p_value == 0.5  # +0.3 or -0.3
    assert sign_flip_test([-0.3], alternative="greater").p_value == 1.0
    assert sign_flip_test([0.0, 0.0], alternative="greater").p_value == 1.0
    assert sign_flip_test([0.1, 0.2, 0.3]).alternative == "two-sided"
    with pytest.raises(ValueError, match="alternative"):
        sign_flip_test([0.1, 0.2], alternative="above")


def test_sign_flip_test_samples_when_pairs_are_many():
    result = sign_flip_test([0.01 * k for k in range(1, 21)], resamples=2000)
    assert not result.exact and result.p_value < 0.01


def test_label_efficiency_interval_brackets_the_estimate():
    ssl = {0: 0.70, 1: 0.73, 2: 0.73}
    scratch_curve = [
        (50, {0: 0.60, 1: 0.62, 2: 0.64}),
        (150, {0: 0.75, 1: 0.77, 2: 0.79}),
        (500, {0: 0.90, 1: 0.91, 2: 0.92}),
    ]
    interval = bootstrap_label_efficiency(ssl, 50, scratch_curve, resamples=500)
    estimate = label_efficiency(0.72, 50, [50, 150, 500], [0.62, 0.77, 0.91]).ratio
    assert interval.low <= estimate <= interval.high
    assert 1 < interval.low and interval.high < 3  # 50 to 150 labels: between 1x and 3x
    assert math.isnan(bootstrap_label_efficiency({0: 0.7}, 50, scratch_curve).low)


def test_fewer_than_three_pairs_is_flagged():
    assert too_few_pairs(2) and not too_few_pairs(3)


def test_the_exact_floor_with_five_folds_is_two_in_thirty_two():
    # 2^5 = 32 sign patterns; only all-plus and all-minus reach the mean of five positive
    # differences, so the smallest two-sided p is 2/32 = 0.0625, above 0.05.
    assert exact_p_floor(5) == pytest.approx(0.0625)
    assert exact_p_floor(10) == pytest.approx(2 / 1024)
    assert not can_reach(0.05, 5) and can_reach(0.01, 10)
    # one-sided, only the all-plus pattern: 1/2^5 = 0.03125 reaches 0.05, 1/2^4 does not
    assert exact_p_floor(5, one_sided=True) == pytest.approx(1 / 32)
    assert can_reach(0.05, 5, one_sided=True) and not can_reach(0.05, 4, one_sided=True)
    assert exact_p_floor(0, one_sided=True) == 1.0


def test_the_blocked_test_flips_whole_folds_not_pairs():
    # Five folds, each positive at two fractions: ten pairs, but five units. Pair-level
    # flipping would give 2/2^10; fold means give 2/2^5 = 0.0625.
    by_fold = {fold: [0.05 + 0.01 * fold, 0.02 + 0.001 * fold] for fold in range(5)}
    result = fold_blocked_test(by_fold)
    assert (result.units, result.pairs) == (5, 10)
    assert result.p_value == pytest.approx(0.0625) and result.p_floor == pytest.approx(0.0625)
    assert result.fold_means[0] == pytest.approx(0.035)
    assert result.mean == pytest.approx(np.mean([0.035 + 0.0055 * fold for fold in range(5)]))
    assert sign_flip_test(
        [d for values in by_fold.values() for d in values]
    ).p_value == pytest.approx(2 / 2**10)


def test_the_sign_test_counts_positive_folds_with_its_exact_p():
    result = sign_test([0.1, 0.2, 0.05, 0.3, 0.01])
    # all 5 positive: P(5 heads) + P(0 heads) = 2 / 32
    assert (result.positive, result.negative, result.ties) == (5, 0, 0)
    assert result.p_value == pytest.approx(0.0625)
    assert result.statement() == "5 of 5 folds positive (exact sign test p = 0.0625)"
    mixed = sign_test([0.1, -0.2, 0.0, 0.3])
    # 2 of 3 nonzero positive: two-sided binomial p = 1 (every outcome is as likely or less)
    assert (mixed.positive, mixed.negative, mixed.ties) == (2, 1, 1)
    assert mixed.p_value == pytest.approx(1.0)
    assert mixed.statement().startswith("2 of 3 folds positive, 1 tied")
