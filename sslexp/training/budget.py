"""Training budgets counted in optimizer updates, the same rule for ssl and scratch.

``converged``: train until the validation loss has not improved for ``patience``
updates, at most ``max_updates``. ``matched``: exactly ``max_updates`` updates.
Keras counts in epochs, so an epoch here is ``eval_every`` updates (the data
repeats within it) followed by one validation; the last epoch is cut short
so that no run trains past ``max_updates``. Imports Keras, like the rest of
``sslexp.training``; the command line imports training only when a command trains.
"""

from __future__ import annotations

import dataclasses
import math

import keras

from sslexp.config import AUTO_EVAL_EVERY, TrainConfig

MONITOR = "val_loss"  # what early stopping and the selected epoch go by


@dataclasses.dataclass(frozen=True)
class Budget:
    rule: str  # converged | matched
    select: str  # best | last
    eval_every: int
    max_updates: int
    patience: int | None  # updates; None for a matched budget

    @property
    def epochs(self) -> int:
        """Validations (Keras epochs) needed to reach ``max_updates``."""
        return math.ceil(self.max_updates / self.eval_every)

    @property
    def patience_epochs(self) -> int | None:
        return None if self.patience is None else math.ceil(self.patience / self.eval_every)

    def updates_after(self, epochs_run: int) -> int:
        return min(epochs_run * self.eval_every, self.max_updates)


def eval_interval(config: TrainConfig, n_train: int) -> int:
    """``eval_every``, or one pass over the training images clipped to ``AUTO_EVAL_EVERY``:
    tiny subsets are not validated after every update, large ones still often enough
    for patience to count in small steps."""
    if config.eval_every:
        return config.eval_every
    one_pass = math.ceil(n_train / config.batch_size)
    low, high = AUTO_EVAL_EVERY
    return min(max(one_pass, low), high)


def budget_for(config: TrainConfig, n_train: int) -> Budget:
    eval_every = min(eval_interval(config, n_train), config.max_updates)
    patience = config.patience if config.budget == "converged" else None
    return Budget(config.budget, config.select, eval_every, config.max_updates, patience)


def budget_callbacks(budget: Budget) -> list:
    """Early stopping on the validation loss (converged) and the exact update cap (both)."""
    callbacks = [UpdateCap(budget)]
    if budget.patience_epochs is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=MONITOR, mode="min", patience=budget.patience_epochs
            )
        )
    return callbacks


class UpdateCap(keras.callbacks.Callback):
    """Stops training after exactly ``max_updates`` updates, mid-epoch if need be (Keras
    still validates the shortened last epoch). Counts from the epoch index, so a run
    resumed by BackupAndRestore counts right."""

    def __init__(self, budget: Budget):
        super().__init__()
        self.budget = budget
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch * self.budget.eval_every + batch + 1 >= self.budget.max_updates:
            self.model.stop_training = True


def budget_summary(budget: Budget, history: list[dict], best_epoch: int | None) -> dict:
    """How the budget was spent, as the record's ``training`` states it.

    ``cap_hit``: the run trained all ``max_updates`` and its best validation was its
    last one, so it was still improving when the cap stopped it (None without
    validation, where nobody can tell).
    """
    epochs_run = len(history)
    updates = budget.updates_after(epochs_run)
    validated = budget.select == "best"
    reached_cap = updates >= budget.max_updates
    cap_hit = (reached_cap and best_epoch == epochs_run) if validated and epochs_run else None
    best_update = budget.updates_after(best_epoch) if best_epoch else None
    if budget.rule == "matched" or reached_cap:
        stopped_by = "cap"
    else:
        stopped_by = "patience"
    return {
        "budget": budget.rule,
        "select": budget.select,
        "eval_every": budget.eval_every,
        "steps_per_epoch": budget.eval_every,
        "max_updates": budget.max_updates,
        "patience": budget.patience,
        "epochs_run": epochs_run,
        "max_epochs": budget.epochs,
        "updates": updates,
        "best_update": best_update,
        # updates trained after the kept weights: spent for nothing but the search
        "updates_after_best": updates - best_update if best_update is not None else None,
        "share_after_best": (
            (updates - best_update) / updates if best_update is not None and updates else None
        ),
        "stopped_by": stopped_by,
        "cap_hit": cap_hit,
    }
