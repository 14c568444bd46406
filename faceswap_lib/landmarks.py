"""Find faces and their 68 landmarks with dlib.

Two classic models, both from dlib (D. E. King, *Dlib-ml: a machine learning toolkit*, JMLR 10,
2009):

- the **frontal face detector**: a linear classifier on HOG features (N. Dalal, B. Triggs,
  *Histograms of oriented gradients for human detection*, CVPR 2005) slid over an image pyramid.
  It finds roughly frontal faces of at least about 80 x 80 pixels (smaller ones after
  ``upsample``), in milliseconds on a CPU;
- the **68-point shape predictor**: an ensemble of regression trees (V. Kazemi, J. Sullivan,
  *One millisecond face alignment with an ensemble of regression trees*, CVPR 2014) trained on
  iBUG 300-W, which places the 68 points of the 300-W scheme inside a detector box. The model file
  ``shape_predictor_68_face_landmarks.dat`` ships in the ``face-recognition-models`` package; set
  ``$FACESWAP_LANDMARK_MODEL`` or pass ``model_path=`` to use another copy.

The 68 points, 0-based (see :data:`REGIONS`): jaw 0-16, right brow 17-21, left brow 22-26,
nose 27-35, right eye 36-41, left eye 42-47, mouth 48-67 ("right" is the person's right, on the
left of the image). Points are (x, y) pixel coordinates, x to the right, y down, with pixel
centres at integers.

Images: every public function here takes the images :mod:`sr_lib.images` defines, alike: uint8
(0..255), uint16 (0..65535) or float in [0, 1]; layout (H, W), (H, W, 1) or (H, W, 3) RGB. A float
array beyond [-0.5, 1.5] (such as 0..255 data in a float array) raises
:class:`sr_lib.images.ImageRangeError` rather than being clipped to white; other dtypes raise
:class:`sr_lib.images.ImageTypeError`. Four channels (RGBA): the alpha channel is **dropped**
(faces are found in the colour channels; alpha says nothing about them). Everything is converted
to 8 bits by :func:`to_uint8` (dlib works on 8-bit images), so the same picture in any of these
forms gives exactly the same boxes and landmarks.

Both models are loaded on first use and kept, so importing this module is cheap.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sr_lib import images

__all__ = [
    "Face",
    "REGIONS",
    "REGION_COLOURS",
    "FLIP_PERMUTATION",
    "MODEL_ENV",
    "default_model_path",
    "DEFAULT_DETECT_SIZE",
    "detect",
    "detect_faces",
    "detect_boxes",
    "load_models",
    "predict_landmarks",
    "read_imglab_xml",
    "to_uint8",
]

#: Environment variable that overrides the 68-point model file.
MODEL_ENV = "FACESWAP_LANDMARK_MODEL"

#: Long side (pixels) of the frame copy the detector sees in :func:`detect_faces` (extract,
#: convert and score): a face filling a 480-512 px close-up is still far above the detector's
#: 80-pixel window at this size, and detection is ~4-8x faster than at full resolution.
DEFAULT_DETECT_SIZE = 256

#: Index ranges of the 68-point (iBUG 300-W) scheme, by face region.
REGIONS: dict[str, range] = {
    "jaw": range(0, 17),
    "right brow": range(17, 22),
    "left brow": range(22, 27),
    "nose": range(27, 36),
    "right eye": range(36, 42),
    "left eye": range(42, 48),
    "mouth": range(48, 68),
}

#: One colour per region, for drawing (both brows and both eyes share a colour).
REGION_COLOURS: dict[str, str] = {
    "jaw": "#4daf4a",
    "right brow": "#ff7f00",
    "left brow": "#ff7f00",
    "nose": "#e6c800",
    "right eye": "#377eb8",
    "left eye": "#377eb8",
    "mouth": "#e41a1c",
}


def _flip_permutation() -> np.ndarray:
    pairs = [(i, 16 - i) for i in range(8)]  # jaw
    pairs += [(17 + i, 26 - i) for i in range(5)]  # brows
    pairs += [(31, 35), (32, 34)]  # nostrils; the bridge 27-30 and the tip 33 map to themselves
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
    pairs += [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58)]  # outer lip
    pairs += [(60, 64), (61, 63), (65, 67)]  # inner lip
    perm = np.arange(68)
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return perm


#: ``mirrored[FLIP_PERMUTATION]`` relabels the points of a horizontally mirrored face, so that
#: point 36 is again the outer corner of the (new) right eye, and so on.
FLIP_PERMUTATION: np.ndarray = _flip_permutation()


@dataclass(frozen=True)
class Face:
    """One detected face.

    Attributes:
        box: (left, top, right, bottom) in pixels of the image given to :func:`detect`, as dlib
            reports it (right and bottom inclusive, so the width is ``right - left + 1``).
        landmarks: (68, 2) float64 (x, y) pixel coordinates of the 68 points.
        score: the detector's confidence (larger is surer; 0 for boxes given by the caller).
    """

    box: tuple[int, int, int, int]
    landmarks: np.ndarray
    score: float = 0.0

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0] + 1

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1] + 1

    @property
    def area(self) -> int:
        return self.width * self.height


def default_model_path() -> Path:
    """``$FACESWAP_LANDMARK_MODEL`` if set, else the 68-point model of ``face-recognition-models``.

    The package is located without importing it: its ``__init__`` imports ``pkg_resources``,
    which recent setuptools versions no longer ship.
    """
    if os.environ.get(MODEL_ENV):
        return Path(os.environ[MODEL_ENV]).expanduser()
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the 68-point landmark model needs the package face-recognition-models "
            f"(pip install face-recognition-models), or set {MODEL_ENV} to a "
            "shape_predictor_68_face_landmarks.dat file"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "models" / "shape_predictor_68_face_landmarks.dat"


@functools.lru_cache(maxsize=1)
def _detector():
    import dlib  # lazy: dlib is only needed once faces are detected

    return dlib.get_frontal_face_detector()


@functools.lru_cache(maxsize=4)
def _predictor(path: str):
    import dlib

    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: landmark model not found (set {MODEL_ENV} or pass model_path=)")
    return dlib.shape_predictor(path)


def load_models(model_path: str | os.PathLike | None = None) -> None:
    """Load the detector and the landmark model now (the first call takes a few seconds: the
    68-point model is a 100 MB file); later calls return at once. :func:`detect` calls it too."""
    _detector()
    _predictor(str(model_path or default_model_path()))


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Any accepted image -> C-contiguous (H, W, 3) uint8 RGB, the form dlib and OpenCV get.

    Args:
        image: (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) array; uint8, uint16 or float in [0, 1]
            (values up to 0.5 outside are clipped).

    Returns:
        (H, W, 3) uint8. Gray is replicated to three channels: dlib's HOG detector scores a 2-D
        gray array slightly differently from the same gray in three channels (measured on the
        astronaut photo: 1.467 against 1.495), so all gray layouts are made into one. uint16 is
        divided by 257 and rounded, float multiplied by 255 and rounded (``sr_lib.images.to_uint8``,
        the library's one rule); 4 channels lose the alpha channel.

    Raises:
        sr_lib.images.ImageTypeError: a dtype other than uint8, uint16, float.
        sr_lib.images.ImageRangeError: float values outside [-0.5, 1.5] (0..255 data?), NaN, inf.
        sr_lib.images.ImageShapeError: any other shape.
    """
    array = images.as_hwc(image, alpha="drop")
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    return np.ascontiguousarray(images.to_uint8(array))


