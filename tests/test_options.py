"""Options generated from the configs: every field is an option, defaults are written
once, and no environment variable means two things."""

import click
import pytest
from click.testing import CliRunner

from sslexp.cli import COMMANDS, main
from sslexp.config import PretrainConfig, TrainConfig, flat_fields


def all_commands():
    """(path, command) for every command and sweep sub-command."""
    context = click.Context(main)
    for name in COMMANDS:
        command = main.get_command(context, name)
        if isinstance(command, click.Group):
            for sub in command.commands.values():
                yield f"{name} {sub.name}", sub
        else:
            yield name, command


def test_no_environment_variable_means_two_things():
    meanings: dict[str, set] = {}
    for _path, command in all_commands():
        for param in command.params:
            for envvar in [param.envvar] if isinstance(param.envvar, str) else param.envvar or []:
                meaning = getattr(param, "field_path", None) or param.name
                meanings.setdefault(envvar, set()).add(meaning)
    clashes = {envvar: found for envvar, found in meanings.items() if len(found) > 1}
    assert not clashes
    assert "SSLEXP_PRETEXT_EPOCHS" in meanings and meanings["SSLEXP_MAX_UPDATES"] == {"max_updates"}


@pytest.mark.parametrize(
    "command_name, cls", [("train", TrainConfig), ("pretrain", PretrainConfig)]
)
def test_every_config_field_is_an_option_with_the_config_default(command_name, cls):
    command = main.get_command(click.Context(main), command_name)
    by_field = {getattr(p, "field_path", None): p for p in command.params}
    for item in flat_fields(cls):
        assert item.dotted in by_field, f"{command_name} has no option for {item.dotted}"
        assert by_field[item.dotted].default == item.field.default


def test_errors_name_the_option_of_the_command_in_use():
    train = main.get_command(click.Context(main), "train")
    pretrain = main.get_command(click.Context(main), "pretrain")
    assert train.option_for("pretext.val_fraction") == "--pretext-val-fraction"
    assert pretrain.option_for("pretext.val_fraction") == "--val-fraction"
    assert train.option_for("backbone.depth") == "--depth"


def test_boolean_options_show_as_bare_flags():
    help_text = CliRunner().invoke(main, ["train", "--help"]).output
    assert "--resume " in help_text and "--resume BOOLEAN" not in help_text


def test_every_boolean_turns_off_with_no_flag_and_still_takes_the_agent_spelling():
    runner = CliRunner()
    for path, command in all_commands():
        switches = [p for p in command.params if getattr(p, "is_switch", False)]
        for switch in switches:
            long_name = max(switch.opts, key=len)
            help_text = runner.invoke(main, [*path.split(), "--help"]).output
            assert f"{long_name} / --no-{long_name[2:]}" in help_text, (path, long_name)
            for spelling, expected in (
                (["--no-" + long_name[2:]], False),
                (["--no_" + long_name[2:].replace("-", "_")], False),
                ([f"{long_name}=False"], False),
                ([f"{long_name}=True"], True),
                ([long_name], True),
            ):
                context = command.make_context(path, list(spelling), resilient_parsing=True)
                assert context.params[switch.name] is expected, (path, spelling)
