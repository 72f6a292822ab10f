"""W&B trouble as one sentence the user can act on, and the exit status that goes with it:
2 for what the user must change (no API key, a rejected key, an unknown entity, project
or sweep), 1 for the network.

The wandb client raises several types for each case, with the server's answer in the
text, so the case is read from both. Nothing here imports wandb.
"""

from __future__ import annotations

import os
import socket
import urllib.parse
from collections.abc import Mapping

from sslexp.errors import WandbUnavailable

DEFAULT_BASE_URL = "https://api.wandb.ai"
NETWORK_EXIT = 1
USAGE_EXIT = 2
_NO_KEY = ("api key", "api_key", "not logged in", "wandb login")
_BAD_KEY = ("401", "unauthorized", "invalid api key", "authenticat")
_FORBIDDEN = ("403", "forbidden", "permission")
_NOT_FOUND = ("404", "not found", "could not find", "does not exist", "no such")
_UNANSWERED = ("did not respond", "failed to execute api request", "connection refused")
_NETWORK = ("connection", "timed out", "timeout", "name or service", "unreachable",
            "max retries", "temporary failure", "network")


def base_url(environ: Mapping[str, str] = os.environ) -> str:
    return environ.get("WANDB_BASE_URL") or DEFAULT_BASE_URL


def explain(error: BaseException, where: str) -> WandbUnavailable:
    """``error`` from the wandb client, while using ``where`` (``acme/rotnet``, a sweep
    path), as a ``WandbUnavailable``."""
    if isinstance(error, WandbUnavailable):
        return error
    text = f"{type(error).__name__}: {error}"
    lowered = text.lower()
    if isinstance(error, (OSError, TimeoutError)):
        return WandbUnavailable(
            f"cannot reach W&B at {base_url()} ({_short(error)}): check the network (or "
            "WANDB_BASE_URL), or run offline with --wandb-mode offline.", NETWORK_EXIT)
    if type(error).__name__ == "UsageError" and any(word in lowered for word in _NO_KEY):
        return WandbUnavailable(
            "no W&B API key: run `wandb login` (or export WANDB_API_KEY), or run offline "
            "with --wandb-mode offline and upload later with `wandb sync`.", USAGE_EXIT)
    if any(word in lowered for word in _UNANSWERED):  # wandb says so as a failed login too
        return WandbUnavailable(
            f"cannot reach W&B at {base_url()} ({_short(error)}): check the network (or "
            "WANDB_BASE_URL), or run offline with --wandb-mode offline.", NETWORK_EXIT)
    if type(error).__name__ == "AuthenticationError" or any(w in lowered for w in _BAD_KEY):
        return WandbUnavailable(
            f"W&B at {base_url()} rejected the API key ({_short(error)}): run "
            "`wandb login --relogin` with a key from https://wandb.ai/authorize.", USAGE_EXIT)
    if any(word in lowered for word in _FORBIDDEN):
        return WandbUnavailable(
            f"W&B refused access to {where} ({_short(error)}): check that your key's user "
            "belongs to that entity (team) and may write to the project.", USAGE_EXIT)
    if any(word in lowered for word in _NOT_FOUND):
        return WandbUnavailable(
            f"W&B has no {where} ({_short(error)}): check the entity, project and sweep id "
            "(`sslexp sweep create` prints them as ENTITY/PROJECT/ID).", USAGE_EXIT)
    if any(word in lowered for word in _NETWORK):
        return WandbUnavailable(
            f"cannot reach W&B at {base_url()} ({_short(error)}): check the network (or "
            "WANDB_BASE_URL), or run offline with --wandb-mode offline.", NETWORK_EXIT)
    return WandbUnavailable(f"W&B failed for {where}: {_short(error)}. Check `wandb login`, "
                            "the entity and project, and the network.", NETWORK_EXIT)


def check_reachable(url: str | None = None, timeout_s: float = 10.0) -> None:
    """Fail at once when nothing answers at the W&B server's address (the client itself
    retries for minutes before giving up)."""
    url = url or base_url()
    parsed = urllib.parse.urlsplit(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname or "", port), timeout=timeout_s):
            pass
    except OSError as error:
        raise explain(error, url) from None


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."
