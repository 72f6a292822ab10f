"""The config classes: defaults, checks, the names derived from them."""

import pytest

from sslexp.config import (PretextConfig, PretrainConfig, TrainConfig, build, flat_fields,
                           flatten, from_dict)
from sslexp.errors import InputError


def test_min_steps_repeats_small_subsets_within_an_epoch():
    config = TrainConfig(epochs=3, batch_size=32, min_steps=300)
    assert config.steps_per_epoch(48) == 100  # 2 batches of data, repeated
    assert config.steps_per_epoch(38_400) == 1_200  # one pass already suffices
    assert TrainConfig(epochs=3, batch_size=32).steps_per_epoch(48) == 2  # off by default


def test_scratch_always_trains_everything():
    assert TrainConfig(method="scratch", finetune="linear").effective_finetune == "full"
    assert TrainConfig(method="ssl", finetune="linear").effective_finetune == "linear"


def test_run_names_say_what_the_run_is():
    config = TrainConfig(dataset="folder:/data/pets", method="scratch", label_fraction=0.02,
                         fold=3, seed=1)
    assert config.short_name() == "scratch-p0.02-fold3-seed1"
    name = config.default_run_name()
    assert name.startswith("folder_data_pets-scratch-p0.02-fold3-seed1-")
    assert name != config.replace(lr=0.01).default_run_name()  # other settings, other name


@pytest.mark.parametrize("arguments, field, message", [
    ({"method": "supervised"}, "method", "ssl, scratch"),
    ({"label_fraction": 1.5}, "label_fraction", "(0, 1]"),
    ({"finetune": "some"}, "finetune", "last:N"),
    ({"epochs": "many"}, "epochs", "number"),
    ({"folds": 1}, "folds", ">= 2"),
])
def test_bad_values_name_their_field(arguments, field, message):
    with pytest.raises(InputError) as raised:
        TrainConfig(**arguments)
    assert raised.value.option == field and message in raised.value.problem


def test_numbers_are_normalised_so_cache_keys_match():
    """YAML and the command line spell numbers differently; the key must not care."""
    from_yaml = PretrainConfig(pretext=PretextConfig(unlabeled_fraction=1, lr="0.003", epochs=15.0))
    from_cli = PretrainConfig(pretext=PretextConfig(unlabeled_fraction=1.0, lr=3e-3, epochs=15))
    assert from_yaml.key() == from_cli.key()


def test_train_pretext_options_give_the_pretrain_config_pretrain_uses():
    train = build(TrainConfig, {"dataset": "digits", "image_size": 16, "depth": 8,
                                "pretext_epochs": 3, "pretext_val_fraction": 0.2})
    pretrain = build(PretrainConfig, {"dataset": "digits", "image_size": 16, "depth": 8,
                                      "epochs": 3, "val_fraction": 0.2}, {"pretext": ""})
    assert train.pretrain_config() == pretrain
    assert train.pretrain_config().key() == pretrain.key()


def test_nested_errors_name_the_dotted_field():
    with pytest.raises(InputError) as raised:
        build(TrainConfig, {"pretext_val_fraction": 1.5})
    assert raised.value.option == "pretext.val_fraction"


def test_every_pretext_field_can_be_set_from_train():
    train_names = {name for _, _, _, name in flat_fields(TrainConfig)}
    pretext_names = {f"pretext_{name}" for _, _, _, name in flat_fields(PretextConfig)}
    assert pretext_names <= train_names


def test_flatten_and_from_dict_round_trip():
    config = TrainConfig(method="scratch", label_fraction=0.25, pretext=PretextConfig(epochs=2))
    flat = flatten(config)
    assert flat["pretext_epochs"] == 2 and flat["depth"] == 20 and "backbone" not in flat
    assert build(TrainConfig, flat) == config
    assert from_dict(TrainConfig, config.as_dict()) == config
