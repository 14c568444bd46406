"""Adaptive SR (sr_lib.adaptive): seamless reassembly, top-k routing, FLOPs accounting, scores, errors."""

import numpy as np
import pytest
from scipy import ndimage

from sr_lib import adaptive as A
from sr_lib import metrics
from sr_lib.inference import Upscaler


def _numpy_branch(scale, size=3, offset=0.0, name="mean3"):
    """An independent reference 'model': size x size mean with zero padding (like a conv), then pixel repeat."""
    def upscale(image):
        smooth = ndimage.uniform_filter(image, size=(size, size, 1), mode="constant") + offset
        return np.clip(np.repeat(np.repeat(smooth, scale, axis=0), scale, axis=1), 0, 1).astype(np.float32)
    return Upscaler(name, scale, lambda lr, s: upscale(lr), flops_per_pixel=2.0 * size * size)


def _smooth_image(h, w, c=3):
    y, x = np.mgrid[0:h, 0:w] / 7.0
    return np.stack([0.5 + 0.4 * np.sin(y + k) * np.cos(x - k) for k in range(c)], -1).astype(np.float32)


@pytest.mark.parametrize("shape, patch, blend, context, multiple", [((37, 50), 16, 2, 3, 1), ((64, 64), 32, 0, 0, 1),
                                                                     ((33, 20), 8, 3, 1, 1), ((40, 36), 12, 2, 2, 4)])
def test_grid_cores_tile_once_and_weights_sum_to_one(shape, patch, blend, context, multiple):
    scale = 3
    grid = A.make_grid(*shape, scale, patch=patch, blend=blend, context=context, multiple=multiple)
    count = np.zeros(shape, int)
    total = np.zeros((shape[0] * scale, shape[1] * scale))
    for i, ((y0, y1, x0, x1), window, piece) in enumerate(zip(grid.cores, grid.windows, grid.pieces)):
        count[y0:y1, x0:x1] += 1
        assert window == (max(0, y0 - blend), min(shape[0], y1 + blend), max(0, x0 - blend), min(shape[1], x1 + blend))
        m = blend + context
        assert piece == (max(0, y0 - m), min(shape[0], y1 + m), max(0, x0 - m), min(shape[1], x1 + m))
        assert y0 % multiple == 0 and x0 % multiple == 0
        w = grid.weights(i)
        assert w.min() >= 0 and w.max() <= 1
        wy0, wy1, wx0, wx1 = window
        total[wy0 * scale:wy1 * scale, wx0 * scale:wx1 * scale] += w
    assert (count == 1).all()
    np.testing.assert_allclose(total, 1.0, atol=1e-6)  # a partition of unity: no pixel over- or under-weighted
    assert grid.rows * grid.cols == len(grid)
    # Cores are nearly equal (no 1-pixel remainder strips).
    heights = {y1 - y0 for y0, y1, _, _ in grid.cores}
    assert max(heights) - min(heights) <= multiple


def test_every_patch_on_one_model_is_the_whole_image_result(rng):
    """Fraction 0 and 1, and any fraction when coarse == fine, give whole-image inference."""
    scale = 2
    image = rng.random((45, 61, 3), dtype=np.float32)
    fine, coarse = _numpy_branch(scale), _numpy_branch(scale, size=5, name="mean5")
    # Receptive-field radius 1: context 0 + blend 2 would not be enough at the ramp's far end, context 1 is.
    for fraction, reference in ((0.0, coarse(image)), (1.0, fine(image))):
        result = A.upscale_adaptive(image, coarse, fine, fraction, patch=16, blend=2, context=1)
        np.testing.assert_allclose(result.sr, reference, atol=1e-6)
    for fraction in (0.3, 0.6):
        same = A.upscale_adaptive(image, fine, fine, fraction, patch=16, blend=2, context=1)
        assert 0 < same.selected.sum() < len(same.grid)
        np.testing.assert_allclose(same.sr, fine(image), atol=1e-6)
    # The test can tell a seam: without context the 3x3 filter sees zeros at the piece edge.
    cut = A.upscale_adaptive(image, coarse, fine, 1.0, patch=16, blend=0, context=0)
    assert np.abs(cut.sr - fine(image)).max() > 0.05


