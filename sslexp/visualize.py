"""Entry points for drawing a model's filters, activations and rotation predictions.

``sslexp train`` calls ``save_run_figures`` at the end of a run; the
implementation lives in the ``sslexp.viz`` package, split by concern.
"""

from sslexp.viz import (
    find_backbone,
    load_model,
    load_npz_images,
    resolve_checkpoint,
    save_comparison_figures,
    save_pretext_figures,
    save_run_figures,
    select_images,
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
