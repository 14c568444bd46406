"""The swap score: is it the target person, with the source's expression, as sharp as a real face?

A swapped face can fool a single number. A blurred average face is "closer to the target" than to
a source with glasses, because blur erased the glasses; a face that never opens its mouth matches
the target's identity and ignores what the source does. So every swapped frame is measured three
ways, each against a stated threshold, and the headline is the share of frames that pass all three:

- **identity**: dlib's face descriptor (:mod:`faceswap_lib.identity`) of the swapped face, found
  again by the detector, is closer to the target's reference (the mean descriptor of real target
  faces) than to the source's. The absolute distances are reported too: dlib calls two faces the
  same person below :data:`SAME_PERSON_DISTANCE` (0.6).
- **expression**: mouth opening and eye opening from the 68 landmarks (:func:`mouth_opening`,
  :func:`eye_opening`: lid or lip gaps divided by the inter-ocular distance, so they do not depend
  on the face's size) on the source frame and on the swapped frame; a frame passes when both
  differ by at most :attr:`Thresholds.mouth` and :attr:`Thresholds.eyes`. Over the clip: the
  Pearson correlation and the mean absolute difference. The eye opening is compared as the
  change from each person's own typical (median) opening, because eye shape is part of identity:
  d6's open eyes measure 0.16, d14's 0.135, and a swap that draws d14's eyes as d14 has them must
  not fail for it. The mouth is compared as measured: a shut mouth is 0 for everybody.
- **sharpness**: the high-frequency share of the face (:func:`sharpness`: mean squared Laplacian
  over the variance, inside the inner face of an aligned :data:`ANALYSIS_SIZE` px crop) relative to
  the median of the target's real faces; a frame passes at :attr:`Thresholds.sharpness` (0.5) or
  more. Dividing by the variance makes it blind to the contrast the colour correction sets. Also
  reported, not thresholded: LPIPS (:func:`sr_lib.metrics.lpips`) against the real target face of
  the most similar pose and expression (nearest aligned landmarks), when the VGG-16/LPIPS weights
  are installed (skipped with a note otherwise).

:func:`score_faces` scores measured faces (:func:`measure`) against a :class:`Reference`;
:func:`score_clip` scores a clip written by ``python -m faceswap_lib convert`` against its source
clip, on frames the model never trained on when it was trained with ``--holdout``, next to two
rows that calibrate it: the **blur control** (the source's own decoder pushed through the same
conversion and codec: how far blur alone moves each number) and the **real source** frames.
``python -m faceswap_lib score`` prints :func:`format_report`.

Why these thresholds (measured on the course clips, 8-frame steps through both): the inner-lip gap
runs from 0.00 (closed) to 0.51 inter-ocular distances (d6 laughing; 10th-90th percentile
0.02-0.34), eyes from 0.03 (closed) to 0.20 (10th-90th percentile 0.12-0.19 on d6), so 0.10 and 0.05
allow landmark noise but not a closed mouth for an open one, or an open eye for a shut one.
Sharpness 0.5 is issue 20's target ("at least 50 % of the target's real faces").
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .expression import eye_opening, landmarks68, mouth_opening

__all__ = [
    "SAME_PERSON_DISTANCE",
    "ANALYSIS_SIZE",
    "Thresholds",
    "analysis_crop",
    "sharpness",
    "FaceMeasure",
    "measure",
    "Reference",
    "make_reference",
    "MOVING_MOUTH_STD",
    "expression_coverage",
    "training_openings",
    "face_openings",
    "score_faces",
    "score_clip",
    "format_report",
]

#: dlib's face descriptor: two photos of one person are usually closer than this (Euclidean).
SAME_PERSON_DISTANCE = 0.6
#: Side of the aligned crop on which sharpness and LPIPS are measured (pixels). The face-swap
#: models make 64-128 px faces; measured at 64 px a model is not blamed for detail finer than its
#: own resolution, only for the blur of an averaged face.
ANALYSIS_SIZE = 64
#: Faces taken (evenly spaced) from each person's extract folder for the references.
REFERENCE_FACES = 24


@dataclass(frozen=True)
class Thresholds:
    """Per-frame pass marks. ``mouth`` and ``eyes``: largest |swapped - source| opening, in
    inter-ocular distances; ``sharpness``: smallest ratio to the target's real faces."""

    mouth: float = 0.10
    eyes: float = 0.05
    sharpness: float = 0.5


