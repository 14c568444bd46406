"""Convert: put a generated face back into the frame, and write the swapped clip.

For every frame of a source clip (:func:`convert_video`, one frame: :func:`swap_face`):

1. detect the face and its 68 landmarks, cut out the aligned crop at the model's size
   (:mod:`faceswap_lib.align`, the matrix of the training crops);
2. run encoder -> the *other* person's decoder;
3. colour-correct the generated face to the frame's face: mean/std transfer in CIELAB
   (:func:`transfer_color_lab`; E. Reinhard et al., *Color transfer between images*, IEEE CG&A
   21(5), 2001) or per-channel histogram matching (:func:`match_histograms`), both measured
   inside the face mask only;
4. build the mask in the crop (:mod:`faceswap_lib.masks`): the convex hull of the landmarks
   (``hull_mask``), by default extended over the forehead (``extended_points``), eroded so that
   its edge stays inside the face, and feathered with a Gaussian blur (``erode_and_feather``); or
   the mask the decoder predicts;
5. warp face and mask back into the frame with the inverse matrix (:func:`paste_back`);
6. blend: a feathered alpha blend (:func:`alpha_blend`) or Poisson blending with
   ``cv2.seamlessClone`` (:func:`seamless_clone`; P. Pérez, M. Gangnet, A. Blake, *Poisson image
   editing*, SIGGRAPH 2003), which matches the gradients of the face to the frame's boundary;
7. label the frame as synthetic (:func:`add_synthetic_label`), on by default.

Each step is a small pure function on float32 RGB images in [0, 1] (H, W, 3) and float32 masks in
[0, 1] (H, W), unit-tested in ``tests/test_faceswap_convert.py``.

Video output: ``cv2.VideoWriter`` with the ``mp4v`` (MPEG-4 part 2) codec, which the
``opencv-python-headless`` wheels can write; if a build cannot, :func:`open_writer` falls back to
Motion-JPEG in an ``.avi`` next to the requested name and says so. The video and the preview are
written to temporary files beside their final names and renamed only when the run succeeds
(:mod:`faceswap_lib.files`): a failed run never replaces an earlier result, and an output that is
the input clip is refused before anything is opened for writing.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from sr_lib.data.io import write_image
from sr_lib.files import temporary_name

from .landmarks import DEFAULT_DETECT_SIZE
from .masks import erode_and_feather, extended_points, hull_mask
from .video import to_bgr8

__all__ = [
    "SYNTHETIC_TEXT",
    "BLENDS",
    "MASKS",
    "COLORS",
    "transfer_color_lab",
    "match_histograms",
    "alpha_blend",
    "seamless_clone",
    "add_synthetic_label",
    "paste_back",
    "swap_face",
    "open_writer",
    "ConvertSummary",
    "convert_video",
]

#: The label every swapped frame carries by default.
SYNTHETIC_TEXT = "SYNTHETIC"
#: Blending modes of :func:`swap_face`: the whole crop square, the hull hard-edged, feathered, Poisson.
BLENDS = ("none", "hard", "feathered", "seamless")
#: Masks of :func:`swap_face`: the landmarks' hull, the hull with the forehead, the decoder's own.
MASKS = ("hull", "extended", "predicted")
#: Colour corrections of :func:`swap_face`.
COLORS = (None, "lab", "histogram")


def _check_image(image, name: str) -> np.ndarray:
    x = np.asarray(image)
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f"{name}: expected an (H, W, 3) RGB image, got shape {x.shape}")
    return x.astype(np.float32, copy=False)


def _check_mask(mask, shape, name: str) -> np.ndarray:
    m = np.asarray(mask, dtype=np.float32)
    if m.ndim == 3 and m.shape[-1] == 1:
        m = m[..., 0]
    if m.shape != tuple(shape[:2]):
        raise ValueError(f"{name}: mask of shape {m.shape} does not match the image's {tuple(shape[:2])}")
    return m


def _region(mask, shape):
    if mask is None:
        return np.ones(shape[:2], bool)
    region = _check_mask(mask, shape, "colour correction") > 0.5
    if not region.any():
        raise ValueError("colour correction: the mask selects no pixel")
    return region


def transfer_color_lab(source, reference, mask=None) -> np.ndarray:
    """Give ``source`` the per-channel mean and std of ``reference`` in CIELAB (Reinhard et al. 2001).

    ``lab' = (lab - mean_s) * std_r / std_s + mean_r`` per L, a, b channel, statistics over the
    pixels where ``mask > 0.5`` (all pixels without a mask) in each image; applied to every pixel
    of ``source``. Both (H, W, 3) float32 RGB in [0, 1], same size; returns the same, clipped.
    """
    import cv2

    src, ref = _check_image(source, "transfer_color_lab source"), _check_image(reference, "transfer_color_lab reference")
    if src.shape != ref.shape:
        raise ValueError(f"transfer_color_lab: source {src.shape} and reference {ref.shape} differ in size")
    region = _region(mask, src.shape)
    lab_s = cv2.cvtColor(np.clip(src, 0, 1), cv2.COLOR_RGB2Lab)
    lab_r = cv2.cvtColor(np.clip(ref, 0, 1), cv2.COLOR_RGB2Lab)
    mean_s, std_s = lab_s[region].mean(0), lab_s[region].std(0)
    mean_r, std_r = lab_r[region].mean(0), lab_r[region].std(0)
    out = (lab_s - mean_s) * (std_r / np.maximum(std_s, 1e-6)) + mean_r
    out[..., 0] = np.clip(out[..., 0], 0, 100)
    return np.clip(cv2.cvtColor(out.astype(np.float32), cv2.COLOR_Lab2RGB), 0, 1)


def match_histograms(source, reference, mask=None) -> np.ndarray:
    """Per-channel histogram matching of ``source`` to ``reference`` (inside ``mask`` if given).

    Each channel's values are mapped through ``F_ref^-1(F_src(v))``, the empirical CDFs of the
    masked pixels (linear interpolation between the reference's quantiles); the map is applied to
    every pixel. Without a mask this is what ``skimage.exposure.match_histograms`` computes.
    """
    src, ref = _check_image(source, "match_histograms source"), _check_image(reference, "match_histograms reference")
    if src.shape != ref.shape:
        raise ValueError(f"match_histograms: source {src.shape} and reference {ref.shape} differ in size")
    region = _region(mask, src.shape)
    out = np.empty_like(src)
    for c in range(3):
        s_values, s_counts = np.unique(src[..., c][region], return_counts=True)
        r_values, r_counts = np.unique(ref[..., c][region], return_counts=True)
        s_quantiles = np.cumsum(s_counts) / s_counts.sum()
        r_quantiles = np.cumsum(r_counts) / r_counts.sum()
        mapped = np.interp(s_quantiles, r_quantiles, r_values)
        out[..., c] = np.interp(src[..., c], s_values, mapped)
    return np.clip(out, 0, 1).astype(np.float32)


def alpha_blend(background, foreground, alpha) -> np.ndarray:
    """``alpha * foreground + (1 - alpha) * background``, alpha (H, W) in [0, 1]."""
    bg, fg = _check_image(background, "alpha_blend background"), _check_image(foreground, "alpha_blend foreground")
    if bg.shape != fg.shape:
        raise ValueError(f"alpha_blend: background {bg.shape} and foreground {fg.shape} differ in size")
    a = np.clip(_check_mask(alpha, bg.shape, "alpha_blend"), 0, 1)[..., None]
    return (a * fg + (1 - a) * bg).astype(np.float32)


def seamless_clone(background, foreground, mask) -> np.ndarray:
    """Poisson blending of ``foreground`` into ``background`` where ``mask > 0.5`` (``cv2.seamlessClone``).

    Both images are the same size and already aligned (the face is where it belongs), so the
    clone's centre is the centre of the mask's bounding box. The mask is kept 2 pixels away from
    the image border (OpenCV needs a margin around it). Returns float32 RGB in [0, 1]; the
    background unchanged if the mask is empty.
    """
    import cv2

    bg, fg = _check_image(background, "seamless_clone background"), _check_image(foreground, "seamless_clone foreground")
    if bg.shape != fg.shape:
        raise ValueError(f"seamless_clone: background {bg.shape} and foreground {fg.shape} differ in size")
    m = (_check_mask(mask, bg.shape, "seamless_clone") > 0.5).astype(np.uint8) * 255
    m[:2], m[-2:], m[:, :2], m[:, -2:] = 0, 0, 0, 0
    if not m.any():
        return bg.copy()
    x, y, w, h = cv2.boundingRect(m)
    center = (x + w // 2, y + h // 2)
    out = cv2.seamlessClone(to_bgr8(fg), to_bgr8(bg), m, center, cv2.NORMAL_CLONE)
    return out[..., ::-1].astype(np.float32) / 255


def add_synthetic_label(frame, text: str = SYNTHETIC_TEXT) -> np.ndarray:
    """A copy of ``frame`` with ``text`` in white on a black box in the bottom-left corner.

    The text height is about 1/30 of the frame height (at least ~8 pixels): small, but readable.
    Works on float32 [0, 1] or uint8 frames and returns the same dtype.
    """
    import cv2

    out = np.array(frame, copy=True)
    if out.ndim != 3:
        raise ValueError(f"add_synthetic_label: expected an (H, W, C) frame, got shape {out.shape}")
    h, w = out.shape[:2]
    scale = max(h / 900, 0.3)
    thickness = max(1, round(scale * 2))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    pad = max(2, th // 3)
    box_h, box_w = min(h, th + base + 2 * pad), min(w, tw + 2 * pad)
    # OpenCV draws text on 8-bit images only: draw on a black uint8 patch, then copy it in.
    patch = np.zeros((box_h, box_w, out.shape[2]), np.uint8)
    cv2.putText(patch, text, (pad, box_h - base - pad), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255,) * out.shape[2], thickness, cv2.LINE_AA)
    y0 = h - pad - box_h
    out[y0:y0 + box_h, pad:pad + box_w] = patch if out.dtype == np.uint8 else patch.astype(out.dtype) / 255
    return out


def paste_back(crop, matrix, frame_shape, *, interpolation=None) -> np.ndarray:
    """Warp a crop (S, S, C) made with ``matrix`` (frame -> crop) back to frame coordinates (H, W, C).

    Pixels outside the crop's footprint are 0, so an all-ones crop gives the footprint itself.
    """
    import cv2

    from .align import invert

    flags = cv2.INTER_CUBIC if interpolation is None else interpolation
    h, w = frame_shape[:2]
    c = np.asarray(crop, dtype=np.float32)
    out = cv2.warpAffine(c, invert(matrix), (w, h), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if c.ndim == 3 and out.ndim == 2:
        out = out[..., None]
    return np.clip(out, 0, 1)


def swap_face(
    frame,
    face_landmarks,
    model,
    to: str,
    *,
    padding: float | None = None,
    mask: str = "extended",
    blend: str = "seamless",
    color: str | None = "lab",
    erode: float = 0.04,
    feather: float = 0.04,
    crop_size: int = 256,
    forehead: float = 0.3,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Swap the face with ``face_landmarks`` in ``frame`` for a face drawn by decoder ``to``.

    Args:
        frame: (H, W, 3) float32 RGB in [0, 1].
        face_landmarks: (68, 2) landmarks of the face in the frame.
        model: a :class:`~faceswap_lib.models.FaceSwapAutoencoder`.
        to: "a" or "b", the decoder that draws the new face.
        padding: crop padding used in training (default :data:`faceswap_lib.align.DEFAULT_PADDING`).
        mask: one of :data:`MASKS`: "hull" (the landmarks' convex hull), "extended" (the hull
            with the forehead, see :func:`extended_points`) or "predicted" (the decoder's mask).
        blend: one of :data:`BLENDS`: "none" (the whole crop square), "hard" (the mask, 0/1),
            "feathered" (eroded + blurred, alpha blend) or "seamless" (eroded, ``seamlessClone``).
        color: one of :data:`COLORS`: None, "lab" (mean/std in CIELAB) or "histogram".
        erode, feather: erosion and blur sigma as fractions of the crop size.
        forehead: how far the "extended" mask reaches up (see :func:`extended_points`).
        crop_size: the face is cut out at this size and shrunk to the model's, like the training
            crops (``extract`` size, default 256).

    Returns:
        ``(frame_out, details)``; ``details`` holds the model-size ``crop``, the generated
        ``face`` (after colour correction), the crop ``mask`` and the ``matrix``. No label is
        added here (see :func:`add_synthetic_label`).
    """
    from .align import DEFAULT_PADDING, aligned_crop
    from .alignments import AlignedFace

    if blend not in BLENDS:
        raise ValueError(f"blend must be one of {BLENDS}, got {blend!r}")
    if color not in COLORS:
        raise ValueError(f"color must be one of {COLORS}, got {color!r}")
    if mask not in MASKS:
        raise ValueError(f"mask must be one of {MASKS}, got {mask!r}")
    import cv2

    frame = _check_image(frame, "swap_face frame")
    size = model.size
    # Crop as the training faces were made: an aligned crop_size crop, shrunk with INTER_AREA
    # (a direct bilinear 64 px crop of a large face would alias and look unlike the training data).
    padding = DEFAULT_PADDING if padding is None else padding
    big_crop, big_matrix = aligned_crop(frame, face_landmarks, crop_size, padding)
    crop, aligned = AlignedFace(np.asarray(face_landmarks, np.float64), big_matrix, crop_size, padding).resize(big_crop, size)
    matrix = aligned.matrix
    output = model.swap(crop[None], to)[0]
    face = output[..., :3]
    if mask == "predicted":
        if output.shape[-1] != 4:
            raise ValueError("mask='predicted' needs a model trained with mask=True")
        crop_mask = (output[..., 3] > 0.5).astype(np.float32)
    else:
        from .align import transform_points

        points = face_landmarks if mask == "hull" else extended_points(face_landmarks, forehead)
        crop_mask = hull_mask(transform_points(points, matrix), (size, size))
    region = crop_mask if crop_mask.max() > 0.5 else None  # an empty predicted mask: use the whole crop
    if color == "lab":
        face = transfer_color_lab(face, crop, region)
    elif color == "histogram":
        face = match_histograms(face, crop, region)
    e, f = round(erode * size), feather * size
    if blend == "none":
        alpha = np.ones((size, size), np.float32)
    elif blend == "hard":
        alpha = crop_mask
    elif blend == "feathered":
        alpha = erode_and_feather(crop_mask, e, f)
    else:
        alpha = erode_and_feather(crop_mask, e, 0)
    big_face = paste_back(face, matrix, frame.shape)
    big_alpha = paste_back(alpha, matrix, frame.shape, interpolation=cv2.INTER_LINEAR)
    if blend == "seamless":
        out = seamless_clone(frame, big_face, big_alpha)
    else:
        if blend == "hard":
            big_alpha = (big_alpha > 0.5).astype(np.float32)
        out = alpha_blend(frame, big_face, big_alpha)
    return out, {"crop": crop, "face": face, "mask": crop_mask, "alpha": alpha, "matrix": matrix}


@contextlib.contextmanager
def _quiet_fd2():
    """File descriptor 2 into a temporary file for the block: C++ libraries' own notices (OpenCV's
    FFmpeg backend prints to stderr whatever its log level) stay off the terminal."""
    import sys
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def open_writer(path, fps: float, width: int, height: int):
    """``(writer, path)``: an mp4v ``cv2.VideoWriter`` for ``path``, or MJPG ``.avi`` if mp4v fails."""
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _quiet_fd2():  # OpenCV prints "FFMPEG: tag 0x7634706d/'mp4v' is not supported ... fallback" itself
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if writer.isOpened():
        return writer, path
    writer.release()
    fallback = path.with_suffix(".avi")
    print(f"note: this OpenCV build cannot write mp4v; writing Motion-JPEG to {fallback} instead")
    writer = cv2.VideoWriter(str(fallback), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"cannot open a video writer for {path} (neither mp4v nor MJPG work in this OpenCV)")
    return writer, fallback


@dataclass
class ConvertSummary:
    """What :func:`convert_video` did; ``frames_per_second`` counts frames written.

    ``frame_count`` is what the container announces; ``undecodable_frames`` the indices of frames
    OpenCV could not decode (skipped, so the written clip is that many frames shorter; see
    :class:`faceswap_lib.video.ReadReport`), ``read_report`` a sentence about them ("" if none).
    """

    video: str
    out_path: str
    preview_path: str | None
    frames_written: int
    frames_swapped: int
    frames_without_face: list[int] = field(default_factory=list)
    seconds: float = 0.0
    frame_count: int = 0
    undecodable_frames: list[int] = field(default_factory=list)
    read_report: str = ""

    @property
    def frames_per_second(self) -> float:
        return self.frames_written / self.seconds if self.seconds > 0 else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "frames_per_second": self.frames_per_second}


