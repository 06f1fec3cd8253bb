"""FENeRF training (spec 10-11): discriminators, curricula, losses, EMA, resumable checkpoints,
the loop (`trainer.Trainer`) and distributed launch (`torchrun -m models.train`)."""
