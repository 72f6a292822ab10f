"""Budgets in updates: the validation interval, the stopping rules, what the record says."""

import pytest

from sslexp.config import AUTO_EVAL_EVERY, TrainConfig
from sslexp.training.budget import budget_for, budget_summary


def history(epochs: int) -> list[dict]:
    return [{"epoch": epoch} for epoch in range(1, epochs + 1)]


def test_automatic_validation_interval_is_one_pass_clipped():
    low, high = AUTO_EVAL_EVERY
    assert budget_for(TrainConfig(batch_size=32), 48).eval_every == low  # 2 batches of data
    assert budget_for(TrainConfig(batch_size=32), 32 * (low + 5)).eval_every == low + 5
    assert budget_for(TrainConfig(batch_size=32), 10**6).eval_every == high
    assert budget_for(TrainConfig(eval_every=7), 10**6).eval_every == 7
    assert budget_for(TrainConfig(eval_every=500, max_updates=100), 10).eval_every == 100


def test_converged_budget_counts_patience_in_validations():
    budget = budget_for(TrainConfig(max_updates=1000, patience=250, eval_every=100), 1000)
    assert (budget.epochs, budget.patience_epochs) == (10, 3)
    matched = budget_for(TrainConfig(budget="matched", max_updates=250, eval_every=100), 1000)
    assert (matched.epochs, matched.patience_epochs) == (3, None)
    assert matched.updates_after(3) == 250  # the last epoch is cut short


def test_a_run_still_improving_at_its_cap_is_flagged():
    budget = budget_for(TrainConfig(max_updates=500, patience=200, eval_every=100), 1000)
    at_cap = budget_summary(budget, history(5), best_epoch=5)
    assert at_cap["cap_hit"] is True and at_cap["stopped_by"] == "cap"
    assert (at_cap["updates"], at_cap["best_update"]) == (500, 500)
    plateaued = budget_summary(budget, history(5), best_epoch=3)
    assert plateaued["cap_hit"] is False and plateaued["stopped_by"] == "cap"
    stopped = budget_summary(budget, history(4), best_epoch=2)
    assert stopped["cap_hit"] is False and stopped["stopped_by"] == "patience"
    assert stopped["updates"] == 400
    # best at update 200 of 400: half the budget came after the kept weights
    assert (stopped["updates_after_best"], stopped["share_after_best"]) == (200, 0.5)
    assert (at_cap["updates_after_best"], at_cap["share_after_best"]) == (0, 0.0)


def test_without_validation_nobody_can_tell_whether_the_cap_was_hit():
    config = TrainConfig(budget="matched", select="last", max_updates=300, eval_every=100)
    summary = budget_summary(budget_for(config, 100), history(3), best_epoch=3)
    assert summary["cap_hit"] is None and summary["select"] == "last"


@pytest.mark.parametrize("field, value", [("budget", "converged"), ("select", "best")])
def test_defaults_are_the_trustworthy_rules(field, value):
    assert getattr(TrainConfig(), field) == value
