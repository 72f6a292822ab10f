"""Fail fast when a download would need a network this machine does not have."""

from __future__ import annotations

import socket

from sslexp.errors import DataUnavailableError


def is_reachable(host: str, port: int = 443, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_network(host: str, what: str, how_to_get_it: str, timeout: float = 3.0) -> None:
    """Raise within ``timeout`` seconds instead of letting a downloader retry for minutes."""
    if not is_reachable(host, timeout=timeout):
        raise DataUnavailableError(
            f"{what} is not on this machine and {host} cannot be reached (checked for "
            f"{timeout:.0f} s), so it cannot be downloaded. {how_to_get_it}"
        )
