"""Align faces: one similarity transform maps a face's landmarks onto a mean face.

A face-swap autoencoder learns much faster when every training face sits in the same place: eyes
on the same rows, mouth in the same spot, the same size. Alignment fits the 51 inner landmarks
(17-67: brows, nose, eyes, mouth; the jaw is left out because its outline moves with head turns
and is often predicted badly) of a face to a fixed **mean face** with :func:`~faceswap_lib.umeyama.umeyama`,
and cuts the face out with that one 2 x 3 matrix. The same matrix, inverted, puts a generated face
back into the frame.

Matrices are 2 x 3 float64 arrays ``M = [[a, b, tx], [c, d, ty]]`` acting on (x, y) pixel
coordinates: ``(x', y') = (a x + b y + tx, c x + d y + ty)``, exactly what ``cv2.warpAffine`` takes.
For a similarity, ``a = d = s cos(theta)`` and ``c = -b = s sin(theta)``.

How :data:`MEAN_FACE` was made (:func:`mean_face` reproduces it, and a test checks that): the 43
faces with ground-truth landmarks in dlib's example data (``training_with_face_landmarks.xml``,
18 faces, and ``testing_with_face_landmarks.xml``, 25 faces, dataset ``dlib_faces``) plus their
mirror images (mirroring makes the mean left-right symmetric, so it does not inherit the head
turns of a small sample), points 17-67 only, were aligned to each other by generalised Procrustes
analysis (align all to the current mean with Umeyama, average, normalise the mean; repeat until
it moves less than 1e-9), then rotated so that the line between the eye centres is horizontal and
fitted into the unit square (the larger side spans [0, 1], the other is centred). The values are
rounded to 6 decimals. It is our own derivation from Boost-licensed data; no third-party template
was copied.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from .umeyama import umeyama

__all__ = [
    "ALIGN_POINTS",
    "MEAN_FACE",
    "DEFAULT_PADDING",
    "generalised_procrustes",
    "mean_face",
    "template_points",
    "align_matrix",
    "aligned_crop",
    "invert",
    "transform_points",
    "matrix_parameters",
]

#: The landmarks used for alignment: brows, nose, eyes and mouth (17-67), not the jaw.
ALIGN_POINTS = slice(17, 68)

#: Padding of an aligned crop on each side, as a fraction of the crop size: the mean face's unit
#: square (brows to lower lip) fills the middle ``1 - 2 * padding`` of the crop. 0.25 keeps the
#: forehead, the chin and the jaw outline, which a face swap must cover too, without much
#: background; larger paddings run past the frame border on close-up clips.
DEFAULT_PADDING = 0.25

# fmt: off
#: (51, 2) mean positions of landmarks 17-67 in the unit square (x right, y down); see the
#: module docstring for how it was computed.
MEAN_FACE = np.array([
    [0.000000, 0.136768], [0.071329, 0.063405], [0.174292, 0.034485], [0.283459, 0.043450],
    [0.387851, 0.084384], [0.612149, 0.084384], [0.716541, 0.043450], [0.825708, 0.034485],
    [0.928671, 0.063405], [1.000000, 0.136768], [0.500000, 0.224768], [0.500000, 0.327507],
    [0.500000, 0.429297], [0.500000, 0.537436], [0.372892, 0.608861], [0.433966, 0.633438],
    [0.500000, 0.653936], [0.566034, 0.633438], [0.627108, 0.608861], [0.128300, 0.254676],
    [0.194528, 0.220176], [0.269109, 0.219208], [0.334198, 0.259702], [0.267012, 0.271545],
    [0.191850, 0.271700], [0.665802, 0.259702], [0.730891, 0.219208], [0.805472, 0.220176],
    [0.871700, 0.254676], [0.808150, 0.271700], [0.732988, 0.271545], [0.238947, 0.814469],
    [0.328920, 0.766192], [0.429898, 0.751692], [0.500000, 0.762300], [0.570102, 0.751692],
    [0.671080, 0.766192], [0.761053, 0.814469], [0.676546, 0.919301], [0.576449, 0.959161],
    [0.500000, 0.965515], [0.423551, 0.959161], [0.323454, 0.919301], [0.276015, 0.819937],
    [0.429005, 0.794496], [0.500000, 0.802287], [0.570995, 0.794496], [0.723985, 0.819937],
    [0.573920, 0.884990], [0.500000, 0.894430], [0.426080, 0.884990],
])
# fmt: on


def _normalise(shape: np.ndarray) -> np.ndarray:
    """Centre at the origin and scale to unit root-mean-square distance from it."""
    centred = shape - shape.mean(axis=0)
    return centred / np.sqrt(np.mean(np.sum(centred**2, axis=1)))


def generalised_procrustes(
    shapes: Iterable[np.ndarray], *, max_iterations: int = 100, tol: float = 1e-9
) -> tuple[np.ndarray, np.ndarray]:
    """Align shapes to each other with similarity transforms; return (mean, aligned shapes).

    Generalised Procrustes analysis (J. C. Gower, *Generalized Procrustes analysis*,
    Psychometrika 40, 1975): start from the first shape, then repeat: fit every shape onto the
    current mean with :func:`umeyama`, average the fitted shapes, and normalise that average
    (centred, unit RMS size; otherwise it would shrink a little every round).

    Args:
        shapes: k arrays of shape (n, 2), corresponding points in the same order.

    Returns:
        ``(mean, aligned)``: the (n, 2) mean shape (centred, unit RMS size) and the (k, n, 2)
        shapes after their fit onto it.
    """
    stack = np.asarray(list(shapes), dtype=np.float64)
    if stack.ndim != 3 or stack.shape[-1] != 2 or len(stack) < 2:
        raise ValueError(f"generalised_procrustes: expected at least 2 shapes of (n, 2) points, got {stack.shape}")
    mean = _normalise(stack[0])
    aligned = stack
    for _ in range(max_iterations):
        aligned = np.stack([transform_points(s, umeyama(s, mean)[:2]) for s in stack])
        new_mean = _normalise(aligned.mean(axis=0))
        # The mean keeps the orientation of its predecessor (its fit to the old mean is ~identity).
        new_mean = transform_points(new_mean, umeyama(new_mean, mean, estimate_scale=False)[:2])
        moved = np.max(np.abs(new_mean - mean))
        mean = new_mean
        if moved < tol:
            break
    return mean, aligned


def mean_face(shapes: Iterable[np.ndarray], *, mirror: bool = True) -> np.ndarray:
    """A (51, 2) template in the unit square from (68, 2) landmark sets, as :data:`MEAN_FACE`.

    Args:
        shapes: 68-point landmark sets (x, y) of many faces.
        mirror: add the mirror image of every face (x -> -x, points relabelled with
            :data:`~faceswap_lib.landmarks.FLIP_PERMUTATION`), which makes the result symmetric.
    """
    from .landmarks import FLIP_PERMUTATION

    full = [np.asarray(s, dtype=np.float64) for s in shapes]
    if any(s.shape != (68, 2) for s in full):
        raise ValueError("mean_face: every shape must be (68, 2) landmarks")
    if mirror:
        full += [(s * [-1.0, 1.0])[FLIP_PERMUTATION] for s in full]
    mean, _ = generalised_procrustes([s[ALIGN_POINTS] for s in full])
    # Level the eyes: rotate the eye-centre line (right eye 36-41 -> left eye 42-47) onto +x.
    eyes = mean[42 - 17 : 48 - 17].mean(axis=0) - mean[36 - 17 : 42 - 17].mean(axis=0)
    angle = np.arctan2(eyes[1], eyes[0])
    rotation = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    mean = mean @ rotation.T
    # Into the unit square, keeping the aspect ratio.
    low, high = mean.min(axis=0), mean.max(axis=0)
    side = np.max(high - low)
    return (mean - low) / side + (1 - (high - low) / side) / 2


def template_points(size: int, padding: float = DEFAULT_PADDING) -> np.ndarray:
    """Where :data:`MEAN_FACE` lies in an aligned ``size`` x ``size`` crop: (51, 2) pixels.

    The unit square becomes the square from ``padding * size`` to ``(1 - padding) * size``.
    Coordinates are continuous: the crop's pixel ``(i, j)`` covers ``[j, j + 1) x [i, i + 1)``,
    so the unit square's corners are the crop's outer corners when ``padding = 0``; the matrices
    below account for OpenCV's convention that pixel centres are at integers.
    """
    if not 0 <= padding < 0.5:
        raise ValueError(f"padding must be in [0, 0.5), got {padding}")
    return size * (padding + (1 - 2 * padding) * MEAN_FACE) - 0.5


def align_matrix(landmarks: np.ndarray, size: int, padding: float = DEFAULT_PADDING) -> np.ndarray:
    """The 2 x 3 matrix that maps an image onto the aligned ``size`` x ``size`` crop of a face.

    Args:
        landmarks: (68, 2) (x, y) pixel landmarks of the face (only 17-67 are used), or just the
            (51, 2) points 17-67.
        size: side of the square crop in pixels.
        padding: crop margin on each side as a fraction of ``size`` (see :data:`DEFAULT_PADDING`).

    Returns:
        (2, 3) float64 matrix for ``cv2.warpAffine(image, M, (size, size))``; it maps the face's
        landmarks 17-67 as closely as a similarity can onto :func:`template_points`.
    """
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape == (68, 2):
        points = points[ALIGN_POINTS]
    if points.shape != (51, 2):
        raise ValueError(f"align_matrix: expected (68, 2) or (51, 2) landmarks, got {points.shape}")
    return umeyama(points, template_points(size, padding))[:2]


def aligned_crop(
    image: np.ndarray,
    landmarks: np.ndarray,
    size: int = 256,
    padding: float = DEFAULT_PADDING,
    *,
    border_mode: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut out the aligned face: ``(crop, matrix)``.

    Args:
        image: (H, W, 3) float32 in [0, 1] (any dtype ``cv2.warpAffine`` takes works).
        landmarks: (68, 2) landmarks of the face in ``image``.
        size, padding: as for :func:`align_matrix`.
        border_mode: an OpenCV border mode for crop pixels outside the image (default
            ``cv2.BORDER_REPLICATE``, which avoids black wedges that a network would learn).

    Returns:
        ``crop`` (size, size, 3) of the image's dtype, bilinear, and the 2 x 3 ``matrix`` that
        made it (image pixel coordinates -> crop pixel coordinates).
    """
    import cv2

    matrix = align_matrix(landmarks, size, padding)
    mode = cv2.BORDER_REPLICATE if border_mode is None else border_mode
    crop = cv2.warpAffine(np.asarray(image), matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=mode)
    return crop, matrix