def test_blending_turns_the_switch_into_a_ramp():
    scale, blend = 4, 2
    image = np.full((32, 32, 1), 0.5, np.float32)

    def constant(value):
        return lambda lr: np.full((lr.shape[0] * scale, lr.shape[1] * scale, 1), value, np.float32)

    dark = Upscaler("dark", scale, lambda lr, s: constant(0.2)(lr), flops_per_pixel=1.0)
    light = Upscaler("light", scale, lambda lr, s: constant(0.8)(lr), flops_per_pixel=1.0)
    grid = A.make_grid(32, 32, scale, patch=16, blend=blend, context=0)
    windows = A.run_patches(light, image, grid, [0])
    smooth = A.assemble(dark(image), grid, windows)
    step = A.make_grid(32, 32, scale, patch=16, blend=0, context=0)
    hard = A.assemble(dark(image), step, A.run_patches(light, image, step, [0]))
    row = smooth[10, :, 0]
    assert row[0] == pytest.approx(0.8) and row[-1] == pytest.approx(0.2)
    assert np.abs(np.diff(row)).max() <= 0.6 / (2 * blend * scale) + 1e-6  # spread over 16 HR pixels
    assert np.abs(np.diff(hard[10, :, 0])).max() == pytest.approx(0.6)


def test_random_weight_keras_models_reassemble_within_one_grey_level():
    import keras

    from sr_lib.inference import predict, upscale_via_y
    from sr_lib.models import espcn

    keras.utils.set_random_seed(0)
    fine_model = espcn(3, channels=3, filters=(8, 4))  # receptive-field radius 2 + 1 + 1 = 4 LR pixels
    coarse_model = espcn(3, filters=(4, 4))
    fine = A.branch_from_model(fine_model, 3, channel="rgb")
    coarse = A.branch_from_model(coarse_model, 3, channel="y")
    image = _smooth_image(40, 53)
    whole_fine, whole_coarse = predict(fine_model, image), upscale_via_y(coarse_model, image, 3)
    for fraction, reference in ((0.0, whole_coarse), (1.0, whole_fine)):
        result = A.upscale_adaptive(image, coarse, fine, fraction, patch=12, blend=2, context=4)
        assert np.abs(result.sr - reference).max() < 1 / 255
    mixed = A.upscale_adaptive(image, fine, fine, 0.5, patch=12, blend=2, context=4)
    assert np.abs(mixed.sr - whole_fine).max() < 1e-4
    # FLOPs of the branch are sr_lib.flops' count; hand count for ESPCN x3 RGB with filters (8, 4):
    # 5*5*3*8 + 3*3*8*4 + 3*3*4*27 MACs per LR pixel, 2 FLOPs each, / 9 HR pixels per LR pixel.
    assert fine.flops_per_pixel == pytest.approx(2 * (5 * 5 * 3 * 8 + 3 * 3 * 8 * 4 + 3 * 3 * 4 * 27) / 9)


@pytest.mark.parametrize("fine_name", ["srresnet_x4_demo", "edsr_x4"])  # RGB and Y-channel fine models
def test_shipped_models_reassemble_within_one_grey_level(fine_name):
    from sr_lib import pretrained
    from sr_lib.data import load_builtin

    if not {"espcn_x4", fine_name} <= set(pretrained.available()):
        pytest.skip("shipped weights not present")
    coarse, fine = A.pretrained_branch("espcn_x4"), A.pretrained_branch(fine_name)
    (_, photo), = load_builtin(("astronaut",))
    image = metrics.to_float32(metrics.to_uint8(photo[100:140, 180:228]))  # a 40 x 48 crop: face, helmet edge
    for fraction, branch in ((0.0, coarse), (1.0, fine)):
        result = A.upscale_adaptive(image, coarse, fine, fraction, patch=16)  # default blend 2, context 8
        assert np.abs(result.sr - branch(image)).max() <= 1 / 255


def test_restoration_models_run_as_registered():
    """autoencoder_x4 restores a bicubic-enlarged image: as a branch it must give what
    pretrained.upscaler (the command line's path) gives, not run on the LR image."""
    from sr_lib import pretrained

    if "autoencoder_x4" not in pretrained.available():
        pytest.skip("shipped weights not present")
    branch = A.pretrained_branch("autoencoder_x4")
    image = np.random.default_rng(0).random((12, 16, 3)).astype(np.float32)
    out = branch(image)
    assert out.shape == (48, 64, 3) and branch.batch_fn is None and branch.input == "bicubic"
    np.testing.assert_array_equal(out, pretrained.upscaler("autoencoder_x4")(image, 4))