def _resize_for_detection(image: np.ndarray, detect_size: int | None) -> tuple[np.ndarray, float]:
    """Shrink so the long side is ``detect_size`` (never enlarge); return (image, factor)."""
    long_side = max(image.shape[:2])
    if detect_size is None or long_side <= detect_size:
        return image, 1.0
    import cv2

    factor = detect_size / long_side
    new_size = (max(1, round(image.shape[1] * factor)), max(1, round(image.shape[0] * factor)))
    # INTER_AREA averages the pixels a small pixel covers: no aliasing to confuse the HOG features.
    small = cv2.resize(image, new_size, interpolation=cv2.INTER_AREA)
    return small, image.shape[1] / new_size[0]


def detect_boxes(
    image: np.ndarray, *, upsample: int = 0, detect_size: int | None = None
) -> list[tuple[tuple[int, int, int, int], float]]:
    """Face boxes ``[((left, top, right, bottom), score), ...]``, largest first.

    Args:
        image: (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) (alpha dropped); uint8, uint16 or
            float in [0, 1] (see the module notes; converted by :func:`to_uint8`).
        upsample: how many times dlib doubles the image first; each doubling finds faces half as
            large (the detector's window is 80 x 80 pixels) and costs about 4x the time.
        detect_size: if given and the image's long side is larger, detect on a copy shrunk to
            this long side, and scale the boxes back up (much faster on large frames with large
            faces; faces smaller than about ``80 * long_side / detect_size`` pixels are missed).

    Returns:
        Boxes in the pixel coordinates of ``image``, sorted by area (largest first).

    Raises:
        sr_lib.images.ImageError: not an accepted image (see :func:`to_uint8`).
    """
    pixels = to_uint8(image)
    small, factor = _resize_for_detection(pixels, detect_size)
    rects, scores, _ = _detector().run(small, int(upsample), 0.0)
    boxes = []
    for rect, score in zip(rects, scores):
        box = tuple(int(round(v * factor)) for v in (rect.left(), rect.top(), rect.right(), rect.bottom()))
        boxes.append((box, float(score)))
    boxes.sort(key=lambda b: -(b[0][2] - b[0][0] + 1) * (b[0][3] - b[0][1] + 1))
    return boxes


