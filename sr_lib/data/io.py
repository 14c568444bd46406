"""Reading and writing image files with documented conversions and clear errors.

Every image this module returns follows the library convention: ``float32`` in [0, 1], shape
(H, W, C) with C in {1, 3}. The conversions from what is in the file are:

===========================  =================================================================
File contents                Result
===========================  =================================================================
8-bit samples                divided by 255
16-bit samples (PNG, TIFF)   divided by 65535; float32 has a 24-bit mantissa, so all 16 bits
                             survive (``round(x * 65535)`` gives back the stored integers)
grayscale (L, I;16, 1-bit)   ``mode="keep"``: (H, W, 1); ``mode="RGB"``: replicated to (H, W, 3)
RGBA / LA                    alpha **dropped** (the usual SR convention: models see colour only);
                             use :func:`read_image_with_alpha` to get the alpha as well
palette (P, PA)              expanded to RGB (or RGBA when it has transparency) first
CMYK, YCbCr, LAB, HSV        converted to RGB by Pillow
===========================  =================================================================

**Orientation.** Cameras store a portrait photo as a landscape pixel grid plus an EXIF
*Orientation* tag saying how to turn it for display. ``read_image(path)`` applies the tag
(``orientation="apply"``, the default), so a user's photo is upscaled and written the way every
viewer shows it (the written file carries no tag, so it must be upright itself). Paired benchmark
files (an LR and an HR file of the same scene) are read with ``orientation="ignore"`` by
:mod:`sr_lib.data.datasets`: pixels as stored, so the pair stays aligned pixel for pixel even if only
one of the two files kept its tag. ICC profiles are ignored either way.

**Size limit.** Pillow refuses images of more than ``2 * PIL.Image.MAX_IMAGE_PIXELS`` pixels
(about 179 million) as possible decompression bombs: a 1-bit PNG of 20000 x 20000 pixels is a few
kilobytes on disk and 400 MB decoded. Such a file raises :class:`ImageTooLargeError`, which says
so and how to allow it (raise ``PIL.Image.MAX_IMAGE_PIXELS``; ``python -m sr_lib``: ``--max-pixels``).

**Writing.** :func:`write_image` (through :func:`sr_lib.files.atomic_path`) writes to a temporary file in the destination folder and renames it over the destination only once the whole
file is written, so a failed or interrupted write never leaves a half-written file or destroys an
earlier result.

Why two decoders: Pillow (13.x, checked) reads 16-bit *grayscale* PNG and TIFF exactly (mode
``I;16``), but silently reduces 16-bit RGB, RGBA and gray+alpha PNG, and 16-bit RGB TIFF, to 8 bits
per sample (modes ``RGB`` / ``RGBA``; gray+alpha PNG even becomes ``RGBA``). For those files the
samples come from OpenCV, which keeps them as uint16 (in BGR(A) order). Pillow still decodes the file first, because it reports
truncated or corrupt data as an error, whereas a decoder that returns partial images would let a
broken file through.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from sr_lib import images
from sr_lib.files import atomic_path

__all__ = ["ImageReadError", "ImageTooLargeError", "read_image", "read_image_with_alpha", "write_image",
           "ORIENTATIONS"]

#: EXIF Orientation tag (0x0112) -> the NumPy transform of an (H, W, C) array that shows the image
#: upright, as the EXIF 2.3 standard defines the values and ``PIL.ImageOps.exif_transpose`` applies them.
ORIENTATIONS = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],  # mirrored left-right
    3: lambda a: a[::-1, ::-1],  # rotated 180 degrees
    4: lambda a: a[::-1],  # mirrored top-bottom
    5: lambda a: np.swapaxes(a, 0, 1),  # transposed (mirrored about the main diagonal)
    6: lambda a: np.rot90(a, k=-1),  # stored turned 90 degrees anticlockwise: turn clockwise
    7: lambda a: np.swapaxes(a[::-1, ::-1], 0, 1),  # transversed (mirrored about the anti-diagonal)
    8: lambda a: np.rot90(a, k=1),  # stored turned 90 degrees clockwise: turn anticlockwise
}
_EXIF_ORIENTATION = 0x0112

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour types whose 16-bit form Pillow reduces to 8 bits (0 = gray is read exactly, 3 = palette
# cannot be 16-bit): 2 = RGB, 4 = gray + alpha, 6 = RGBA.
_PNG_TYPES_PILLOW_REDUCES = {2, 4, 6}
_GRAY_16_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I"}


class ImageReadError(ValueError):
    """A file exists but cannot be read as an image; the message names the file and the problem."""


class ImageTooLargeError(ImageReadError):
    """A valid image with more pixels than Pillow's decompression-bomb limit; the message says how to allow it."""