def _past_the_end(video, start: int, frames: int) -> str:
    return (f"{video}: start frame {start} is past the end of the clip: it has only {frames} frames "
            f"(0 to {frames - 1}); give a smaller --start")


def convert_video(
    video,
    model,
    out_path,
    to: str = "b",
    *,
    padding: float | None = None,
    start: int = 0,
    every_nth: int = 1,
    max_frames: int | None = None,
    label: bool = True,
    preview: bool = True,
    progress: bool = True,
    frame_callback: Callable[[int, np.ndarray, np.ndarray, Any], None] | None = None,
    detect_size: int | None = DEFAULT_DETECT_SIZE,
    **swap_kwargs,
) -> ConvertSummary:
    """Swap the face in every frame of ``video`` for decoder ``to``'s face; write a video and a preview.

    Frames ``start, start + every_nth, ...`` are converted (at most ``max_frames``; the others are
    grabbed and skipped, :func:`faceswap_lib.video.read_frames`). Faces are found by
    :func:`faceswap_lib.landmarks.detect_faces` (on a ``detect_size`` copy, then at full
    size; None: full size only). Frames where no face is found are written unchanged (and unlabelled: nothing was swapped).
    Frames that cannot be decoded (a damaged file) are skipped and listed in the summary.
    The preview, ``<out stem>_preview.png`` beside the video, shows up to three frames as
    original | swapped. ``frame_callback(index, original, swapped, face)`` is called for every
    swapped frame (e.g. to measure identity). ``swap_kwargs`` go to :func:`swap_face`.

    Both files are written under temporary names and renamed at the end, so an earlier output
    survives any failure.

    Raises:
        FileNotFoundError / VideoError: the clip is missing or unreadable.
        faceswap_lib.files.SameFileError: ``out_path`` (or its preview) is the input clip.
        ValueError: no face was found in any frame of the clip, or ``start`` is past its last frame
            (the message says how many frames it has).
    """
    from sr_lib.files import FileError, refuse_same_file
    from .landmarks import detect_faces
    from .video import ReadReport, read_frames, video_info

    if start < 0 or every_nth < 1:
        raise ValueError(f"convert_video: need start >= 0 and every_nth >= 1, got {start}, {every_nth}")
    out_path = Path(out_path)
    preview_path = out_path.with_name(out_path.stem + "_preview.png")
    for output in (out_path, out_path.with_suffix(".avi"), preview_path):  # .avi: open_writer's fallback
        refuse_same_file(output, video, what="output")
    if out_path.is_dir():
        raise FileError(out_path, "is a folder; give an output file name such as swapped.mp4")
    info = video_info(video)
    if start and 0 < info.frame_count <= start:
        raise ValueError(_past_the_end(video, start, info.frame_count))
    total = -(-max(info.frame_count - start, 0) // every_nth) if info.frame_count > 0 else 0
    if max_frames is not None:
        total = min(total, max_frames) if total else max_frames
    show = set(np.linspace(0, max(total - 1, 0), 3).round().astype(int).tolist())
    temporary = temporary_name(out_path)
    writer, written_path = open_writer(temporary, info.fps / every_nth or 25.0, info.width, info.height)
    path = out_path.with_suffix(written_path.suffix)  # .avi if open_writer fell back to MJPG
    report = ReadReport()
    frames = read_frames(video, start=start, every_nth=every_nth, max_frames=max_frames, report=report)
    if progress:
        from tqdm import tqdm

        frames = tqdm(frames, total=total or None, desc=f"convert {Path(video).name}", unit="frame", mininterval=1.0)
    summary = ConvertSummary(str(video), str(path), None, 0, 0)
    shown = []
    began = time.perf_counter()
    index = None
    try:
        try:
            for k, (index, frame) in enumerate(frames):
                faces = detect_faces(frame, detect_size=detect_size)
                if faces:
                    swapped, _ = swap_face(frame, faces[0].landmarks, model, to, padding=padding, **swap_kwargs)
                    if frame_callback is not None:
                        frame_callback(index, frame, swapped, faces[0])
                    out = add_synthetic_label(swapped) if label else swapped
                    summary.frames_swapped += 1
                else:
                    out = frame
                    summary.frames_without_face.append(index)
                writer.write(to_bgr8(out))
                summary.frames_written += 1
                if k in show:
                    shown.append(np.concatenate([frame, out], axis=1))
        except KeyboardInterrupt as error:
            from .errors import Interrupted

            where = "before the first frame" if index is None else f"frame {index}"
            raise Interrupted(video, f"interrupted at {where} "
                                     f"({summary.frames_written} frames converted); {out_path} not written") from error
        finally:
            writer.release()
        summary.seconds = time.perf_counter() - began
        summary.frame_count, summary.undecodable_frames = report.frame_count, list(report.undecodable)
        summary.read_report = "" if report.complete else report.message()
        if summary.frames_written == 0 and start > 0:  # a header without a frame count: found out by reading
            raise ValueError(_past_the_end(video, start, report.decoded + len(report.undecodable)))
        if summary.frames_swapped == 0:
            raise ValueError(f"no face found in any of the {summary.frames_written} frames read from {video}")
        if preview and shown:
            summary.preview_path = str(write_image(path.with_name(path.stem + "_preview.png"),
                                                 np.concatenate(shown, axis=0)))
        os.replace(written_path, path)  # the video last: only a complete run replaces an earlier one
    except BaseException:
        written_path.unlink(missing_ok=True)
        raise
    return summary