def invert(matrix: np.ndarray) -> np.ndarray:
    """The inverse 2 x 3 affine matrix: crop coordinates -> image coordinates (to paste back)."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (2, 3):
        raise ValueError(f"invert: expected a 2 x 3 matrix, got {m.shape}")
    linear_inv = np.linalg.inv(m[:, :2])  # raises LinAlgError for a singular matrix
    return np.hstack([linear_inv, -linear_inv @ m[:, 2:]])


def transform_points(points: np.ndarray, matrix: np.ndarray, *, inverse: bool = False) -> np.ndarray:
    """Apply a 2 x 3 matrix to (n, 2) points (x, y); ``inverse=True`` applies its inverse.

    ``transform_points(landmarks, M)`` gives the landmarks in the crop that ``aligned_crop``
    made with ``M``; ``transform_points(crop_points, M, inverse=True)`` takes points of the crop
    back to the image.
    """
    m = invert(matrix) if inverse else np.asarray(matrix, dtype=np.float64)
    if m.shape != (2, 3):
        raise ValueError(f"transform_points: expected a 2 x 3 matrix, got {m.shape}")
    p = np.asarray(points, dtype=np.float64)
    return p @ m[:, :2].T + m[:, 2]


def matrix_parameters(matrix: np.ndarray) -> dict[str, float]:
    """Read a similarity matrix: ``{"scale", "rotation_deg", "tx", "ty"}``.

    For ``[[s cos t, -s sin t, tx], [s sin t, s cos t, ty]]``: scale ``s``, rotation ``t`` in
    degrees (positive turns +x towards +y, i.e. clockwise on screen since y points down).
    """
    m = np.asarray(matrix, dtype=np.float64)
    return {
        "scale": float(np.hypot(m[0, 0], m[1, 0])),
        "rotation_deg": float(np.degrees(np.arctan2(m[1, 0], m[0, 0]))),
        "tx": float(m[0, 2]),
        "ty": float(m[1, 2]),
    }
