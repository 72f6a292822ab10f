"""sslexp: measure how much RotNet self-supervised pretraining helps when labels are scarce."""

__version__ = "0.1.0"
