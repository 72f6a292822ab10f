"""Errors the user can act on: which option, what was wrong, what is allowed."""

from __future__ import annotations


class InputError(ValueError):
    """Bad input detected before or while loading data or models.

    The CLI turns it into a usage error (exit status 2) that names the option.
    """

    def __init__(self, option: str, value: object, problem: str):
        self.option = option
        self.value = value
        self.problem = problem
        super().__init__(f"{option}={value!r}: {problem}")


class DataUnavailableError(RuntimeError):
    """A data set cannot be loaded on this machine right now (e.g. no network)."""
