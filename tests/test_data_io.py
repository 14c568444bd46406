"""Tests for sr_lib.data.io: conversions on read, errors that name the file, write round trips."""

import cv2
import numpy as np
import pytest
from PIL import Image

from sr_lib.data.io import ImageReadError, read_image, read_image_with_alpha, write_image


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _check_float_image(image, shape):
    assert image.dtype == np.float32
    assert image.shape == shape
    assert image.min() >= 0.0 and image.max() <= 1.0


def test_rgb8_png_round_trip(tmp_path, rng):
    pixels = rng.integers(0, 256, (9, 13, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "rgb.png")
    image = read_image(tmp_path / "rgb.png")
    _check_float_image(image, (9, 13, 3))
    np.testing.assert_allclose(image, pixels / 255.0, atol=1e-7)
    np.testing.assert_array_equal(np.round(image * 255).astype(np.uint8), pixels)


def test_grayscale_keep_and_rgb(tmp_path, rng):
    pixels = rng.integers(0, 256, (7, 5), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "gray.png")
    kept = read_image(tmp_path / "gray.png", mode="keep")
    _check_float_image(kept, (7, 5, 1))
    np.testing.assert_allclose(kept[..., 0], pixels / 255.0, atol=1e-7)
    rgb = read_image(tmp_path / "gray.png", mode="RGB")
    _check_float_image(rgb, (7, 5, 3))
    for channel in range(3):
        np.testing.assert_array_equal(rgb[..., channel], kept[..., 0])


def test_rgb_file_with_keep_stays_rgb(tmp_path, rng):
    Image.fromarray(rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)).save(tmp_path / "c.jpg")
    assert read_image(tmp_path / "c.jpg", mode="keep").shape == (4, 6, 3)


def test_rgba_alpha_dropped_and_returned(tmp_path, rng):
    pixels = rng.integers(0, 256, (6, 8, 4), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "rgba.png")
    image = read_image(tmp_path / "rgba.png")
    _check_float_image(image, (6, 8, 3))
    np.testing.assert_allclose(image, pixels[..., :3] / 255.0, atol=1e-7)
    rgb, alpha = read_image_with_alpha(tmp_path / "rgba.png")
    np.testing.assert_array_equal(rgb, image)
    _check_float_image(alpha, (6, 8, 1))
    np.testing.assert_allclose(alpha[..., 0], pixels[..., 3] / 255.0, atol=1e-7)


def test_la_and_no_alpha(tmp_path, rng):
    pixels = rng.integers(0, 256, (5, 4, 2), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "la.png")  # uint8 (H, W, 2) -> mode LA
    gray, alpha = read_image_with_alpha(tmp_path / "la.png", mode="keep")
    np.testing.assert_allclose(gray[..., 0], pixels[..., 0] / 255.0, atol=1e-7)
    np.testing.assert_allclose(alpha[..., 0], pixels[..., 1] / 255.0, atol=1e-7)
    Image.fromarray(pixels[..., 0]).save(tmp_path / "l.png")
    assert read_image_with_alpha(tmp_path / "l.png")[1] is None


def test_gray16_png_exact(tmp_path, rng):
    pixels = rng.integers(0, 65536, (6, 9), dtype=np.uint16)
    pixels[0, :2] = (0, 65535)
    cv2.imwrite(str(tmp_path / "g16.png"), pixels)
    kept = read_image(tmp_path / "g16.png", mode="keep")
    _check_float_image(kept, (6, 9, 1))
    np.testing.assert_array_equal(kept[..., 0], pixels.astype(np.float32) / np.float32(65535))
    np.testing.assert_array_equal(np.round(kept[..., 0] * 65535).astype(np.uint16), pixels)
    assert read_image(tmp_path / "g16.png").shape == (6, 9, 3)


def test_rgb16_and_rgba16_exact(tmp_path, rng):
    # Pillow would reduce these to 8 bits; the reader must keep all 16.
    rgba = rng.integers(0, 65536, (5, 7, 4), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "c16.png"), np.ascontiguousarray(rgba[..., 2::-1]))  # cv2 wants BGR
    image = read_image(tmp_path / "c16.png")
    np.testing.assert_array_equal(image, rgba[..., :3].astype(np.float32) / np.float32(65535))

    cv2.imwrite(str(tmp_path / "c16.tif"), np.ascontiguousarray(rgba[..., 2::-1]))  # Pillow reduces this too
    np.testing.assert_array_equal(read_image(tmp_path / "c16.tif"), image)

    cv2.imwrite(str(tmp_path / "c16a.png"), np.ascontiguousarray(rgba[..., [2, 1, 0, 3]]))
    image, alpha = read_image_with_alpha(tmp_path / "c16a.png")
    np.testing.assert_array_equal(image, rgba[..., :3].astype(np.float32) / np.float32(65535))
    np.testing.assert_array_equal(alpha[..., 0], rgba[..., 3].astype(np.float32) / np.float32(65535))


def test_palette_image(tmp_path, rng):
    pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    palette_image = Image.fromarray(pixels).quantize(colors=16)
    assert palette_image.mode == "P"
    palette_image.save(tmp_path / "p.png")
    expected = np.asarray(palette_image.convert("RGB")) / 255.0
    image = read_image(tmp_path / "p.png", mode="keep")
    _check_float_image(image, (8, 8, 3))
    np.testing.assert_allclose(image, expected, atol=1e-7)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.png"):
        read_image(tmp_path / "nope.png")


def test_garbage_bytes(tmp_path):
    (tmp_path / "x.png").write_bytes(b"this is not an image at all" * 10)
    with pytest.raises(ImageReadError, match="x.png"):
        read_image(tmp_path / "x.png")


