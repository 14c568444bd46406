"""``python -m sr_lib``: upscale keeps the image mode and matches the library; evaluate follows the protocol;
every kind of bad input gets one clear error line."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from sr_lib.cli import main

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _run(*args):
    return subprocess.run([sys.executable, "-m", "sr_lib", *args], capture_output=True, text=True, env=ENV,
                          timeout=300)


def _smooth(h, w, channels, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / 9.0
    planes = [0.5 + 0.35 * np.sin(y * rng.uniform(0.5, 1.5) + c) * np.cos(x * rng.uniform(0.5, 1.5) - c)
              for c in range(channels)]
    return np.round(np.stack(planes, -1) * 255).astype(np.uint8)


def test_help_lists_the_subcommands():
    done = _run("--help")
    assert done.returncode == 0
    for word in ("upscale", "evaluate", "models"):
        assert word in done.stdout


def test_upscale_a_folder_keeps_modes_and_skips_a_broken_file(tmp_path):
    """One subprocess run (TensorFlow starts once): RGB, grayscale, RGBA and a corrupt file."""
    from sr_lib import pretrained
    from sr_lib.data.imresize import imresize
    from sr_lib.inference import upscale_via_y

    src = tmp_path / "in"
    src.mkdir()
    rgb, gray = _smooth(30, 41, 3), _smooth(25, 20, 1, seed=1)[..., 0]
    alpha = np.linspace(0, 255, 30 * 41).reshape(30, 41).astype(np.uint8)
    Image.fromarray(rgb).save(src / "rgb.png")
    Image.fromarray(gray).save(src / "gray.png")
    Image.fromarray(np.dstack([rgb, alpha])).save(src / "rgba.png")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    done = _run("upscale", str(src), str(tmp_path / "out"), "--model", "espcn_x2", "--tile", "16", "--overlap", "8")
    assert done.returncode == 1, done.stderr  # the broken file was skipped
    assert "broken.png" in done.stderr
    out = tmp_path / "out"
    with Image.open(out / "rgb.png") as im:
        assert (im.mode, im.size) == ("RGB", (82, 60))
        got = np.asarray(im).astype(int)
    with Image.open(out / "gray.png") as im:
        assert (im.mode, im.size) == ("L", (40, 50))
    with Image.open(out / "rgba.png") as im:
        assert im.mode == "RGBA"
        got_alpha = np.asarray(im)[..., 3].astype(int)
    # Tiled CLI output == the library's whole-image upscale_via_y (within rounding to 8 bits).
    whole = upscale_via_y(pretrained.load("espcn_x2"), rgb.astype(np.float32) / 255, 2)
    assert np.abs(got - np.round(whole * 255)).max() <= 1
    expected_alpha = np.round(np.clip(imresize(alpha.astype(np.float32) / 255, 2), 0, 1) * 255)
    assert np.abs(got_alpha - expected_alpha).max() <= 1
    assert not (out / "broken.png").exists()


def test_sixteen_bit_gray_is_written_as_eight_bit_gray(tmp_path):
    image = (np.linspace(0, 65535, 24 * 20).reshape(24, 20)).astype(np.uint16)
    Image.fromarray(image).save(tmp_path / "deep.png")
    assert main(["upscale", str(tmp_path / "deep.png"), str(tmp_path / "up.png"), "--model", "bicubic",
                 "--scale", "2", "--quiet"]) == 0
    with Image.open(tmp_path / "up.png") as im:
        assert (im.mode, im.size) == ("L", (40, 48))
        up = np.asarray(im).astype(int)
    # A smooth ramp stays a ramp: the 16-bit values were read on the right scale (not as 0..255 clipped).
    assert up[0, 0] < 5 and up[-1, -1] > 250


@pytest.mark.parametrize("args, message", [
    (["upscale", "{img}", "{img}", "--model", "bicubic", "--scale", "2"], "overwrite the input"),
    (["upscale", "{dir}", "{dir}", "--model", "bicubic", "--scale", "2"], "overwrite the inputs"),
    (["upscale", "{img}", "{tmp}/o.png", "--model", "espcn_x9"], "unknown model 'espcn_x9'"),
    (["upscale", "{tmp}/missing.png", "{tmp}/o.png", "--model", "espcn_x2"], "does not exist"),
    (["upscale", "{tmp}/junk.png", "{tmp}/o.png", "--model", "bicubic", "--scale", "2"], "junk.png"),
    (["upscale", "{img}", "{tmp}/o.png", "--model", "espcn_x2", "--scale", "3"], "x2"),
    (["upscale", "{img}", "{tmp}/o.png", "--model", "bicubic"], "needs --scale"),
    (["evaluate", "--model", "bicubic", "--scale", "2", "--dataset", "{tmp}/nowhere"], "nor a folder"),
])
def test_bad_input_gives_one_clear_error(tmp_path, capsys, args, message):
    (tmp_path / "d").mkdir()
    Image.fromarray(_smooth(12, 12, 3)).save(tmp_path / "d" / "a.png")
    (tmp_path / "junk.png").write_text("not an image")
    fill = {"img": str(tmp_path / "d" / "a.png"), "dir": str(tmp_path / "d"), "tmp": str(tmp_path)}
    assert main([a.format(**fill) for a in args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err
    assert not (tmp_path / "o.png").exists()


def test_evaluate_bicubic_on_a_folder_matches_a_numpy_psnr(tmp_path):
    """Folder of HR images -> LR by imresize -> bicubic -> PSNR-Y with border = scale, checked by hand."""
    from sr_lib.data.imresize import imresize

    folder = tmp_path / "hr"
    folder.mkdir()
    images = [_smooth(36, 48, 3, seed=s) for s in range(2)]
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"img{i}.png")
    assert main(["evaluate", "--model", "bicubic", "--dataset", str(folder), "--scale", "3", "--quiet",
                 "--no-lpips", "--json", str(tmp_path / "r.json")]) == 0
    result = json.loads((tmp_path / "r.json").read_text())

    def y(rgb8):  # BT.601 luma on the 0..255 scale, as the published MATLAB code computes it
        rgb = rgb8.astype(np.float64)
        return 16 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255

    expected = []
    for image in images:
        lr = imresize(image, 1 / 3)  # uint8 in and out, rounded between the passes like MATLAB
        sr = imresize(lr, 3)  # uint8 in, uint8 out: MATLAB's bicubic on the 8-bit LR
        diff = (y(sr) - y(image))[3:-3, 3:-3]
        expected.append(10 * np.log10(255.0**2 / np.mean(diff**2)))
    assert result["scale"] == 3 and len(result["per_image"]) == 2
    assert result["psnr"] == pytest.approx(np.mean(expected), abs=0.01)


def test_evaluate_espcn_x4_reproduces_its_registered_set5_score(mirror, capsys):
    from sr_lib import pretrained

    assert main(["evaluate", "--model", "espcn_x4", "--dataset", "Set5", "--quiet", "--no-lpips"]) == 0
    recorded = pretrained.registry()["espcn_x4"]["scores"]["Set5"]["psnr"]
    assert f"{recorded:.2f}" in capsys.readouterr().out


def _lpips_weights():
    from sr_lib import perceptual

    if not (perceptual.converted_weights_file().is_file() and perceptual.lpips_heads_file().is_file()):
        pytest.skip("LPIPS weights not converted: run `make install` or `python -m sr_lib.perceptual fetch`")


def test_evaluate_reports_lpips_beside_psnr_and_ssim(tmp_path):
    """LPIPS by default: RGB, 8-bit, border = scale, per image and mean, in the table and the JSON."""
    from sr_lib.data.imresize import imresize
    from sr_lib.lpips import lpips

    _lpips_weights()
    folder = tmp_path / "hr"
    folder.mkdir()
    image = _smooth(48, 60, 3, seed=4)
    Image.fromarray(image).save(folder / "a.png")
    assert main(["evaluate", "--model", "bicubic", "--dataset", str(folder), "--scale", "2", "--quiet",
                 "--json", str(tmp_path / "r.json")]) == 0
    result = json.loads((tmp_path / "r.json").read_text())
    sr = imresize(imresize(image, 1 / 2), 2)  # MATLAB's bicubic on the 8-bit LR, uint8 out
    expected = lpips(sr[2:-2, 2:-2], image[2:-2, 2:-2])
    assert result["lpips"] == pytest.approx(expected, abs=1e-6)
    assert result["per_image"][0]["lpips"] == pytest.approx(expected, abs=1e-6)
    assert 0 < expected < 1


def test_evaluate_without_lpips_weights_says_how_to_get_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SRFS_CACHE_DIR", str(tmp_path / "empty_cache"))
    folder = tmp_path / "hr"
    folder.mkdir()
    Image.fromarray(_smooth(48, 48, 3, seed=1)).save(folder / "a.png")
    assert main(["evaluate", "--model", "bicubic", "--dataset", str(folder), "--scale", "2", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "make install" in err and "--no-lpips" in err


def test_an_rgb_model_from_any_factory_runs_through_load_and_the_cli(tmp_path, monkeypatch):
    """Registry entries are not limited to ESPCN: a U-Net (RGB, input sizes divisible by 2) works too."""
    import keras

    from sr_lib import pretrained
    from sr_lib.inference import predict
    from sr_lib.models import unet

    monkeypatch.setenv("SRFS_WEIGHTS_DIR", str(tmp_path / "weights"))
    keras.utils.set_random_seed(3)
    kwargs = {"scale": 2, "channels": 3, "filters": 4, "depth": 1}
    model = unet(**kwargs)
    pretrained.save(model, "tiny_unet_x2", factory="unet", kwargs=kwargs,
                    metadata={"channel": "rgb", "multiple": 2, "steps": 0, "data": "none"})
    assert pretrained.info("tiny_unet_x2")["channel"] == "rgb"
    image = _smooth(21, 30, 3)  # odd height: the CLI has to pad to the multiple and crop back
    Image.fromarray(image).save(tmp_path / "in.png")
    assert main(["upscale", str(tmp_path / "in.png"), str(tmp_path / "out.png"), "--model", "tiny_unet_x2",
                 "--tile", "0", "--quiet"]) == 0
    with Image.open(tmp_path / "out.png") as im:
        got = np.asarray(im).astype(int)
    expected = np.round(predict(model, image.astype(np.float32) / 255, multiple=2) * 255)
    assert got.shape == (42, 60, 3) and np.abs(got - expected).max() <= 1


def test_a_too_small_image_in_a_folder_is_skipped_like_a_corrupt_one(tmp_path):
    """edsr_x4 needs 2x2 pixels (its bicubic residual mirror-pads 2): a 1x1 image in a folder is
    reported and skipped, the rest of the folder is upscaled, status 1 (it used to abort with 2)."""
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(src / "a_tiny.png")
    Image.fromarray(_smooth(6, 7, 3)).save(src / "b_ok.png")
    (src / "c_broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    done = _run("upscale", str(src), str(tmp_path / "out"), "--model", "edsr_x4", "--quiet")
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if "a_tiny.png" in line]
    assert len(lines) == 1 and "too small" in lines[0] and "2x2" in lines[0], done.stderr
    assert "c_broken.png" in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["b_ok.png"]
