"""The face-swap recipe: one set of defaults for ``extract``, ``train`` and notebook 09.

The training half was chosen by 8-minute trials on the course pair d6/d14 on 2 loaded CPU cores
(``results/faceswap_recipe.json``; issue 20): Adam 3e-4 instead of 1e-4 (lower loss and a nearer
target in fewer steps) and a tight crop, padding 0.1 (the 160 px centre of a 256 px extract:
eyebrows to chin; the face gets 51 instead of 32 of the model's 64 px: sharpness 0.06-0.12 ->
0.27 of the target's real faces, identity distance 0.53-0.59 -> 0.46-0.50). The eyes-and-mouth
priority term (weight 10) did not help at 8 minutes and stays off; the warp (0.02) was not tried.
On 2 idle cores the recipe reaches 7,115 steps in 30 minutes (``results/faceswap_trials/default_idle.json``):
identity is solved (every held-out swap closer to the target), the swap success rate is 29 % (d6 -> d14)
and 40 % (d14 -> d6), short of issue 20's 70 %: d14's decoder keeps the mouth shut, and d14 never shows
34 % of d6's held-out expressions (:func:`faceswap_lib.score.expression_coverage`). Drawing every
mouth-opening band equally often (``balance``) did not open that mouth (``balance_idle.json``), so it
stays off.
The extract half is what those trials extracted with: 256 px crops with padding 0.25
(:data:`faceswap_lib.align.DEFAULT_PADDING`: head, forehead and jaw line), of which training
cuts the tight centre (:func:`faceswap_lib.training.tight_crop`).

:func:`faceswap_lib.training.train`'s defaults, :func:`faceswap_lib.extract.extract`'s and the
command line's (``python -m faceswap_lib``) all come from :data:`RECIPE`. This module imports
neither TensorFlow nor OpenCV, so the command line can build its parser without them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .align import DEFAULT_PADDING

__all__ = ["Recipe", "RECIPE", "MIN_EXTRACT_SIZE"]

#: The smallest aligned crop ``extract`` makes, pixels: the smallest face the model takes
#: (:func:`faceswap_lib.models.face_encoder`: a multiple of 16, at least 32), with ``train --padding``
#: as large as the extract's own; a tighter training crop needs a larger extract (``train`` says how much).
MIN_EXTRACT_SIZE = 32


@dataclass(frozen=True)
class Recipe:
    """Face-swap defaults (see the module notes for where each value comes from).

    Attributes:
        extract_size: side of the extracted aligned crops, pixels (``extract --size``).
        extract_padding: padding of the extracted crops, a fraction of the size in [0, 0.5).
        size: the model's input side, pixels (``train --size``).
        padding: the tighter padding training cuts from the extracted crops (``train --padding``).
        learning_rate: Adam's learning rate (beta_1 0.5).
        batch_size: faces per person per step.
        warp: random-warp strength of :func:`faceswap_lib.augment.augment`.
        priority_weight: weight of the eyes-and-mouth loss term (0: off).
        balance: draw training faces so that every mouth-opening band comes up about equally often
            (:func:`faceswap_lib.training.expression_weights`) instead of uniformly.
        steps: total steps when neither steps nor minutes are given.
    """

    extract_size: int = 256
    extract_padding: float = DEFAULT_PADDING
    size: int = 64
    padding: float = 0.1
    learning_rate: float = 3e-4
    batch_size: int = 16
    warp: float = 0.02
    priority_weight: float = 0.0
    balance: bool = False
    steps: int = 1000


#: The recipe of ``results/faceswap_recipe.json`` (issue 20).
RECIPE = Recipe()