@pytest.mark.parametrize("bits", [8, 16])
def test_truncated_png(tmp_path, rng, bits):
    dtype = np.uint8 if bits == 8 else np.uint16
    pixels = rng.integers(0, np.iinfo(dtype).max, (64, 64, 3), dtype=dtype)
    cv2.imwrite(str(tmp_path / "full.png"), pixels)
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "half.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="half.png"):
        read_image(tmp_path / "half.png")


def test_write_image_round_trip(tmp_path, rng):
    image = rng.random((6, 10, 3), dtype=np.float32)
    path = write_image(tmp_path / "new" / "dir" / "out.png", image)
    assert path.exists()
    np.testing.assert_allclose(read_image(path), np.round(image * 255) / 255, atol=1e-7)

    gray = rng.random((6, 10, 1), dtype=np.float32)
    write_image(tmp_path / "gray.png", gray)
    assert Image.open(tmp_path / "gray.png").mode == "L"
    np.testing.assert_allclose(read_image(tmp_path / "gray.png", mode="keep"), np.round(gray * 255) / 255, atol=1e-7)

    # Out-of-range values are clipped, not wrapped.
    write_image(tmp_path / "clip.png", np.broadcast_to(np.array([1.3, -0.3, 0.25], np.float32), (2, 2, 3)))
    np.testing.assert_allclose(read_image(tmp_path / "clip.png")[0, 0], [1.0, 0.0, 64 / 255], atol=1e-7)

    # JPEG by extension (lossy), and alpha into PNG.
    write_image(tmp_path / "out.jpg", image)
    assert Image.open(tmp_path / "out.jpg").format == "JPEG"
    alpha = rng.random((6, 10, 1), dtype=np.float32)
    write_image(tmp_path / "rgba.png", image, alpha=alpha)
    _, alpha_back = read_image_with_alpha(tmp_path / "rgba.png")
    np.testing.assert_allclose(alpha_back, np.round(alpha * 255) / 255, atol=1e-7)


def test_write_image_takes_uint8_and_uint16_but_rejects_other_integers(tmp_path, rng):
    """uint8 and uint16 have one meaning (sr_lib.images); int64 could be 0..255 or 0..65535 data."""
    rgb8 = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    write_image(tmp_path / "u8.png", rgb8)
    write_image(tmp_path / "u16.png", rgb8.astype(np.uint16) * 257)  # 257 * v / 65535 == v / 255
    for name in ("u8.png", "u16.png"):
        with Image.open(tmp_path / name) as im:
            np.testing.assert_array_equal(np.asarray(im), rgb8)
    with pytest.raises(TypeError, match="int64"):
        write_image(tmp_path / "i64.png", rgb8.astype(np.int64))
    with pytest.raises(ValueError, match=r"0\.\.255|255"):
        write_image(tmp_path / "f255.png", rgb8.astype(np.float32))
    assert not (tmp_path / "i64.png").exists() and not (tmp_path / "f255.png").exists()


def _write_png16(path, samples, colour_type):
    """Minimal 16-bit PNG writer (OpenCV cannot write gray + alpha)."""
    import struct
    import zlib

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    height, width = samples.shape[:2]
    rows = b"".join(b"\x00" + samples[y].astype(">u2").tobytes() for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    )


def test_gray_alpha16_png_exact(tmp_path, rng):
    # Pillow opens this as 8-bit RGBA; the reader must return 16-bit gray + alpha.
    samples = rng.integers(0, 65536, (4, 6, 2), dtype=np.uint16)
    _write_png16(tmp_path / "la16.png", samples, colour_type=4)
    gray, alpha = read_image_with_alpha(tmp_path / "la16.png", mode="keep")
    np.testing.assert_array_equal(gray[..., 0], samples[..., 0].astype(np.float32) / np.float32(65535))
    np.testing.assert_array_equal(alpha[..., 0], samples[..., 1].astype(np.float32) / np.float32(65535))


# --------------------------------------------------------------------------- 32-bit integers, bomb warning

def test_32_bit_integer_tiff_is_refused_not_read_as_16_bit(tmp_path):
    from PIL import Image

    from sr_lib.data.io import ImageReadError, read_image

    path = tmp_path / "i32.tif"
    Image.fromarray(np.arange(1, 255, dtype=np.int32).reshape(2, 127), "I").save(path)
    assert Image.open(path).mode == "I"
    with pytest.raises(ImageReadError, match=r"i32\.tif.*32-bit integer.*mode I, values 1\.\.254"):
        read_image(path)


def test_mode_i_is_still_accepted_when_the_file_is_16_bit(tmp_path):
    """Older Pillow returned 16-bit gray PNG as mode I: the file's own bit depth decides."""
    from PIL import Image

    from sr_lib.data import io

    values = np.arange(0, 65535, 257, dtype=np.uint16).reshape(15, 17)
    path = tmp_path / "g16.png"
    Image.fromarray(values).save(path)
    np.testing.assert_array_equal(np.round(io.read_image(path, mode="keep")[..., 0] * 65535), values)
    with Image.open(path) as pil:
        as_i = pil.convert("I")
        as_i.format = "PNG"
        np.testing.assert_array_equal(io._pillow_samples(as_i, path)[..., 0], values)


def test_a_large_header_gives_no_decompression_bomb_warning(tmp_path):
    import warnings
    import zlib

    from sr_lib.data.io import ImageReadError, read_image

    def chunk(kind, data):
        return (len(data).to_bytes(4, "big") + kind + data
                + zlib.crc32(kind + data).to_bytes(4, "big"))

    ihdr = (12000).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])  # 12000 x 12000 8-bit gray
    path = tmp_path / "big.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100))
                     + chunk(b"IEND", b""))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageReadError, match="big.png"):
            read_image(path)
