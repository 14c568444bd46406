"""Face masks in crop or frame pixels: landmark hulls, the forehead extension, erosion and feathering.

Every mask is float32 in [0, 1]: (H, W) for one mask, (N, S, S, 1) for a stack of training masks.
Points are (x, y) pixel coordinates (pixel centres at integers, OpenCV's convention). Used by
:mod:`faceswap_lib.training` (the loss masks of the training faces), :mod:`faceswap_lib.convert`
(the blend mask of a swapped face) and :mod:`faceswap_lib.score` (the inner face measured).
"""

from __future__ import annotations

import numpy as np

__all__ = ["hull_mask", "hull_masks", "extended_points", "erode_and_feather", "priority_masks"]


def hull_mask(points, shape) -> np.ndarray:
    """(H, W) float32: 1 inside the convex hull of the (n, 2) points (x, y), 0 outside.

    ``shape``: (H, W, ...) of the image the mask is for. The hull is filled with 4 fractional
    bits, so sub-pixel point positions move the edge.

    Raises:
        ValueError: fewer than 3 points, or points not of shape (n, 2).
    """
    import cv2

    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2 or len(p) < 3:
        raise ValueError(f"hull_mask: expected at least 3 (x, y) points, got shape {p.shape}")
    mask = np.zeros(tuple(shape[:2]), np.uint8)
    hull = cv2.convexHull(np.round(p * 16).astype(np.int32))  # 4 fractional bits: sub-pixel edges
    cv2.fillConvexPoly(mask, hull, 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(np.float32)


def hull_masks(landmarks_in_crop, size: int) -> np.ndarray:
    """(N, 68, 2) landmarks in crop pixels -> (N, size, size, 1) float32 convex-hull masks (0 or 1)."""
    return np.stack([hull_mask(points, (size, size))[..., None] for points in landmarks_in_crop]).astype(np.float32)


def extended_points(face_landmarks, forehead: float = 0.3) -> np.ndarray:
    """The 68 landmarks plus the brows (17-26) moved up by ``forehead`` x the brow-to-chin distance.

    The hull of the 68 points stops at the brows; its extension covers the forehead too (the
    "extended" mask of face-swap tools), so more of what identifies a face is swapped. "Up" is
    the face's own axis, from the chin (8) to the middle of the brows, so it follows head tilts.
    Returns (78, 2) float64 points.

    Raises:
        ValueError: ``face_landmarks`` is not (68, 2).
    """
    p = np.asarray(face_landmarks, dtype=np.float64)
    if p.shape != (68, 2):
        raise ValueError(f"extended_points: expected (68, 2) landmarks, got {p.shape}")
    up = p[17:27].mean(axis=0) - p[8]
    return np.concatenate([p, p[17:27] + forehead * up])


def erode_and_feather(mask, erode: int = 0, feather: float = 0.0) -> np.ndarray:
    """Shrink a mask by ``erode`` pixels (elliptic kernel), then blur it (Gaussian, sigma ``feather``).

    The erosion moves the seam inside the face, away from the jaw line and the background; the
    blur turns the hard 0/1 edge into a ramp about ``4 * feather`` pixels wide. Returns (H, W)
    float32 in [0, 1].

    Raises:
        ValueError: ``mask`` is not (H, W), or ``erode`` / ``feather`` is negative.
    """
    import cv2

    m = np.asarray(mask, dtype=np.float32)
    if m.ndim != 2:
        raise ValueError(f"erode_and_feather: expected an (H, W) mask, got shape {m.shape}")
    if erode < 0 or feather < 0:
        raise ValueError(f"erode_and_feather: erode and feather must be >= 0, got {erode}, {feather}")
    if erode:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode + 1, 2 * erode + 1))
        m = cv2.erode(m, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    if feather:
        m = cv2.GaussianBlur(m, (0, 0), sigmaX=feather, borderType=cv2.BORDER_CONSTANT)
    return np.clip(m, 0, 1).astype(np.float32)


def priority_masks(landmarks_in_crop, size: int) -> np.ndarray:
    """(N, 68, 2) landmarks in crop pixels -> (N, size, size, 1) float32 masks of the eyes and the mouth.

    DeepFaceLab's "eyes and mouth priority": the convex hull of each eye (points 36-41, 42-47)
    grown 1.8 x about its centre (lids and lashes) and of the mouth (48-67) grown 1.3 x;
    anti-aliased edges, values in [0, 1].
    """
    import cv2

    out = np.zeros((len(landmarks_in_crop), size, size), np.float32)
    for mask, points in zip(out, landmarks_in_crop):
        points = np.asarray(points, np.float64)
        for part, grow in ((slice(36, 42), 1.8), (slice(42, 48), 1.8), (slice(48, 68), 1.3)):
            p = points[part]
            centre = p.mean(axis=0)
            hull = cv2.convexHull(np.round((centre + grow * (p - centre)) * 4).astype(np.int32))
            cv2.fillConvexPoly(mask, hull, 1.0, lineType=cv2.LINE_AA, shift=2)
    return np.clip(out, 0, 1)[..., None]
