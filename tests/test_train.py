import pytest

from sslexp.errors import InputError
from sslexp.train import TrainConfig


def test_min_steps_repeats_small_subsets_within_an_epoch():
    config = TrainConfig(epochs=3, batch_size=32, min_steps=300)
    assert config.steps_per_epoch(48) == 100  # 2 batches of data, repeated
    assert config.steps_per_epoch(38_400) == 1_200  # one pass already suffices
    assert TrainConfig(epochs=3, batch_size=32).steps_per_epoch(48) == 2  # off by default


def test_scratch_always_trains_everything():
    assert TrainConfig(method="scratch", finetune="linear").effective_finetune == "full"
    assert TrainConfig(method="ssl", finetune="linear").effective_finetune == "linear"


def test_default_run_name_names_the_grid_point():
    config = TrainConfig(dataset="folder:/data/pets", method="scratch", label_fraction=0.02,
                         fold=3, seed=1)
    assert config.default_run_name() == "folder_data_pets-scratch-p0.02-fold3-seed1"


def test_unknown_method_is_rejected():
    with pytest.raises(InputError, match="ssl, scratch"):
        TrainConfig(method="supervised")