def test_select_top_picks_the_k_highest():
    scores = np.array([0.1, 0.9, 0.5, 0.9, 0.0])
    assert A.select_top(scores, 0.4).tolist() == [False, True, False, True, False]
    assert A.select_top(scores, 0.0).sum() == 0 and A.select_top(scores, 1.0).all()
    # k = round(fraction * n) with halves rounded up; ties go to the lower index.
    assert A.select_top(scores, 0.5).tolist() == [False, True, True, True, False]  # 2.5 -> 3
    assert A.select_top([1.0, 1.0, 1.0], 1 / 3).tolist() == [True, False, False]
    with pytest.raises(ValueError, match="fraction"):
        A.select_top(scores, 1.5)
    with pytest.raises(ValueError, match="NaN"):
        A.select_top([0.1, np.nan], 0.5)


def test_routing_flops_match_a_hand_count():
    # 64 x 64 LR at x4, patch 32: four 32 x 32 cores; each piece grows by blend + context = 10 on its
    # two inner sides only (clipped at the image border): 42 x 42 LR pixels.
    grid = A.make_grid(64, 64, 4, patch=32, blend=2, context=8)
    assert len(grid) == 4 and (grid.piece_pixels() == 42 * 42).all()
    selected = np.array([True, False, False, True])
    score = A.SCORERS["hf_energy"].flops(grid)
    assert score == 18 * 64 * 64  # Y 6 + Laplacian 10 + square/accumulate 2 per LR pixel
    flops = A.routing_flops(grid, selected, 3080.0, 54540.0, score)
    hr = 64 * 64 * 16
    assert flops["coarse"] == 3080 * hr
    assert flops["fine"] == 54540 * 2 * 42 * 42 * 16
    assert flops["total"] == 3080 * hr + 18 * 64 * 64 + 54540 * 2 * 42 * 42 * 16
    assert flops["relative"] == pytest.approx(flops["total"] / (54540 * hr))
    # Everything routed costs more than the fine model alone: the overlap overhead is real.
    assert A.routing_flops(grid, np.ones(4, bool), 3080.0, 54540.0)["relative"] > 1.3
    with pytest.raises(ValueError, match="boolean mask of 4"):
        A.routing_flops(grid, [True, False], 1.0, 1.0)


def test_hf_energy_matches_a_hand_laplacian(rng):
    image = rng.random((24, 40, 1), dtype=np.float32)
    image[:, :21] = 0.5  # the left half is flat (and the column its Laplacian reads next to it)
    grid = A.make_grid(24, 40, 2, patch=20, blend=0, context=0)
    g = np.pad(image[..., 0].astype(np.float64) * 255, 1, mode="edge")
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4 * g[1:-1, 1:-1]
    expected = [np.mean(lap[y0:y1, x0:x1] ** 2) for y0, y1, x0, x1 in grid.cores]
    scores = A.score_patches("hf_energy", image, grid)
    np.testing.assert_allclose(scores, expected, rtol=1e-9)
    assert scores[0] < 1e-6 < scores[1]


def test_scores_of_every_scorer_and_the_oracle_gain(rng):
    from sr_lib.evaluation import bicubic

    scale = 2
    hr = ndimage.gaussian_filter(rng.random((48, 64, 3)), (1, 1, 0)).astype(np.float32)
    lr = metrics.to_float32(metrics.to_uint8(hr[::2, ::2]))
    grid = A.make_grid(24, 32, scale, patch=8, blend=1, context=2)
    coarse_sr = bicubic(lr, scale)
    for name, scorer in A.SCORERS.items():
        scores = A.score_patches(name, lr, grid, coarse_sr)
        assert scores.shape == (len(grid),) and np.isfinite(scores).all()
        assert (scorer.flops(grid) > 0) == (name != "random")
    fine_sr = np.clip(coarse_sr + 0.5 * (hr - coarse_sr), 0, 1)  # halfway to the truth
    gains = A.patch_gain(grid, coarse_sr, fine_sr, hr)
    assert (gains > 0).mean() > 0.9
    # The gains add up to the change in the protocol's squared error (Y, 8-bit, border = scale).
    n = (48 - 2 * scale) * (64 - 2 * scale)
    mse = [255**2 / 10 ** (metrics.psnr(x, hr, border=scale) / 10) for x in (coarse_sr, fine_sr)]
    assert gains.sum() == pytest.approx(n * (mse[0] - mse[1]), rel=1e-9)


