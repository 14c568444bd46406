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

Pixels are returned as stored: EXIF orientation and ICC profiles are ignored, so paired LR/HR
files stay aligned pixel for pixel.

Why two decoders: Pillow (13.x, checked) reads 16-bit *grayscale* PNG and TIFF exactly (mode
``I;16``), but silently reduces 16-bit RGB, RGBA and gray+alpha PNG, and 16-bit RGB TIFF, to 8 bits
per sample (modes ``RGB`` / ``RGBA``; gray+alpha PNG even becomes ``RGBA``). For those files the
samples come from OpenCV, which keeps them as uint16 (in BGR(A) order). Pillow still decodes the file first, because it reports
truncated or corrupt data as an error, whereas a decoder that returns partial images would let a
broken file through.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from sr_lib.metrics import to_uint8

__all__ = ["ImageReadError", "read_image", "read_image_with_alpha", "write_image"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour types whose 16-bit form Pillow reduces to 8 bits (0 = gray is read exactly, 3 = palette
# cannot be 16-bit): 2 = RGB, 4 = gray + alpha, 6 = RGBA.
_PNG_TYPES_PILLOW_REDUCES = {2, 4, 6}
_GRAY_16_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I"}


class ImageReadError(ValueError):
    """A file exists but cannot be read as an image; the message names the file and the problem."""


def read_image(path: str | os.PathLike, *, mode: str = "RGB") -> np.ndarray:
    """Read an image file as float32 in [0, 1], shape (H, W, C).

    Args:
        path: an image file Pillow can read (PNG, JPEG, BMP, TIFF, WebP, ...).
        mode: ``"RGB"`` always returns C = 3 (grayscale replicated to three channels);
            ``"keep"`` returns C = 1 for grayscale files and C = 3 for colour files.

    Returns:
        float32 array in [0, 1], (H, W, 3) or, with ``mode="keep"`` and a grayscale file, (H, W, 1).
        Any alpha channel is dropped (see :func:`read_image_with_alpha`).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ImageReadError: the file is not an image, is corrupt or truncated, or has an unsupported
            pixel format. The message names the file.
        ValueError: ``mode`` is not ``"RGB"`` or ``"keep"``.
    """
    image, _ = read_image_with_alpha(path, mode=mode)
    return image


def read_image_with_alpha(path: str | os.PathLike, *, mode: str = "RGB") -> tuple[np.ndarray, np.ndarray | None]:
    """Read an image and its alpha channel separately, e.g. to upscale the alpha on its own.

    Args:
        path, mode: as for :func:`read_image`.

    Returns:
        ``(image, alpha)``: ``image`` exactly as :func:`read_image` returns it, and ``alpha`` a
        float32 (H, W, 1) array in [0, 1] (1 = opaque), or ``None`` when the file has no alpha
        channel or transparency (so callers do not invent an alpha channel the input never had).

    Raises:
        As :func:`read_image`.
    """
    if mode not in ("RGB", "keep"):
        raise ValueError(f"read_image: mode must be 'RGB' or 'keep', got {mode!r}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Image file not found: {path}")
    if path.is_dir():
        raise ImageReadError(f"Cannot read image {path}: it is a directory, not a file")

    samples = _decode(path)  # uint8 / uint16, (H, W, C) with C in {1, 2, 3, 4}; 2 and 4 carry alpha
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
    """Write a float image in [0, 1] as an 8-bit file; the format follows the extension.

    Args:
        path: destination; ``.png`` (lossless, recommended), ``.jpg``/``.jpeg`` (lossy, ``quality``)
            or any other extension Pillow can write. Missing parent directories are created.
        image: float array, (H, W, 3) colour, or (H, W, 1) / (H, W) saved as grayscale.
        alpha: optional float (H, W, 1) or (H, W) alpha in [0, 1], saved as RGBA / LA; the format
            must support alpha (PNG does, JPEG does not).
        quality: JPEG quality 1..100 (ignored for other formats).

    Returns:
        The path written, as a ``Path``.

    Raises:
        TypeError: ``image`` (or ``alpha``) is not a float array; an integer image is rejected
            rather than guessed at, because 0..255 data would silently become a white image.
        ValueError: wrong shape, NaN/inf values, unknown extension, or alpha for JPEG.
    """
    path = Path(path)
    array = _float_to_uint8(image, "image", path)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)):
        raise ValueError(
            f"write_image({path}): expected (H, W, 3), (H, W, 1) or (H, W), got shape {np.shape(image)}; "
            "pass an alpha channel through alpha=, not as a 4th channel"
        )
    if alpha is not None:
        alpha8 = _float_to_uint8(alpha, "alpha", path)
        alpha8 = alpha8[..., 0] if alpha8.ndim == 3 and alpha8.shape[2] == 1 else alpha8
        if alpha8.shape != array.shape[:2]:
            raise ValueError(
                f"write_image({path}): alpha shape {np.shape(alpha)} does not match image {np.shape(image)}"
            )
        if path.suffix.lower() in (".jpg", ".jpeg"):
            raise ValueError(f"write_image({path}): JPEG cannot store alpha; use a .png path")
        array = np.dstack([array, alpha8])  # (H, W, 2) = LA or (H, W, 4) = RGBA

    path.parent.mkdir(parents=True, exist_ok=True)
    pil_image = Image.fromarray(array)  # uint8 (H, W) / (H, W, 2|3|4) -> L / LA / RGB / RGBA
    try:
        if path.suffix.lower() in (".jpg", ".jpeg"):
            # Pillow's default quality is 75, visibly blocky; 95 keeps saved results faithful.
            pil_image.save(path, quality=int(quality))
        else:
            pil_image.save(path)
    except (KeyError, ValueError) as exc:  # Pillow: unknown extension / unsupported mode for format
        raise ValueError(f"write_image({path}): cannot save as {path.suffix or '(no extension)'}: {exc}") from exc
    return path


