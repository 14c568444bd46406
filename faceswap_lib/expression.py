"""Expression from the 68 landmarks: mouth and eye opening as gaps over the inter-ocular distance.

The measures the swap score (:mod:`faceswap_lib.score`) compares between a source frame and its
swap, and that training's expression-balanced sampling (:func:`faceswap_lib.training.expression_weights`)
bins faces by. Dividing by the distance between the eye centres makes them independent of the face's
size in pixels. Point numbering: the iBUG 300-W 68-point scheme of dlib's shape predictor (0-based).
"""

from __future__ import annotations

import numpy as np

__all__ = ["landmarks68", "interocular_distance", "mouth_opening", "eye_opening"]


def landmarks68(landmarks) -> np.ndarray:
    """``landmarks`` as a (68, 2) float64 array. Raises ValueError for another shape."""
    p = np.asarray(landmarks, dtype=np.float64)
    if p.shape != (68, 2):
        raise ValueError(f"expected (68, 2) landmarks, got shape {p.shape}")
    return p


def interocular_distance(landmarks) -> float:
    """Distance between the eye centres (means of points 36-41 and 42-47), in the landmarks' pixels."""
    p = landmarks68(landmarks)
    return float(np.linalg.norm(p[36:42].mean(0) - p[42:48].mean(0)))


def mouth_opening(landmarks) -> float:
    """Inner-lip gap (mean of |61-67|, |62-66|, |63-65|) over the inter-ocular distance: 0 closed,
    about 0.2 talking, 0.5 laughing. (68, 2) landmarks in; a float >= 0 out."""
    p = landmarks68(landmarks)
    gap = np.mean([np.linalg.norm(p[a] - p[b]) for a, b in ((61, 67), (62, 66), (63, 65))])
    return float(gap / max(interocular_distance(p), 1e-9))


def eye_opening(landmarks) -> float:
    """Lid gap (mean of |37-41|, |38-40|, |43-47|, |44-46|, both eyes) over the inter-ocular
    distance: about 0.03 shut, 0.12-0.20 open. (68, 2) landmarks in; a float >= 0 out."""
    p = landmarks68(landmarks)
    gap = np.mean([np.linalg.norm(p[a] - p[b]) for a, b in ((37, 41), (38, 40), (43, 47), (44, 46))])
    return float(gap / max(interocular_distance(p), 1e-9))
