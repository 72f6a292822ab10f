"""Training: RotNet pretraining, downstream runs, the pretrained-backbone cache, W&B tracking."""