# ----------------------------------------------------------------------------------------------
# Private helpers


def _decode(path: Path) -> np.ndarray:
    """Decode ``path`` to integer samples, (H, W, C): C = 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA."""
    try:
        with Image.open(path) as pil:
            # Image.open only parses the header; load() decodes everything, so truncated or corrupt
            # pixel data fails here with the file name instead of later in some unrelated code.
            pil.load()
            samples = _pillow_samples(pil, path)
            reduced, gray_alpha = _pillow_reduced_16_bit(pil, path)
    except UnidentifiedImageError as exc:
        raise ImageReadError(f"Cannot read image {path}: not a recognised image file ({exc})") from exc
    except ImageReadError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        # Pillow reports bad data as OSError ("image file is truncated"), SyntaxError (bad headers),
        # ValueError or EOFError depending on the codec.
        raise ImageReadError(
            f"Cannot read image {path}: corrupt or truncated data ({type(exc).__name__}: {exc})"
        ) from exc

    if reduced:
        samples = _read_16_bit_with_cv2(path, gray_alpha, expected_hw=samples.shape[:2])
    return samples


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
        # 16-bit grayscale ("I;16*"; older Pillow used 32-bit "I" for it). Anything outside
        # 0..65535 is not 16-bit data and has no agreed mapping to [0, 1].
        raw = np.asarray(pil)
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


def _float_to_uint8(image: np.ndarray, what: str, path: Path) -> np.ndarray:
    """float [0, 1] -> uint8, rounded. Values outside [0, 1] are clipped: a network's output
    overshoots slightly and clipping is what every SR evaluation does before quantising."""
    array = np.asarray(image)
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"write_image({path}): {what} must be float in [0, 1], got dtype {array.dtype}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"write_image({path}): {what} contains NaN or infinite values")
    return to_uint8(array)