def read_image(path: str | os.PathLike, *, mode: str = "RGB", orientation: str = "apply") -> np.ndarray:
    """Read an image file as float32 in [0, 1], shape (H, W, C).

    Args:
        path: an image file Pillow can read (PNG, JPEG, BMP, TIFF, WebP, ...).
        mode: ``"RGB"`` always returns C = 3 (grayscale replicated to three channels);
            ``"keep"`` returns C = 1 for grayscale files and C = 3 for colour files.
        orientation: ``"apply"`` turns the pixels as the file's EXIF Orientation tag says (what a
            viewer shows: a portrait photo comes back portrait); ``"ignore"`` returns them as
            stored (for paired LR/HR files, see the module doc).

    Returns:
        float32 array in [0, 1], (H, W, 3) or, with ``mode="keep"`` and a grayscale file, (H, W, 1).
        Any alpha channel is dropped (see :func:`read_image_with_alpha`).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ImageReadError: the file is not an image, is corrupt or truncated, or has an unsupported
            pixel format. The message names the file.
        ImageTooLargeError: (an ``ImageReadError``) more pixels than Pillow's decompression-bomb
            limit; the message says how to allow it.
        ValueError: ``mode`` or ``orientation`` is not one of the values above.
    """
    image, _ = read_image_with_alpha(path, mode=mode, orientation=orientation)
    return image


