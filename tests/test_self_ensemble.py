"""Geometric self-ensemble (``sr_lib.inference.self_ensemble``, "EDSR+"): every transform is undone
(checked with an exactly equivariant upscaler and with one whose error has a known mean), layouts,
metadata and errors carry over, the batch path agrees, and ``edsr_x4`` gains on Set5 as measured."""

import json

import numpy as np
import pytest
from PIL import Image

from sr_lib import images
from sr_lib.cli import main
from sr_lib.inference import Upscaler, self_ensemble


def _nearest(lr, scale):
    """Nearest-neighbour enlargement: exactly equivariant under flips and quarter turns."""
    lr = np.asarray(lr, np.float32)
    assert lr.flags.c_contiguous, "self_ensemble must hand the upscaler contiguous arrays"
    return np.repeat(np.repeat(lr, scale, axis=0), scale, axis=1)


def _ramp(c):
    """Nearest-neighbour plus ``c`` x the output's column index: an error that turns with the image,
    so each transform sees it along another side."""
    def fn(lr, scale):
        out = _nearest(lr, scale)
        ramp = c * np.arange(out.shape[1], dtype=np.float32)
        return out + (ramp[:, None] if out.ndim == 3 else ramp)
    return fn


def _non_symmetric(h, w, *channels, seed=0):
    image = np.random.default_rng(seed).random((h, w, *channels)).astype(np.float32) * 0.5
    assert not np.allclose(image, image[::-1]) and not np.allclose(image, image[:, ::-1])
    return image


def test_an_equivariant_upscaler_is_its_own_ensemble():
    """Any transform not undone (or undone the wrong way) would move pixels of this image."""
    up = Upscaler("nearest", 3, _nearest)
    for shape in ((6, 6), (5, 8, 3)):
        lr = _non_symmetric(*shape)
        np.testing.assert_array_equal(self_ensemble(up)(lr), up(lr))


@pytest.mark.parametrize("h, w", [(6, 6), (4, 7)])
def test_a_turning_error_averages_to_its_known_mean(h, w):
    """Transform k's output, undone, carries the ramp along the columns (k = 0, 2 and their mirrors:
    j and W-1-j) or along the rows (the quarter turns: i and H-1-i), each twice; so the mean adds
    c * (j + W-1-j + i + H-1-i) / 4 = c * (H + W - 2) / 4 everywhere: c * (N - 1) / 2 on a square."""
    scale, c = 2, 0.01
    lr = _non_symmetric(h, w)
    got = self_ensemble(Upscaler("ramp", scale, _ramp(c)))(lr)
    H, W = h * scale, w * scale
    expected = _nearest(lr, scale) + c * (H + W - 2) / 4
    if h == w:
        assert (H + W - 2) / 4 == (H - 1) / 2
    np.testing.assert_allclose(got, expected, atol=1e-6)
    # Not the identity alone, nor any subset: a missing transform would leave part of the ramp.
    assert np.ptp(got - _nearest(lr, scale)) < 1e-5


@pytest.mark.parametrize("shape", [(5, 8), (5, 8, 1), (5, 8, 3), (8, 5, 3)])
def test_layouts_and_non_square_images_keep_their_shape(shape):
    lr = _non_symmetric(*shape)
    out = self_ensemble(Upscaler("ramp", 2, _ramp(0.01)))(lr)
    assert out.shape == (shape[0] * 2, shape[1] * 2, *shape[2:]) and out.dtype == np.float32
    u8 = np.round(lr * 255).astype(np.uint8)  # integer inputs are handed through as they are
    assert self_ensemble(Upscaler("nearest", 2, lambda x, s: _nearest(images.to_float32(x), s)))(u8).shape == out.shape


def test_metadata_and_errors_carry_over():
    up = Upscaler("nearest", 2, _nearest, channel="y", multiple=4, flops_per_pixel=10.0, min_size=2)
    ens = self_ensemble(up)
    assert ens.name == "nearest+" and ens.flops_per_pixel == 80.0
    assert (ens.scale, ens.channel, ens.input, ens.multiple, ens.min_size) == (2, "y", "lr", 4, 2)
    assert self_ensemble(Upscaler("nearest", 2, _nearest)).flops_per_pixel is None
    with pytest.raises(images.ImageShapeError, match="nearest\\+"):
        ens(np.zeros((1, 5), np.float32))
    with pytest.raises(ValueError, match="x2"):
        ens(np.zeros((4, 4), np.float32), 3)


@pytest.mark.parametrize("lr", [np.zeros(5, np.float32), np.float32(0.5), np.zeros((0,), np.float32)])
def test_arrays_without_height_and_width_raise_image_shape_error(lr):
    # Before: numpy's "Axes must be different" from the ensemble, IndexError from the plain upscaler.
    up = Upscaler("nearest", 2, _nearest)
    for upscaler in (up, self_ensemble(up)):
        with pytest.raises(images.ImageShapeError, match="\\(h, w\\) or \\(h, w, C\\)"):
            upscaler(lr)