def predict_landmarks(image: np.ndarray, box, *, model_path: str | os.PathLike | None = None) -> np.ndarray:
    """The 68 landmarks of the face in ``box``.

    Args:
        image: at full resolution; any accepted image (see :func:`to_uint8`).
        box: (left, top, right, bottom) pixels, as :func:`detect_boxes` or an annotation gives
            it. The predictor was trained on boxes of dlib's detector, so other boxes (e.g. a
            tight crop) work less well.
        model_path: the ``.dat`` model (default: :func:`default_model_path`).

    Returns:
        (68, 2) float64 (x, y) pixel coordinates. Points may lie outside the image when the face
        is cut off by the border.

    Raises:
        sr_lib.images.ImageError: not an accepted image. FileNotFoundError: no model file.
    """
    import dlib

    left, top, right, bottom = (int(round(v)) for v in box)
    predictor = _predictor(str(model_path or default_model_path()))
    shape = predictor(to_uint8(image), dlib.rectangle(left, top, right, bottom))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def detect(
    image: np.ndarray,
    *,
    upsample: int = 0,
    detect_size: int | None = None,
    model_path: str | os.PathLike | None = None,
) -> list[Face]:
    """All faces in ``image`` with their 68 landmarks, largest first; ``[]`` if there is none.

    The boxes come from the HOG detector (see :func:`detect_boxes` for ``upsample`` and
    ``detect_size``); the landmarks are always predicted on the full-resolution image.
    ``image``: any accepted image, see :func:`to_uint8` (4 channels: alpha dropped).

    Raises:
        sr_lib.images.ImageError: not an accepted image. FileNotFoundError: no model file.
    """
    pixels = to_uint8(image)  # convert once, not once per face
    return [
        Face(box, predict_landmarks(pixels, box, model_path=model_path), score)
        for box, score in detect_boxes(pixels, upsample=upsample, detect_size=detect_size)
    ]


def read_imglab_xml(path: str | os.PathLike) -> list[tuple[str, tuple[int, int, int, int], np.ndarray]]:
    """Faces annotated in a dlib ``imglab`` XML file (e.g. ``testing_with_face_landmarks.xml``).

    Returns:
        One ``(image_file, box, landmarks)`` per annotated box: the image path relative to the
        XML file's folder, the box as (left, top, right, bottom) in the convention of
        :class:`Face` (the XML stores left, top, width, height), and the (68, 2) float64 points
        in the order of their ``name`` attribute. Boxes without 68 parts are skipped.
    """
    import xml.etree.ElementTree as ET

    faces = []
    for image in ET.parse(path).getroot().iter("image"):
        for box in image.findall("box"):
            parts = sorted(box.findall("part"), key=lambda part: int(part.get("name")))
            if len(parts) != 68:
                continue
            left, top, width, height = (int(box.get(k)) for k in ("left", "top", "width", "height"))
            points = np.array([(float(p.get("x")), float(p.get("y"))) for p in parts])
            faces.append((image.get("file"), (left, top, left + width - 1, top + height - 1), points))
    return faces


def detect_faces(
    image: np.ndarray,
    *,
    detect_size: int | None = DEFAULT_DETECT_SIZE,
    upsample: int = 0,
    model_path: str | os.PathLike | None = None,
) -> list[Face]:
    """Faces of a video frame, largest first: detect on a small copy, retry at full size if none.

    The HOG detector runs on a copy shrunk to ``detect_size`` pixels on the long side (fast); if it
    finds no face there (a face too small for the shrunk copy), the full-resolution image is tried
    before giving up. ``detect_size`` None, or an image no larger than it: one full-size pass.
    Landmarks are always predicted at full resolution (see :func:`detect`).

    Args:
        image: any accepted image (see :func:`to_uint8`), e.g. an (H, W, 3) uint8 or float32 frame.
        detect_size: long side of the first pass, pixels (None: full resolution only).
        upsample, model_path: as for :func:`detect`.

    Returns:
        A list of :class:`Face` (``[]`` if neither pass found one).

    Raises:
        sr_lib.images.ImageError: not an accepted image. FileNotFoundError: no model file.
    """
    pixels = to_uint8(image)
    found = detect(pixels, upsample=upsample, detect_size=detect_size, model_path=model_path)
    if not found and detect_size is not None and max(pixels.shape[:2]) > detect_size:
        found = detect(pixels, upsample=upsample, detect_size=None, model_path=model_path)
    return found
