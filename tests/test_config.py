"""The config classes: defaults, checks, the names derived from them."""

import pytest

from sslexp.config import PretextConfig, PretrainConfig, TrainConfig, build, flatten, from_dict
from sslexp.errors import InputError


def test_the_run_seed_varies_by_fold_but_the_subsets_seed_does_not():
    folds = [TrainConfig(fold=fold, seed=3) for fold in range(3)]
    assert len({config.run_seed for config in folds}) == 3
    assert {config.seed for config in folds} == {3}
    assert TrainConfig(fold=2, seed=3, init_seeds="shared").run_seed == 3
    assert TrainConfig(fold=2, seed=4).run_seed != folds[2].run_seed


def test_per_fold_pretext_seeds_give_one_backbone_per_fold():
    shared = {TrainConfig(fold=fold).pretrain_config().key() for fold in range(3)}
    assert len(shared) == 1
    per_fold = [
        TrainConfig(fold=fold, pretext_seeds="per-fold").pretrain_config() for fold in range(3)
    ]
    assert len({config.key() for config in per_fold}) == 3
    assert len({config.pretext.seed for config in per_fold}) == 3


def test_select_last_needs_a_matched_budget():
    with pytest.raises(InputError) as raised:
        TrainConfig(select="last")
    assert raised.value.option == "select" and "--budget matched" in raised.value.problem
    assert TrainConfig(select="last", budget="matched").select == "last"


def test_scratch_always_trains_everything():
    assert TrainConfig(method="scratch", finetune="linear").effective_finetune == "full"
    assert TrainConfig(method="ssl", finetune="linear").effective_finetune == "linear"


def test_run_names_say_what_the_run_is():
    config = TrainConfig(
        dataset="folder:/data/pets", method="scratch", label_fraction=0.02, fold=3, seed=1
    )
    assert config.short_name() == "scratch-p0.02-fold3-seed1"
    name = config.default_run_name()
    assert name.startswith("folder_pets-scratch-p0.02-fold3-seed1-")  # the folder, not its path
    assert name != config.replace(lr=0.01).default_run_name()  # other settings, other name


@pytest.mark.parametrize(
    "arguments, field, message",
    [
        ({"method": "supervised"}, "method", "ssl, scratch"),
        ({"label_fraction": 1.5}, "label_fraction", "(0, 1]"),
        ({"finetune": "some"}, "finetune", "last:N"),
        ({"max_updates": "many"}, "max_updates", "number"),
        ({"budget": "fixed"}, "budget", "converged, matched"),
        ({"folds": 1}, "folds", ">= 2"),
    ],
)
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
    train = build(
        TrainConfig,
        {
            "dataset": "digits",
            "image_size": 16,
            "depth": 8,
            "pretext_epochs": 3,
            "pretext_val_fraction": 0.2,
        },
    )
    pretrain = build(
        PretrainConfig,
        {"dataset": "digits", "image_size": 16, "depth": 8, "epochs": 3, "val_fraction": 0.2},
        {"pretext": ""},
    )
    assert train.pretrain_config() == pretrain
    assert train.pretrain_config().key() == pretrain.key()


def test_nested_errors_name_the_dotted_field():
    with pytest.raises(InputError) as raised:
        build(TrainConfig, {"pretext_val_fraction": 1.5})
    assert raised.value.option == "pretext.val_fraction"


def test_every_pretext_field_can_be_set_from_train():
    train_names = TrainConfig.flat_names()
    pretext_names = {f"pretext_{name}" for name in PretextConfig.flat_names()}
    assert pretext_names <= train_names


def test_flatten_and_from_dict_round_trip():
    config = TrainConfig(method="scratch", label_fraction=0.25, pretext=PretextConfig(epochs=2))
    flat = flatten(config)
    assert flat["pretext_epochs"] == 2 and flat["depth"] == 20 and "backbone" not in flat
    assert build(TrainConfig, flat) == config
    assert from_dict(TrainConfig, config.as_dict()) == config


def test_a_config_from_flat_values_ignores_names_that_are_not_its_options():
    config = TrainConfig.from_flat(
        {
            "dataset": "digits",
            "pretext_epochs": 3,
            "depth": 8,
            "output_dir": "runs/x",
            "program": "sslexp",
        }
    )
    assert (config.dataset, config.pretext.epochs, config.backbone.depth) == ("digits", 3, 8)
    assert {"pretext_epochs", "depth", "label_fraction"} <= TrainConfig.flat_names()
    assert "output_dir" not in TrainConfig.flat_names()