def test_run_patches_batches_equal_shapes():
    calls = []
    inner = _numpy_branch(2)

    def batched(pieces):
        calls.append(pieces.shape)
        return np.stack([inner(p) for p in pieces])

    branch = Upscaler("batched", 2, inner.fn, flops_per_pixel=1.0, batch_fn=batched)
    image = _smooth_image(48, 48)
    grid = A.make_grid(48, 48, 2, patch=12, blend=1, context=2)  # 4 x 4 patches: 4 corner, 8 edge, 4 interior
    out = A.run_patches(branch, image, grid, range(len(grid)), batch_size=3)
    one_by_one = A.run_patches(inner, image, grid, range(len(grid)))
    assert sorted(out) == list(range(16))
    for i in out:
        np.testing.assert_array_equal(out[i], one_by_one[i])
    assert sum(shape[0] for shape in calls) == 16 and max(shape[0] for shape in calls) == 3
    assert len(calls) < 16


def test_errors_are_named(rng):
    image = rng.random((20, 20, 3), dtype=np.float32)
    two, three = _numpy_branch(2), _numpy_branch(3)
    with pytest.raises(ValueError, match="same factor"):
        A.upscale_adaptive(image, two, three, 0.5)
    with pytest.raises(ValueError, match="no flops_per_pixel"):
        A.upscale_adaptive(image, two, Upscaler("free", 2, two.fn), 0.5)
    with pytest.raises(ValueError, match="no fixed scale"):
        A.upscale_adaptive(image, Upscaler("any", None, two.fn, flops_per_pixel=1.0), two, 0.5)
    with pytest.raises(KeyError, match="hf_energy"):
        A.upscale_adaptive(image, two, two, 0.5, score="sharpness")
    with pytest.raises(ValueError, match="fraction"):
        A.upscale_adaptive(image, two, two, -0.1)
    with pytest.raises(ValueError, match=r"\(H, W\), \(H, W, 1\) or \(H, W, 3\)"):
        A.upscale_adaptive(image[None], two, two, 0.5)  # (h, w) is fine: tests/test_image_layouts.py
    with pytest.raises(ValueError, match="2 \\* blend"):
        A.make_grid(20, 20, 2, patch=4, blend=3)
    with pytest.raises(ValueError, match="context"):
        A.make_grid(20, 20, 2, context=-1)
    grid = A.make_grid(20, 20, 2, patch=10)
    with pytest.raises(ValueError, match="needs the coarse"):
        A.score_patches("backprojection", image, grid)
    with pytest.raises(ValueError, match="does not match the grid"):
        A.assemble(np.zeros((10, 10, 3), np.float32), grid, {})
    with pytest.raises(ValueError, match="one per patch"):
        grid.as_map([1.0, 2.0])


def test_the_sweep_reblends_what_upscale_adaptive_returns(rng):
    from sr_lib import adaptive_eval
    from sr_lib.data.datasets import ImagePair

    scale = 2
    hr = ndimage.gaussian_filter(rng.random((64, 80, 3)), (1.5, 1.5, 0)).astype(np.float32)
    hr[:, :40] = ndimage.gaussian_filter(hr[:, :40], (6, 6, 0))  # a flat half and a detailed half
    pair = ImagePair("test", metrics.to_float32(metrics.to_uint8(hr[::2, ::2])), hr, scale)
    coarse, fine = _numpy_branch(scale, size=5, name="coarse"), _numpy_branch(scale, size=1, name="fine")
    grid_args = dict(patch=8, blend=1, context=1)
    prepared = adaptive_eval.prepare_image(pair, coarse, fine, **grid_args)
    for fraction in (0.0, 0.4, 1.0):
        direct = A.upscale_adaptive(pair.lr, coarse, fine, fraction, score="hf_energy", **grid_args)
        selected = A.select_top(prepared.scores["hf_energy"], fraction)
        assert (selected == direct.selected).all()
        np.testing.assert_allclose(prepared.routed(selected), direct.sr, atol=1e-6)
    rows = {r: adaptive_eval.routing_curve([prepared], [0.0, 0.25, 1.0], r, 18.0, 2.0)
            for r in ("hf_energy", "random", adaptive_eval.ORACLE)}
    coarse_psnr = metrics.psnr(coarse(pair.lr), hr, border=scale)
    assert rows["random"][0]["psnr"] == pytest.approx(coarse_psnr)
    assert rows["oracle"][1]["psnr"] >= rows["hf_energy"][1]["psnr"] >= rows["random"][1]["psnr"]
    assert rows["hf_energy"][-1]["relative"] > 1.0  # all patches routed: coarse + overlap overhead on top of fine