def analysis_crop(image, landmarks, size: int = ANALYSIS_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """The aligned face at ``size`` px, made as the training crops are: an aligned 4 x ``size`` crop
    (bilinear), shrunk with INTER_AREA (no aliasing to pass for detail).

    Returns ``(crop, points)``: (size, size, 3) float32 RGB in [0, 1] and the (68, 2) landmarks in
    crop pixels. ``image``: any image :mod:`sr_lib.images` accepts.
    """
    import cv2

    from .align import aligned_crop
    from .alignments import AlignedFace
    from .landmarks import to_uint8

    points = landmarks68(landmarks)
    pixels = to_uint8(image).astype(np.float32) / 255
    big, matrix = aligned_crop(pixels, points, 4 * size)
    crop, face = AlignedFace(points, matrix, 4 * size).resize(big, size)
    return np.clip(crop, 0, 1), face.points


def _inner_face(points, size: int) -> np.ndarray:
    """(size, size) bool: the hull of points 17-67 (brows to mouth, no jaw line), eroded by size / 32."""
    import cv2

    from .masks import hull_mask

    mask = hull_mask(np.asarray(points)[17:], (size, size)).astype(np.uint8)
    r = max(1, size // 32)
    return cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))) > 0


def sharpness(crop, points) -> float:
    """High-frequency share of a face: mean squared Laplacian over the variance of the gray levels,
    inside the inner face (:func:`_inner_face`) of an :func:`analysis_crop`.

    The 4-neighbour Laplacian responds to detail at the pixel scale (lashes, lip edges, skin
    texture); dividing by the variance removes the contrast, so a colour-corrected face is compared
    fairly with a real one. Dimensionless, >= 0; blur lowers it. (S, S, 3) float RGB crop in.
    """
    import cv2

    c = np.asarray(crop, dtype=np.float32)
    gray = cv2.cvtColor(c, cv2.COLOR_RGB2GRAY) if c.ndim == 3 else c
    region = _inner_face(points, gray.shape[0])
    if region.sum() < 16:
        raise ValueError("sharpness: the inner face covers fewer than 16 pixels")
    laplacian = cv2.Laplacian(gray, cv2.CV_32F, ksize=1)
    return float(np.mean(laplacian[region] ** 2) / max(float(np.var(gray[region])), 1e-8))


@dataclass
class FaceMeasure:
    """What :func:`measure` found about one face.

    ``found``: the detector found the face itself (False: measured at ``fallback`` landmarks);
    ``landmarks`` (68, 2) in the image; ``descriptor`` (128,) float64; ``mouth``, ``eyes``
    (:func:`mouth_opening`, :func:`eye_opening`); ``sharpness`` (:func:`sharpness`); ``crop``
    (S, S, 3) float32 and ``points`` (68, 2): the :func:`analysis_crop`.
    """

    found: bool
    landmarks: np.ndarray
    descriptor: np.ndarray
    mouth: float
    eyes: float
    sharpness: float
    crop: np.ndarray = field(repr=False)
    points: np.ndarray = field(repr=False)


def measure(image, landmarks=None, *, fallback=None, size: int = ANALYSIS_SIZE) -> FaceMeasure | None:
    """Measure the largest face of ``image`` (any accepted image, e.g. an (H, W, 3) float frame).

    ``landmarks`` (68, 2): measure there instead of detecting (real faces of an extract folder).
    Otherwise the face is detected (on a 256 px copy, then at full size); if none is found, the
    ``fallback`` landmarks are used with ``found=False``; without a fallback, None is returned.
    """
    from .identity import embed
    from .landmarks import detect_faces

    found = True
    if landmarks is None:
        faces = detect_faces(image, detect_size=256)
        if faces:
            landmarks = faces[0].landmarks
        elif fallback is None:
            return None
        else:
            landmarks, found = fallback, False
    landmarks = landmarks68(landmarks)
    crop, points = analysis_crop(image, landmarks, size)
    return FaceMeasure(found, landmarks, embed(image, landmarks), mouth_opening(landmarks), eye_opening(landmarks),
                       sharpness(crop, points), crop, points)


