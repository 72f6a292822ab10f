"""W&B trouble as one sentence and an exit status: 2 for what the user must change, 1 for
the network."""

from sslexp.runs.wandb_errors import explain


def test_a_login_that_got_no_answer_is_the_network_not_the_key():
    class AuthenticationError(Exception):
        pass

    unavailable = explain(AuthenticationError(
        "Failed to verify credentials with http://x: Failed to execute API request: the "
        "service process is busy and did not respond in time."), "acme-team/rotnet-study")
    assert unavailable.exit_code == 1 and "cannot reach W&B" in str(unavailable)
    rejected = explain(AuthenticationError("401 Unauthorized"), "acme-team/rotnet-study")
    assert rejected.exit_code == 2 and "rejected the API key" in str(rejected)


class UsageError(Exception):
    """Named as wandb's: the case is read from the type's name and the text."""


def test_no_key_wrong_entity_and_refused_connection_each_say_what_to_do():
    no_key = explain(UsageError("No API key configured. Use `wandb login` to log in."), "x/y")
    assert no_key.exit_code == 2 and "run `wandb login`" in str(no_key)
    missing = explain(RuntimeError("entity acme-typo not found"), "entity/project acme-typo/y")
    assert missing.exit_code == 2 and str(missing).startswith("W&B has no entity/project")
    refused = explain(ConnectionRefusedError(111, "Connection refused"), "x/y")
    assert refused.exit_code == 1 and "cannot reach W&B" in str(refused)
