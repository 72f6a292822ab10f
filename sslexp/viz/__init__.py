"""Pictures of what a backbone learned, computed from the checkpoints themselves.

First-layer filters, per-stage activation maps for a fixed, seeded set of
images, and the pretext model's rotation predictions. The ssl and scratch
pictures are always drawn from the two actual models, side by side.
"""

from sslexp.viz.images import load_npz_images, select_images
from sslexp.viz.models import find_backbone, load_model, resolve_checkpoint
from sslexp.viz.run_figures import (
    save_comparison_figures,
    save_pretext_figures,
    save_run_figures,
)

__all__ = [
    "find_backbone",
    "load_model",
    "load_npz_images",
    "resolve_checkpoint",
    "save_comparison_figures",
    "save_pretext_figures",
    "save_run_figures",
    "select_images",
]
