"""Statistics against values worked out by hand (closed forms for 2 degrees of freedom)."""

import math

import pytest

from sslexp.report.stats import describe, label_efficiency, labels_to_reach, paired_difference

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


def test_labels_to_reach_interpolates_in_log_labels():
    # target 0.72 lies 2/3 of the way from 0.62 (50 labels) to 0.77 (150 labels):
    # log L = log 50 + (2/3) log 3, so L = 50 * 3^(2/3)
    labels, bound = labels_to_reach(0.72, [50, 150, 500], [0.62, 0.77, 0.91])
    assert bound == "interpolated"
    assert labels == pytest.approx(50 * 3 ** (2 / 3))


def test_label_efficiency_ratio_is_relative_to_the_labels_ssl_used():
    efficiency = label_efficiency(0.72, 50, [500, 50, 150], [0.91, 0.62, 0.77])  # unsorted input
    assert efficiency.bound == "interpolated"
    assert efficiency.ratio == pytest.approx(3 ** (2 / 3))


def test_labels_to_reach_above_every_scratch_point_is_more_than_max():
    assert labels_to_reach(0.95, [50, 150, 500], [0.62, 0.77, 0.91]) == (500.0, "more_than")


def test_labels_to_reach_below_the_first_point_is_at_most_min():
    assert labels_to_reach(0.55, [50, 150, 500], [0.62, 0.77, 0.91]) == (50.0, "at_most")


def test_labels_to_reach_uses_the_first_crossing_of_a_non_monotone_curve():
    labels, bound = labels_to_reach(0.75, [10, 100, 1000], [0.6, 0.8, 0.7])
    assert bound == "interpolated"
    # 0.75 is 3/4 of the way from 0.6 to 0.8 -> 10 * 10^(3/4)
    assert labels == pytest.approx(10 * 10 ** 0.75)


def test_label_efficiency_without_a_curve_or_target_is_unknown():
    assert label_efficiency(0.7, 50, [], []).bound == "unknown"
    assert label_efficiency(float("nan"), 50, [50], [0.6]).bound == "unknown"