@dataclass
class Reference:
    """The real faces a swap is judged against.

    ``target``, ``source``: (128,) mean descriptors of each person's real faces;
    ``target_sharpness``: the median :func:`sharpness` of the real target faces; ``crops`` (n, S,
    S, 3) and ``shapes`` (n, 68, 2): the target faces' analysis crops and crop landmarks (for LPIPS
    against the nearest one); ``target_eyes``, ``source_eyes``: each person's median
    :func:`eye_opening` (inter-ocular distances), the rest state eye changes are measured from.
    """

    target: np.ndarray
    source: np.ndarray
    target_sharpness: float
    crops: np.ndarray
    shapes: np.ndarray
    target_eyes: float = 0.0
    source_eyes: float = 0.0


def make_reference(target_faces: list[FaceMeasure], source_faces: list[FaceMeasure]) -> Reference:
    """A :class:`Reference` from measured real faces of the target and of the source person."""
    from .identity import reference

    if not target_faces or not source_faces:
        raise ValueError(f"make_reference: need real faces of both people, got {len(target_faces)} target and "
                         f"{len(source_faces)} source faces")
    return Reference(reference([f.descriptor for f in target_faces]), reference([f.descriptor for f in source_faces]),
                     float(np.median([f.sharpness for f in target_faces])),
                     np.stack([f.crop for f in target_faces]), np.stack([f.points for f in target_faces]),
                     float(np.median([f.eyes for f in target_faces])), float(np.median([f.eyes for f in source_faces])))


def lpips_available() -> tuple[bool, str]:
    """``(True, "")`` when the VGG-16/LPIPS weights are installed, else ``(False, why and how to get them)``."""
    from sr_lib.perceptual import converted_weights_file, lpips_heads_file

    missing = [p for p in (converted_weights_file(), lpips_heads_file()) if not p.is_file()]
    if missing:
        return False, (f"LPIPS skipped: {missing[0]} is missing (run `make install` or "
                       "`python -m sr_lib.perceptual fetch` once with internet)")
    return True, ""


def _correlation(x, y) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3 or x.std() < 1e-6 or y.std() < 1e-6:
        return float("nan")  # undefined for a constant series (e.g. a mouth closed all clip long)
    return float(np.corrcoef(x, y)[0, 1])


#: Below this standard deviation of the source's mouth opening (inter-ocular distances) over the
#: scored frames, a mouth correlation measures landmark noise, not expression: the course clip d14's
#: held-out mouth stays shut (std 0.003); talking moves it by 0.1 or more (d6: 0.15).
MOVING_MOUTH_STD = 0.02