def read_image_with_alpha(
    path: str | os.PathLike, *, mode: str = "RGB", orientation: str = "apply"
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read an image and its alpha channel separately, e.g. to upscale the alpha on its own.

    Args:
        path, mode, orientation: as for :func:`read_image`.

    Returns:
        ``(image, alpha)``: ``image`` exactly as :func:`read_image` returns it, and ``alpha`` a
        float32 (H, W, 1) array in [0, 1] (1 = opaque), or ``None`` when the file has no alpha
        channel or transparency (so callers do not invent an alpha channel the input never had).

    Raises:
        As :func:`read_image`.
    """
    if mode not in ("RGB", "keep"):
        raise ValueError(f"read_image: mode must be 'RGB' or 'keep', got {mode!r}")
    if orientation not in ("apply", "ignore"):
        raise ValueError(f"read_image: orientation must be 'apply' or 'ignore', got {orientation!r}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Image file not found: {path}")
    if path.is_dir():
        raise ImageReadError(f"Cannot read image {path}: it is a directory, not a file")

    samples, tag = _decode(path)  # uint8 / uint16, (H, W, C) with C in {1, 2, 3, 4}; 2 and 4 carry alpha
    if orientation == "apply":
        # Applied to the decoded samples (not with ImageOps on the Pillow image) so that the 16-bit
        # samples OpenCV decodes are turned too.
        samples = ORIENTATIONS.get(tag, ORIENTATIONS[1])(samples)
    channels = samples.shape[2]
    scale = 255.0 if samples.dtype == np.uint8 else 65535.0
    # float32 division of integers below 2**24 is exact-rounded, so 16-bit values survive intact.
    values = samples.astype(np.float32) / np.float32(scale)

    if channels in (2, 4):
        image, alpha = values[..., :-1], values[..., -1:]
    else:
        image, alpha = values, None
    if mode == "RGB" and image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return np.ascontiguousarray(image), (None if alpha is None else np.ascontiguousarray(alpha))


def write_image(
    path: str | os.PathLike, image: np.ndarray, *, alpha: np.ndarray | None = None, quality: int = 95
) -> Path:
    """Write an image as an 8-bit file; the format follows the extension. Safe against failures.

    The file is written to a temporary file in the same folder and renamed over ``path`` only when
    complete: a failed write (bad shape, full disk, an interrupted run) leaves an existing ``path``
    untouched.

    Args:
        path: destination; ``.png`` (lossless, recommended), ``.jpg``/``.jpeg`` (lossy, ``quality``)
            or any other extension Pillow can write. Missing parent directories are created.
        image: (H, W, 3) colour, or (H, W, 1) / (H, W) saved as grayscale; uint8, uint16 (reduced
            to 8 bits, ``round(v / 257)``) or float in [0, 1] (clipped to [0, 1] and rounded; a
            network's small overshoot is expected). See :mod:`sr_lib.images`.
        alpha: optional (H, W, 1) or (H, W) alpha of an accepted dtype (float: 1 = opaque), saved as
            RGBA / LA; the format must support alpha (PNG does, JPEG does not). A 4-channel
            ``image`` raises: pass its alpha through ``alpha=``.
        quality: JPEG quality 1..100 (ignored for other formats).

    Returns:
        The path written, as a ``Path``.

    Raises:
        sr_lib.images.ImageTypeError: (a ``TypeError``) dtype other than uint8, uint16 or float,
            e.g. int64, whose scale (0..255 or 0..65535?) cannot be known.
        sr_lib.images.ImageRangeError: float values far outside [0, 1] (0..255 data), NaN, inf.
        ValueError: wrong shape, unknown extension, or alpha for JPEG.
    """
    path = Path(path)
    label = f"write_image({path})"
    array = images.as_hwc(image, label)
    if array.shape[-1] == 1:
        array = array[..., 0]
    array = images.to_uint8(array, label)
    if alpha is not None:
        alpha_array = np.asarray(alpha)
        if alpha_array.ndim == 3 and alpha_array.shape[-1] == 1:
            alpha_array = alpha_array[..., 0]
        if alpha_array.shape != array.shape[:2]:
            raise ValueError(f"{label}: alpha shape {np.shape(alpha)} does not match image {np.shape(image)}")
        alpha8 = images.to_uint8(alpha_array, f"{label} alpha")
        if path.suffix.lower() in (".jpg", ".jpeg"):
            raise ValueError(f"{label}: JPEG cannot store alpha; use a .png path")
        array = np.dstack([array, alpha8])  # (H, W, 2) = LA or (H, W, 4) = RGBA

    image_format = Image.registered_extensions().get(path.suffix.lower())
    if image_format is None or image_format not in Image.SAVE:
        raise ValueError(f"{label}: cannot save as {path.suffix or '(no extension)'}: unknown image format")
    pil_image = Image.fromarray(array)  # uint8 (H, W) / (H, W, 2|3|4) -> L / LA / RGB / RGBA
    # Pillow's default JPEG quality is 75, visibly blocky; 95 keeps saved results faithful.
    options = {"quality": int(quality)} if image_format == "JPEG" else {}
    with atomic_path(path) as temporary:
        try:
            pil_image.save(temporary, format=image_format, **options)
        except (KeyError, ValueError) as exc:  # Pillow: unsupported mode for this format
            raise ValueError(f"{label}: cannot save as {path.suffix}: {exc}") from exc
    return path


# ----------------------------------------------------------------------------------------------
# Private helpers


def _decode(path: Path) -> tuple[np.ndarray, int]:
    """Decode ``path`` to integer samples, (H, W, C): C = 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA, and
    its EXIF Orientation tag (1 = upright, also when there is none)."""
    try:
        with warnings.catch_warnings():
            # Images between MAX_IMAGE_PIXELS and twice that are read; Pillow's two-line warning
            # about them would precede the one-line errors of the command line.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            pil = Image.open(path)
        with pil:
            # Image.open only parses the header; load() decodes everything, so truncated or corrupt
            # pixel data fails here with the file name instead of later in some unrelated code.
            pil.load()
            samples = _pillow_samples(pil, path)
            reduced, gray_alpha = _pillow_reduced_16_bit(pil, path)
            tag = _orientation_tag(pil)
    except UnidentifiedImageError as exc:
        raise ImageReadError(f"Cannot read image {path}: not a recognised image file ({exc})") from exc
    except ImageReadError:
        raise
    except Image.DecompressionBombError as exc:
        # Checked before the one below: it is a valid image, just a large one, not a corrupt file.
        limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
        raise ImageTooLargeError(
            f"Cannot read image {path}: too large ({exc}); Pillow refuses more than {limit:,} pixels "
            "as a possible decompression bomb. If you trust the file, raise PIL.Image.MAX_IMAGE_PIXELS "
            "(python -m sr_lib: --max-pixels N)"
        ) from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        # Pillow reports bad data as OSError ("image file is truncated"), SyntaxError (bad headers),
        # ValueError or EOFError depending on the codec.
        raise ImageReadError(
            f"Cannot read image {path}: corrupt or truncated data ({type(exc).__name__}: {exc})"
        ) from exc

    if reduced:
        samples = _read_16_bit_with_cv2(path, gray_alpha, expected_hw=samples.shape[:2])
    return samples, tag


def _orientation_tag(pil: Image.Image) -> int:
    """The EXIF Orientation value 1..8 of an open image; 1 when missing or invalid."""
    try:
        tag = pil.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # a malformed EXIF block must not make the pixels unreadable
        return 1
    return tag if tag in ORIENTATIONS else 1


def _pillow_reduced_16_bit(pil: Image.Image, path: Path) -> tuple[bool, bool]:
    """(did Pillow reduce 16-bit samples to 8 bits?, is the file gray + alpha?) for PNG and TIFF."""
    if pil.format == "PNG":
        bit_depth, colour_type = _png_header(path)
        return bit_depth == 16 and colour_type in _PNG_TYPES_PILLOW_REDUCES, colour_type == 4
    if pil.format == "TIFF" and pil.mode not in _GRAY_16_MODES:
        bits = pil.tag_v2.get(258, (8,))  # BitsPerSample, one entry per channel
        bits = bits if isinstance(bits, tuple) else (bits,)
        return max(bits) == 16, pil.mode == "LA"
    return False, False


def _pillow_samples(pil: Image.Image, path: Path) -> np.ndarray:
    """Pillow image -> uint8/uint16 (H, W, C) array, following the conversions in the module doc."""
    mode = pil.mode
    has_transparency = "transparency" in pil.info
    if mode in ("P", "PA"):
        pil = pil.convert("RGBA" if (mode == "PA" or has_transparency) else "RGB")
    elif mode in ("L", "RGB") and has_transparency:
        # A tRNS chunk (one colour marked transparent) is an alpha channel in disguise.
        pil = pil.convert("LA" if mode == "L" else "RGBA")
    elif mode == "1":
        pil = pil.convert("L")  # bilevel -> 0 / 255
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        pil = pil.convert("RGB")

    if pil.mode in ("L", "LA", "RGB", "RGBA"):
        array = np.asarray(pil, dtype=np.uint8)
    elif pil.mode in _GRAY_16_MODES:
        # 16-bit grayscale ("I;16*"; older Pillow used 32-bit "I" for it). Mode "I" is accepted only
        # when the file itself stores 16 bits (PNG IHDR bit depth, TIFF BitsPerSample): a 32-bit
        # integer image has no agreed mapping to [0, 1] and is refused rather than guessed at.
        raw = np.asarray(pil)
        if pil.mode == "I" and _file_bit_depth(pil, path) != 16:
            values = f", values {raw.min()}..{raw.max()}" if raw.size else ""
            raise ImageReadError(
                f"Cannot read image {path}: 32-bit integer samples (Pillow mode I{values}) are not "
                "supported: their scale to [0, 1] is unknown; convert the file to 8- or 16-bit"
            )
        if raw.size and (raw.min() < 0 or raw.max() > 65535):
            raise ImageReadError(
                f"Cannot read image {path}: mode {pil.mode} with values {raw.min()}..{raw.max()} "
                "is outside the 16-bit range 0..65535"
            )
        array = raw.astype(np.uint16)
    else:
        raise ImageReadError(
            f"Cannot read image {path}: unsupported pixel mode {pil.mode!r} "
            "(expected 8/16-bit gray, RGB, RGBA or palette)"
        )
    if array.ndim == 2:
        array = array[..., None]
    return array


def _file_bit_depth(pil: Image.Image, path: Path) -> int | None:
    """Bits per sample the file stores (PNG IHDR, TIFF BitsPerSample), None for other formats."""
    if pil.format == "PNG":
        return _png_header(path)[0]
    if pil.format == "TIFF":
        bits = pil.tag_v2.get(258, (None,))
        bits = bits if isinstance(bits, tuple) else (bits,)
        return max(bits) if bits and None not in bits else None
    return None


def _png_header(path: Path) -> tuple[int, int]:
    """(bit depth, colour type) from the PNG IHDR chunk, which the format fixes at bytes 24-25."""
    with open(path, "rb") as handle:
        head = handle.read(26)
    if len(head) < 26 or not head.startswith(_PNG_SIGNATURE) or head[12:16] != b"IHDR":
        raise ImageReadError(f"Cannot read image {path}: malformed PNG header")
    return head[24], head[25]


def _read_16_bit_with_cv2(path: Path, gray_alpha: bool, expected_hw: tuple[int, int]) -> np.ndarray:
    """16-bit colour PNG / TIFF -> uint16 (H, W, C) in RGB(A) or gray+alpha order, via OpenCV."""
    import cv2  # only needed for this case; keeps the import cost off the common path

    # imdecode from bytes rather than imread(path): cv2.imread fails on non-ASCII paths on Windows.
    data = np.fromfile(path, dtype=np.uint8)
    bgr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if bgr is None or bgr.dtype != np.uint16 or bgr.shape[:2] != tuple(expected_hw):
        raise ImageReadError(f"Cannot read image {path}: OpenCV could not decode its 16-bit samples")
    if bgr.ndim == 2:
        return bgr[..., None]
    channels = bgr.shape[2]
    if channels == 4 and gray_alpha:
        # OpenCV expands gray+alpha to BGRA with the gray value in all three colour channels.
        return np.ascontiguousarray(bgr[..., [0, 3]])
    if channels == 4:
        return np.ascontiguousarray(bgr[..., [2, 1, 0, 3]])
    if channels == 3:
        return np.ascontiguousarray(bgr[..., ::-1])
    return np.ascontiguousarray(bgr)  # 1 gray or 2 gray+alpha: already in order
