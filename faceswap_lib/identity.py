"""Whose face is it? Identity embeddings with dlib's face-recognition ResNet.

A face swap is supposed to change *who* is in the frame. To measure that, we embed faces with
dlib's face-recognition network (a ResNet-29 trained with a metric loss on about 3 million faces;
D. E. King, dlib 19.3 release notes 2017, 99.38% on LFW; the model file
``dlib_face_recognition_resnet_model_v1.dat`` ships in the ``face-recognition-models`` package).
It maps a face to a 128-d vector; two photos of the same person are usually closer than 0.6
(Euclidean), of different people farther.

- :func:`embed` embeds a face given its 68 landmarks (dlib aligns a 150 x 150 chip from them).
- :func:`identity_scores` compares swapped faces with reference embeddings of the target and of
  the source person (the mean embedding of held-out real frames of each): the share of swapped
  faces closer to the target than to the source, and the mean distances.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["model_path", "load_model", "embed", "embed_frame", "reference", "identity_scores"]


def model_path() -> str:
    """Path of ``dlib_face_recognition_resnet_model_v1.dat`` (package ``face-recognition-models``)."""
    try:
        import face_recognition_models
    except ImportError as error:  # pragma: no cover - installed with the project
        raise ImportError("the identity metric needs the package face-recognition-models (pip install face-recognition-models)") from error
    return face_recognition_models.face_recognition_model_location()


@functools.lru_cache(maxsize=None)
def load_model():
    """dlib's face-recognition ResNet, loaded once (about a second)."""
    import dlib

    return dlib.face_recognition_model_v1(model_path())


def embed(image, face_landmarks, *, jitter: int = 0) -> np.ndarray:
    """128-d float64 descriptor of the face with ``face_landmarks`` (68, 2) in ``image``.

    Args:
        image: (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) (alpha dropped); uint8, uint16 or
            float in [0, 1]: the images :mod:`sr_lib.images` accepts, converted to 8-bit RGB by
            :func:`faceswap_lib.landmarks.to_uint8` (gray replicated), so every form of the same
            picture gives the same descriptor.
        face_landmarks: the face's 68 landmarks (x, y) in ``image``.
        jitter: dlib re-embeds this many randomly jittered copies and averages (0: none).

    Raises:
        ValueError: landmarks not (68, 2). sr_lib.images.ImageError: not an accepted image.
    """
    import dlib

    from .landmarks import to_uint8

    points = np.asarray(face_landmarks, dtype=np.float64)
    if points.shape != (68, 2):
        raise ValueError(f"embed: expected (68, 2) landmarks, got {points.shape}")
    pixels = to_uint8(image)
    left, top = np.floor(points.min(0)).astype(int)
    right, bottom = np.ceil(points.max(0)).astype(int)
    shape = dlib.full_object_detection(
        dlib.rectangle(int(left), int(top), int(right), int(bottom)),
        [dlib.point(int(round(x)), int(round(y))) for x, y in points],
    )
    return np.asarray(load_model().compute_face_descriptor(pixels, shape, int(jitter)), dtype=np.float64)


def embed_frame(image, fallback_landmarks=None) -> tuple[np.ndarray | None, bool]:
    """Embed the largest face of a frame: ``(descriptor, found)``.

    The face is detected again (a swapped face must be found and landmarked on its own); if no
    face is found, ``fallback_landmarks`` (e.g. those of the original frame) are used and
    ``found`` is False; without a fallback the descriptor is None. ``image``: any accepted
    image, as for :func:`embed`.
    """
    from .landmarks import detect

    faces = detect(image, detect_size=256)
    if faces:
        return embed(image, faces[0].landmarks), True
    if fallback_landmarks is None:
        return None, False
    return embed(image, fallback_landmarks), False


def reference(embeddings) -> np.ndarray:
    """The mean of (n, 128) embeddings of one person: their reference point."""
    e = np.asarray(embeddings, dtype=np.float64)
    if e.ndim != 2 or len(e) == 0:
        raise ValueError(f"reference: expected (n, d) embeddings with n >= 1, got shape {e.shape}")
    return e.mean(axis=0)


def identity_scores(swapped, target_ref, source_ref) -> dict[str, float]:
    """How much the swapped faces look like the target person rather than the source person.

    Args:
        swapped: (n, d) embeddings of swapped faces.
        target_ref, source_ref: (d,) reference embeddings (see :func:`reference`).

    Returns:
        ``{"closer_to_target": share of faces with d(target) < d(source), "distance_target": mean
        Euclidean distance to the target reference, "distance_source": ... to the source one,
        "n": n}``.
    """
    e = np.asarray(swapped, dtype=np.float64)
    if e.ndim != 2 or len(e) == 0:
        raise ValueError(f"identity_scores: expected (n, d) embeddings with n >= 1, got shape {e.shape}")
    d_target = np.linalg.norm(e - np.asarray(target_ref), axis=1)
    d_source = np.linalg.norm(e - np.asarray(source_ref), axis=1)
    return {
        "closer_to_target": float(np.mean(d_target < d_source)),
        "distance_target": float(d_target.mean()),
        "distance_source": float(d_source.mean()),
        "n": int(len(e)),
    }