def expression_coverage(source_mouth, source_eyes, target_mouth, target_eyes,
                        thresholds: Thresholds = Thresholds(), *, source_eyes_rest: float | None = None,
                        target_eyes_rest: float | None = None) -> dict[str, Any]:
    """Which source expressions the target person ever shows: the best a swap can do on expression.

    A decoder learns to draw its person with the expressions in its training faces; a target that
    never opens its mouth gives a decoder that cannot open one, whatever the recipe (faceswap's and
    DeepFaceLab's guides: the target's faces must cover the source's expressions and poses). A source
    frame is *reachable* when some training face of the target has both its mouth opening and its
    eye opening within the expression thresholds of the frame's (eyes as the change from each
    person's rest opening, as :func:`score_faces` compares them).

    Args:
        source_mouth, source_eyes: (n,) openings of the source frames (:func:`mouth_opening`,
            :func:`eye_opening`: inter-ocular distances, >= 0).
        target_mouth, target_eyes: (m,) openings of the target's training faces, m >= 1.
        thresholds: the tolerances (:attr:`Thresholds.mouth`, :attr:`Thresholds.eyes`).
        source_eyes_rest, target_eyes_rest: each person's rest eye opening (None: the median of
            the given openings).

    Returns:
        ``{"reachable": share of source frames in [0, 1], "reachable_frames": (n,) bools,
        "target_faces": m, "target_mouth_p90": 90th percentile of the target's mouth opening,
        "target_mouth_max", "source_mouth_std", "mouth_moves": source_mouth_std >=
        MOVING_MOUTH_STD (else a mouth correlation measures noise)}``.

    Raises:
        ValueError: an empty series, one that is not 1-D or holds NaN, infinite or negative values,
            mouth and eye series of different lengths, or a rest opening that is not finite and >= 0.
    """
    series = {}
    for name, values in (("source_mouth", source_mouth), ("source_eyes", source_eyes),
                         ("target_mouth", target_mouth), ("target_eyes", target_eyes)):
        array = np.asarray(values, float)
        if array.ndim != 1 or len(array) == 0 or not np.all(np.isfinite(array)) or np.any(array < 0):
            raise ValueError(f"expression_coverage: {name} must be a non-empty 1-D series of finite openings >= 0, "
                             f"got shape {array.shape}" + (" with NaN, infinite or negative values" if array.size else ""))
        series[name] = array
    sm, se, tm, te = series.values()
    if len(tm) != len(te) or len(sm) != len(se):
        raise ValueError(f"expression_coverage: mouth and eye series differ in length: {len(sm)}/{len(se)} source and "
                         f"{len(tm)}/{len(te)} target openings")
    for name, rest in (("source_eyes_rest", source_eyes_rest), ("target_eyes_rest", target_eyes_rest)):
        if rest is not None and not (np.isfinite(rest) and rest >= 0):
            raise ValueError(f"expression_coverage: {name} must be a finite opening >= 0, got {rest}")
    source_rest = float(np.median(se)) if source_eyes_rest is None else float(source_eyes_rest)
    target_rest = float(np.median(te)) if target_eyes_rest is None else float(target_eyes_rest)
    se, te = se - source_rest, te - target_rest  # eye changes from rest: eye shape is identity
    near = ((np.abs(sm[:, None] - tm[None, :]) <= thresholds.mouth)
            & (np.abs(se[:, None] - te[None, :]) <= thresholds.eyes)).any(axis=1)
    std = float(sm.std())
    return {"reachable": float(near.mean()), "reachable_frames": near.tolist(),
            "target_faces": int(len(tm)), "target_mouth_p90": float(np.percentile(tm, 90)),
            "target_mouth_max": float(tm.max()), "source_mouth_std": std, "mouth_moves": std >= MOVING_MOUTH_STD}


