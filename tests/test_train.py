import pytest

from sslexp.errors import InputError
from sslexp.train import TrainConfig


def test_min_steps_raises_epochs_for_small_subsets_only():
    config = TrainConfig(epochs=3, batch_size=32, min_steps=400)
    assert config.epochs_for(48) == 200  # 2 steps an epoch
    assert config.epochs_for(38_400) == 3  # 1,200 steps an epoch: --epochs already suffices
    assert TrainConfig(epochs=3, batch_size=32).epochs_for(48) == 3  # off by default


def test_patience_stretches_with_the_epochs():
    config = TrainConfig(epochs=20, batch_size=32, min_steps=300, patience=10)
    assert config.patience_for(60) == 75  # 150 epochs of 2 steps: 7.5x
    assert config.patience_for(38_400) == 10


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