def test_self_ensemble_takes_an_upscaler():
    with pytest.raises(TypeError, match="takes an Upscaler"):
        self_ensemble(None)


def test_an_upscaler_without_a_fixed_scale_gets_the_callers():
    up = Upscaler("nearest", None, _nearest)
    ens = self_ensemble(up)
    lr = _non_symmetric(4, 5)
    assert ens.scale is None
    np.testing.assert_array_equal(ens(lr, 3), up(lr, 3))
    np.testing.assert_array_equal(ens.at(2)(lr), up(lr, 2))
    with pytest.raises(ValueError, match="any factor"):
        ens(lr)


def test_the_batch_path_equals_the_per_image_path():
    ramp = _ramp(0.01)

    def batch(pieces):
        assert pieces.flags.c_contiguous
        return np.stack([ramp(p, 2) for p in pieces])

    up = Upscaler("ramp", 2, ramp, batch_fn=batch)
    ens = self_ensemble(up)
    pieces = np.stack([_non_symmetric(4, 6, 3, seed=s) for s in range(3)])
    assert ens.batch_fn is not None and self_ensemble(Upscaler("x", 2, ramp)).batch_fn is None
    np.testing.assert_allclose(ens.batch(pieces), np.stack([ens(p) for p in pieces]), atol=1e-6)


def test_a_shipped_model_runs_ensembled():
    from sr_lib import pretrained

    up = pretrained.upscaler("espcn_x2")
    lr = np.round(_non_symmetric(12, 17, 3) * 255).astype(np.uint8)
    plain, ens = up(lr), self_ensemble(up)(lr)
    assert ens.shape == plain.shape == (24, 34, 3) and 0 <= ens.min() and ens.max() <= 1
    assert 0 < np.abs(ens - plain).mean() < 0.02  # a different, nearby estimate


def test_edsr_x4_plus_gains_on_set5(mirror):
    """The measured gain (benchmarks/self_ensemble.py): above the plain model and the 31.0 dB target."""
    from sr_lib import pretrained
    from sr_lib.data import load_benchmark
    from sr_lib.evaluation import evaluate

    pairs = load_benchmark("Set5", 4)
    up = pretrained.upscaler("edsr_x4")
    plain = evaluate(up, pairs, method="edsr_x4", dataset="Set5").mean_psnr
    plus = evaluate(self_ensemble(up), pairs, method="edsr_x4+", dataset="Set5").mean_psnr
    assert plus > plain and plus >= 31.0, (plain, plus)


def _smooth(h, w, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / 7.0
    planes = [0.5 + 0.35 * np.sin(y * rng.uniform(0.5, 1.5) + c) * np.cos(x * rng.uniform(0.5, 1.5) - c)
              for c in range(3)]
    return np.round(np.stack(planes, -1) * 255).astype(np.uint8)


def test_cli_evaluate_runs_the_library_ensemble_and_labels_it(tmp_path, capsys):
    """``--self-ensemble`` scores what ``self_ensemble`` scores, labelled <model>+. Bicubic is symmetric
    under flips, but a quarter turn swaps the order of its two 8-bit-rounded passes: close, not equal."""
    from sr_lib.cli import evaluation_pairs_for
    from sr_lib.evaluation import BASELINES, evaluate

    folder = tmp_path / "hr"
    folder.mkdir()
    Image.fromarray(_smooth(36, 48)).save(folder / "a.png")
    scores = {}
    for flag in ([], ["--self-ensemble"]):
        out = tmp_path / f"r{len(flag)}.json"
        assert main(["evaluate", "--model", "bicubic", "--dataset", str(folder), "--scale", "3", "--quiet",
                     "--no-lpips", "--json", str(out), *flag]) == 0
        scores[bool(flag)] = json.loads(out.read_text())
    assert scores[False]["method"] == "bicubic" and scores[True]["method"] == "bicubic+"
    assert "bicubic+" in capsys.readouterr().out
    pairs, _ = evaluation_pairs_for(str(folder), 3)
    expected = evaluate(self_ensemble(BASELINES["bicubic"].at(3)), pairs).mean_psnr
    assert scores[True]["psnr"] == pytest.approx(expected, abs=1e-9)
    assert abs(scores[True]["psnr"] - scores[False]["psnr"]) < 0.5


def test_cli_upscale_with_self_ensemble(tmp_path, capsys):
    Image.fromarray(_smooth(13, 18)).save(tmp_path / "in.png")
    assert main(["upscale", str(tmp_path / "in.png"), str(tmp_path / "out.png"), "--model", "espcn_x2",
                 "--self-ensemble"]) == 0
    with Image.open(tmp_path / "out.png") as im:
        assert np.asarray(im).shape == (26, 36, 3)
    assert "espcn_x2+" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["upscale", "--help"])
    assert "8x slower, EDSR+ style" in " ".join(capsys.readouterr().out.split())  # argparse wraps lines