def training_openings(folder, held_out: dict[str, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(mouth, eyes)`` openings of an ``extract`` folder's faces (from ``alignments.json``'s
    landmarks; no image is read), leaving out frames >= ``held_out[clip key]`` (the held-out tail).
    Raises as :func:`faceswap_lib.alignments.read_alignments`."""
    from .alignments import read_alignments

    return face_openings(read_alignments(folder, arrays=False)["faces"], held_out)


def face_openings(faces: list[dict], held_out: dict[str, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`training_openings` of faces already read.

    Args:
        faces: ``"faces"`` entries of an ``alignments.json`` (:func:`faceswap_lib.alignments.read_alignments`
            with ``arrays=False``), each with ``"video"``, ``"frame"`` and 68 ``"landmarks"``.
        held_out: clip key -> first held-out frame; those frames and later ones are left out.

    Returns:
        ``(mouth, eyes)``: float64 arrays of shape (n,), one per kept face (possibly empty), in
        inter-ocular distances (:func:`mouth_opening`, :func:`eye_opening`).

    Raises:
        KeyError: an entry without ``"video"``, ``"frame"`` or ``"landmarks"``.
    """
    kept = [f for f in faces if not (held_out and f["video"] in held_out and f["frame"] >= held_out[f["video"]])]
    return (np.array([mouth_opening(f["landmarks"]) for f in kept]),
            np.array([eye_opening(f["landmarks"]) for f in kept]))


def score_faces(source: list[FaceMeasure], swapped: list[FaceMeasure], reference: Reference,
                thresholds: Thresholds = Thresholds(), *, lpips: bool = True,
                swapped_person: str = "target") -> dict[str, Any]:
    """Score swapped faces, frame by frame, against the source faces they were made from.

    Args:
        source: measured faces of the source frames (:func:`measure`).
        swapped: the measured faces of the same frames after the swap (same length and order).
        reference: the real faces of both people (:func:`make_reference`).
        thresholds: the per-frame pass marks.
        lpips: also measure LPIPS against the nearest real target face, if the weights are installed.
        swapped_person: whom the "swapped" faces show: ``"target"`` (a swap) or ``"source"`` (the
            blur control, the real frames): whose rest eye opening their eye change is measured from.

    Returns:
        ``{"summary": {...}, "frames": [{...} per frame]}``. Summary keys: ``n``, ``found`` (share
        re-detected), ``closer_to_target`` (share), ``same_person_as_target`` (share with distance
        to the target < 0.6), ``distance_target`` and ``distance_source`` (means), ``mouth_correlation``,
        ``mouth_difference`` (mean |difference|), ``eyes_correlation``, ``eyes_difference``,
        ``sharpness_ratio`` (median), ``lpips`` (mean, or None) and ``lpips_note``, and the pass
        shares ``identity``, ``expression``, ``sharp`` and ``success`` (all three and re-detected:
        the swap success rate). Shares in [0, 1]; correlations NaN when a series is constant.
    """
    if len(source) != len(swapped) or not source:
        raise ValueError(f"score_faces: need as many swapped as source faces (>= 1), got {len(swapped)} and {len(source)}")
    d_target = np.array([np.linalg.norm(s.descriptor - reference.target) for s in swapped])
    d_source = np.array([np.linalg.norm(s.descriptor - reference.source) for s in swapped])
    ratio = np.array([s.sharpness / max(reference.target_sharpness, 1e-12) for s in swapped])
    mouth_diff = np.array([abs(o.mouth - s.mouth) for s, o in zip(source, swapped)])
    if swapped_person not in ("target", "source"):
        raise ValueError(f"swapped_person must be 'target' or 'source', got {swapped_person!r}")
    rest = reference.target_eyes if swapped_person == "target" else reference.source_eyes
    # eye changes from each person's rest opening: eye shape is identity, not expression
    eyes_diff = np.array([abs((o.eyes - rest) - (s.eyes - reference.source_eyes)) for s, o in zip(source, swapped)])
    found = np.array([s.found for s in swapped])
    identity_ok = d_target < d_source
    expression_ok = (mouth_diff <= thresholds.mouth) & (eyes_diff <= thresholds.eyes)
    sharp_ok = ratio >= thresholds.sharpness
    success = found & identity_ok & expression_ok & sharp_ok
    lpips_values, note = [None] * len(swapped), "LPIPS not asked for"
    if lpips:
        available, note = lpips_available()
        if available:
            from sr_lib.metrics import lpips as lpips_distance

            flat = reference.shapes.reshape(len(reference.shapes), -1)
            nearest = [int(np.argmin(np.linalg.norm(flat - s.points.reshape(1, -1), axis=1))) for s in swapped]
            lpips_values = [lpips_distance(s.crop, reference.crops[k]) for s, k in zip(swapped, nearest)]
            note = f"LPIPS-VGG v0.1 at {swapped[0].crop.shape[0]} px against the nearest of {len(flat)} real target faces"
    frames = [{"found": bool(f), "distance_target": float(dt), "distance_source": float(ds),
               "mouth_source": s.mouth, "mouth_swapped": o.mouth, "eyes_source": s.eyes, "eyes_swapped": o.eyes,
               "sharpness_ratio": float(r), "lpips": lp, "identity": bool(i), "expression": bool(e), "sharp": bool(sh),
               "success": bool(ok)}
              for f, dt, ds, s, o, r, lp, i, e, sh, ok in zip(found, d_target, d_source, source, swapped, ratio,
                                                              lpips_values, identity_ok, expression_ok, sharp_ok, success)]
    summary = {
        "n": len(swapped),
        "found": float(found.mean()),
        "closer_to_target": float(identity_ok.mean()),
        "same_person_as_target": float(np.mean(d_target < SAME_PERSON_DISTANCE)),
        "distance_target": float(d_target.mean()),
        "distance_source": float(d_source.mean()),
        "mouth_correlation": _correlation([s.mouth for s in source], [o.mouth for o in swapped]),
        "mouth_difference": float(mouth_diff.mean()),
        "eyes_correlation": _correlation([s.eyes for s in source], [o.eyes for o in swapped]),
        "eyes_difference": float(eyes_diff.mean()),
        "eyes_rest": [reference.source_eyes, rest],
        "sharpness_ratio": float(np.median(ratio)),
        "lpips": float(np.mean(lpips_values)) if lpips_values[0] is not None else None,
        "lpips_note": note,
        "identity": float(identity_ok.mean()),
        "expression": float(expression_ok.mean()),
        "sharp": float(sharp_ok.mean()),
        "success": float(success.mean()),
    }
    return {"summary": summary, "frames": frames}


def reference_faces(folder, n: int = REFERENCE_FACES, *, exclude: dict[str, int] | None = None) -> list[FaceMeasure]:
    """Measure ``n`` real faces, evenly spaced, of an ``extract`` folder (its crops and landmarks;
    no detection). ``exclude``: ``{clip key: first frame}``: leave out frames >= first frame of
    these clips (the frames being scored). Raises FileNotFoundError / ValueError as
    :func:`faceswap_lib.alignments.read_alignments`, or ValueError when no face is left."""
    import cv2

    from .align import transform_points
    from .alignments import read_alignments

    folder = Path(folder)
    sidecar = read_alignments(folder)
    faces = [f for f in sidecar["faces"]
             if not (exclude and f["video"] in exclude and f["frame"] >= exclude[f["video"]])]
    if not faces:
        raise ValueError(f"{folder}: no real faces left to build a reference from")
    picks = np.unique(np.linspace(0, len(faces) - 1, min(n, len(faces))).round().astype(int))
    measured = []
    for k in picks:
        entry = faces[k]
        pixels = cv2.imread(str(folder / entry["file"]), cv2.IMREAD_COLOR)
        if pixels is None:
            raise FileNotFoundError(f"{folder / entry['file']}: missing or not an image")
        measured.append(measure(pixels[..., ::-1], transform_points(entry["landmarks"], entry["matrix"])))
    return measured


def _through_codec(frames: list[np.ndarray], fps: float) -> list[np.ndarray]:
    """The frames after the video writer ``convert`` uses (mp4v) and back: the same compression."""
    from .convert import open_writer
    from .video import read_frames, to_bgr8

    with tempfile.TemporaryDirectory() as folder:
        h, w = frames[0].shape[:2]
        writer, path = open_writer(Path(folder) / "control.mp4", fps, w, h)
        try:
            for frame in frames:
                writer.write(to_bgr8(frame))
        finally:
            writer.release()
        return [f for _, f in read_frames(path)]


def score_clip(
    source_clip,
    swapped_clip,
    model_dir,
    *,
    direction: str = "a2b",
    every_nth: int = 1,
    start: int = 0,
    frames: int = 40,
    control: bool = True,
    lpips: bool = True,
    source_faces=None,
    target_faces=None,
    thresholds: Thresholds = Thresholds(),
    convert_options: dict | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Score a clip made by ``convert`` from ``source_clip`` with the model in ``model_dir``.

    Frame ``k`` of ``swapped_clip`` is frame ``start + k * every_nth`` of ``source_clip`` (``convert``'s
    ``--start`` and     ``--every-nth``). Only frames the model never trained on are scored when it was trained with
    ``--holdout`` (or the clip is not one it trained on); otherwise all, and the report says the
    frames were trained on. Of those, ``frames`` evenly spaced frames with a face in the source.

    Args:
        direction: ``"a2b"`` (the source clip shows person A, swapped to B) or ``"b2a"``.
        control: also score the blur control: the source frames through the source person's own
            decoder, with the same conversion (``convert_options``: ``blend``, ``color``, ``mask``,
            as given to ``convert``; the model's padding and crop size) and the same codec.
            Loads the model (TensorFlow).
        lpips: measure LPIPS when the weights are installed (a note says why not otherwise).
        source_faces, target_faces: extract folders of the real faces (default: the model's own,
            from its ``faceswap.json``).

    Returns:
        A JSON-able dict: the inputs, ``"frames"`` (source frame indices scored), ``"held_out"``
        (status from :func:`faceswap_lib.model_folder.held_out_frames`), ``"thresholds"``, and
        ``"coverage"``: :func:`expression_coverage` of the scored source frames by the target's
        training faces (the share of frames whose expression the target ever shows: a ceiling on
        the expression and success shares), and
        ``"rows"``: ``{"swapped": ..., "blur control": ..., "source (real)": ...}``, each a
        :func:`score_faces` result.

    Raises:
        FileNotFoundError / faceswap_lib.video.VideoError: a clip or folder missing or unreadable.
        ValueError: no scoreable frame (no face, or every frame trained on and none left).
    """
    from .model_folder import held_out_frames, read_settings
    from .video import read_frames, video_info

    if direction not in ("a2b", "b2a"):
        raise ValueError(f"direction must be 'a2b' or 'b2a', got {direction!r}")
    if every_nth < 1 or frames < 1 or start < 0:
        raise ValueError(f"every_nth and frames must be >= 1 and start >= 0, got {every_nth}, {frames}, {start}")
    settings = read_settings(model_dir)
    src_side, tgt_side = ("a", "b") if direction == "a2b" else ("b", "a")
    first, status = held_out_frames(settings, src_side, source_clip)
    n_swapped = video_info(swapped_clip).frame_count
    candidates = [start + k * every_nth for k in range(n_swapped) if first is None or start + k * every_nth >= first]
    if not candidates:
        raise ValueError(f"{swapped_clip}: none of its {n_swapped} frames is a held-out frame of {source_clip} "
                         f"(held out: frames >= {first}); convert the end of the clip")
    chosen = sorted(set(np.array(candidates)[np.unique(np.linspace(0, len(candidates) - 1,
                                                                   min(len(candidates), 3 * frames)).round().astype(int))].tolist()))
    wanted = set(chosen)
    from sr_lib.images import to_uint8

    # Kept as 8-bit (a quarter of float32's memory): up to 3 x `frames` frames of each clip.
    source_frames = {i: to_uint8(f) for i, f in read_frames(source_clip) if i in wanted}
    swapped_frames = {start + k * every_nth: to_uint8(f) for k, f in read_frames(swapped_clip)
                      if start + k * every_nth in wanted}
    src, kept = [], []
    for i in chosen:  # frames with a face in the source, evenly spaced, at most `frames`
        if i in source_frames and i in swapped_frames:
            m = measure(source_frames[i])
            if m is not None:
                src.append(m)
                kept.append(i)
    if not kept:
        raise ValueError(f"{source_clip}: no face found in the frames to score")
    pick = np.unique(np.linspace(0, len(kept) - 1, min(frames, len(kept))).round().astype(int))
    src, kept = [src[p] for p in pick], [kept[p] for p in pick]
    out = [measure(swapped_frames[i], fallback=s.landmarks) for i, s in zip(kept, src)]
    clip_key = None
    if status == "held out":
        from .model_folder import find_clip

        clip_key = find_clip(settings["holdout"][src_side], source_clip)
    exclude = {clip_key: first} if clip_key else None
    reference = make_reference(reference_faces(target_faces or settings[tgt_side]),
                               reference_faces(source_faces or settings[src_side], exclude=exclude))
    rows = {"swapped": score_faces(src, out, reference, thresholds, lpips=lpips)}
    if control:
        from .convert import add_synthetic_label, swap_face
        from .training import load_model

        model, _ = load_model(model_dir)
        options = dict(convert_options or {})
        made = [swap_face(source_frames[i].astype(np.float32) / 255, s.landmarks, model, src_side, padding=settings.get("padding"),
                          crop_size=settings.get("crop_size", 256), **options)[0] for i, s in zip(kept, src)]
        made = _through_codec([add_synthetic_label(f) for f in made], video_info(source_clip).fps or 25.0)
        rows["blur control"] = score_faces(src, [measure(f, fallback=s.landmarks) for f, s in zip(made, src)],
                                           reference, thresholds, lpips=lpips, swapped_person="source")
    rows["source (real)"] = score_faces(src, src, reference, thresholds, lpips=lpips, swapped_person="source")
    target_held = {k: int(v["first_frame"]) for k, v in ((settings.get("holdout") or {}).get(tgt_side) or {}).items()}
    coverage = expression_coverage([s.mouth for s in src], [s.eyes for s in src],
                                   *training_openings(target_faces or settings[tgt_side], target_held), thresholds,
                                   source_eyes_rest=reference.source_eyes)
    return {
        "source_clip": str(source_clip),
        "swapped_clip": str(swapped_clip),
        "model_dir": str(model_dir),
        "model_steps": int(settings.get("steps", 0)),
        "direction": direction,
        "every_nth": every_nth,
        "start": start,
        "held_out": status,
        "first_held_out_frame": first,
        "frames": kept,
        "thresholds": asdict(thresholds),
        "same_person_distance": SAME_PERSON_DISTANCE,
        "analysis_size": ANALYSIS_SIZE,
        "coverage": coverage,
        "rows": rows,
    }


def _cell(value, kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return {"share": f"{value:.0%}", "num": f"{value:.3f}", "ratio": f"{value:.0%}"}[kind]


def format_report(report: dict[str, Any]) -> str:
    """The report of :func:`score_clip` as a plain-text table (one column per row of the report)."""
    rows = report["rows"]
    names = list(rows)
    t = report["thresholds"]
    seen = {"held out": f"held-out frames (>= {report['first_held_out_frame']}), never trained on",
            "unseen clip": "a clip the model never trained on",
            "trained on": "frames the model TRAINED ON (train with --holdout to keep some out)"}[report["held_out"]]
    lines = [f"swap score: {report['swapped_clip']} ({report['direction']}, model at step {report['model_steps']}), "
             f"{len(report['frames'])} frames: {seen}"]
    width = 46
    lines.append(f"{'':<{width}}" + "".join(f"{n:>16}" for n in names))

    def row(label, key, kind):
        lines.append(f"{label:<{width}}" + "".join(f"{_cell(rows[n]['summary'][key], kind):>16}" for n in names))

    row("face found again by the detector", "found", "share")
    row("identity: closer to the target than source", "closer_to_target", "share")
    row(f"  distance to target < {report['same_person_distance']} (same person)", "same_person_as_target", "share")
    row("  mean distance to the target", "distance_target", "num")
    row("  mean distance to the source", "distance_source", "num")
    row("expression: mouth opening correlation", "mouth_correlation", "num")
    row("  mouth mean |difference| (inter-ocular)", "mouth_difference", "num")
    row("  eye opening correlation", "eyes_correlation", "num")
    row("  eye change mean |difference| (inter-ocular)", "eyes_difference", "num")
    row("  frames within mouth/eye tolerance", "expression", "share")
    row("sharpness vs real target faces (median)", "sharpness_ratio", "ratio")
    row(f"  frames at >= {t['sharpness']:.0%} of the target's", "sharp", "share")
    row("LPIPS to the nearest real target face", "lpips", "num")
    row("SWAP SUCCESS RATE (all three pass)", "success", "share")
    note = rows[names[0]]["summary"]["lpips_note"]
    lines.append(f"thresholds: identity closer to target than to source; |mouth| <= {t['mouth']}, |eyes| <= {t['eyes']} "
                 f"inter-ocular distances; sharpness >= {t['sharpness']:.0%}; measured on {report['analysis_size']} px "
                 f"aligned crops. {note}.")
    if "blur control" in rows:
        lines.append("blur control: the source's own decoder through the same conversion: what blur alone does "
                     "to each number.")
    cover = report.get("coverage")
    if cover:
        lines.append(f"target's expressions: {cover['reachable']:.0%} of these frames have a mouth and eye opening "
                     f"the target shows in some of its {cover['target_faces']} training faces (its mouth: 90th "
                     f"percentile {cover['target_mouth_p90']:.2f}, max {cover['target_mouth_max']:.2f}); a decoder "
                     "draws only expressions it trained on, so this caps the expression and success shares.")
        if not cover["mouth_moves"]:
            lines.append(f"mouth correlation: not meaningful here: the source's mouth barely moves (std "
                         f"{cover['source_mouth_std']:.3f} < {MOVING_MOUTH_STD}), so it measures landmark noise.")
    return "\n".join(lines)
