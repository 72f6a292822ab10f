"""Errors the user can act on: which option, what was wrong, what is allowed."""

from __future__ import annotations


class InputError(ValueError):
    """Bad input detected before or while loading data or models.

    ``option`` is a config field (``label_fraction``, or ``pretext.epochs`` for a
    nested one) or, for inputs that are not config fields, the option itself
    (``--gpus``). The CLI names the option the user typed for the field and
    turns the error into a usage error (exit status 2).
    """

    def __init__(self, option: str, value: object, problem: str):
        self.option = option
        self.value = value
        self.problem = problem
        super().__init__(f"{option}={value!r}: {problem}")

    def within(self, section: str) -> "InputError":
        """The same error for a field inside ``section`` (``epochs`` -> ``pretext.epochs``)."""
        if self.option.startswith("-"):
            return self
        return InputError(f"{section}.{self.option}", self.value, self.problem)


class DataUnavailableError(RuntimeError):
    """A data set cannot be loaded on this machine right now (e.g. no network)."""


class WandbUnavailable(RuntimeError):
    """W&B cannot be used as asked (no key, a rejected key, no network, no such entity,
    project or sweep); the message says what to do. ``exit_code``: 1 for the network, 2 for
    what the user must change."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code
