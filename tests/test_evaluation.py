"""The evaluation loop and its table; the protocol's numbers are checked in test_bicubic_baseline.py."""

import numpy as np
import pytest

from sr_lib import evaluation, metrics
from sr_lib.data import make_pairs, load_builtin


@pytest.fixture(scope="module")
def pairs():
    return make_pairs(load_builtin(["coffee", "camera"]), 4)


def test_bicubic_beats_nearest_and_matches_direct_metric(pairs):
    results = {m: evaluation.evaluate(f, pairs, method=m, dataset="photos") for m, f in evaluation.BASELINES.items()}
    assert results["bicubic"].mean_psnr > results["bilinear"].mean_psnr > results["nearest"].mean_psnr
    sr = evaluation.bicubic(pairs[0].lr, 4)
    assert results["bicubic"].psnr[0] == pytest.approx(metrics.psnr(sr, pairs[0].hr, border=4))
    table = evaluation.format_table(list(results.values()))
    assert "photos x4" in table and "bicubic" in table
    assert results["bicubic"].as_dict()["per_image"][1]["name"] == "camera"


def test_baselines_are_any_factor_upscalers(pairs):
    from sr_lib.inference import Upscaler

    lr = pairs[0].lr
    bicubic = evaluation.BASELINES["bicubic"]
    assert isinstance(bicubic, Upscaler) and bicubic.scale is None and bicubic.channel == "rgb"
    np.testing.assert_array_equal(bicubic(lr, 3), evaluation.bicubic(lr, 3))
    with pytest.raises(ValueError, match="any factor"):
        bicubic(lr)
    x3 = bicubic.at(3)
    np.testing.assert_array_equal(x3(lr), evaluation.bicubic(lr, 3))
    with pytest.raises(ValueError, match="upscales x3"):
        x3.at(2)
    with pytest.raises(ValueError, match="upscales x3, but was called with scale 4"):
        evaluation.evaluate(x3, pairs)  # the pairs are x4
    with pytest.raises(ValueError, match="channel must be"):
        Upscaler("bad", 2, bicubic.fn, channel="lab")
    with pytest.raises(ValueError, match="scale must be a positive integer"):
        Upscaler("bad", 0, bicubic.fn)


def test_identity_upscaler_on_hr_scores_infinity(pairs):
    class Cheat:
        def __init__(self, hr):
            self.hr = hr

        def __call__(self, lr, scale):
            return self.hr

    result = evaluation.evaluate(Cheat(pairs[0].hr), pairs[:1])
    assert result.mean_psnr == float("inf") and result.mean_ssim == pytest.approx(1.0)


def test_wrong_output_shape_names_the_image(pairs):
    with pytest.raises(ValueError, match="coffee"):
        evaluation.evaluate(lambda lr, s: lr, pairs, method="identity")
    with pytest.raises(ValueError, match="no pairs"):
        evaluation.evaluate(evaluation.bicubic, [])


def test_interpolate_output_is_float_in_range(pairs):
    out = evaluation.interpolate(pairs[0].lr, 4, "bilinear")
    assert out.dtype == np.float32 and out.shape == pairs[0].hr.shape
    assert out.min() >= 0 and out.max() <= 1


def _lpips_weights():
    from sr_lib import perceptual

    if not (perceptual.converted_weights_file().is_file() and perceptual.lpips_heads_file().is_file()):
        pytest.skip("LPIPS weights not converted: run `make install` or `python -m sr_lib.perceptual fetch`")


def test_metrics_lpips_is_lpips_of_the_8_bit_rgb_images_without_the_border():
    from sr_lib.lpips import lpips

    _lpips_weights()
    rng = np.random.default_rng(0)
    hr = rng.random((48, 56, 3)).astype(np.float32)
    sr = np.clip(hr + rng.normal(0, 0.05, hr.shape), -0.1, 1.1).astype(np.float32)  # overshoot too
    by_hand = lpips(np.round(np.clip(sr, 0, 1) * 255).astype(np.uint8)[4:-4, 4:-4],
                    np.round(hr * 255).astype(np.uint8)[4:-4, 4:-4])
    assert metrics.lpips(sr, hr, border=4) == pytest.approx(by_hand, abs=1e-6)
    assert metrics.lpips(hr, hr, border=4) == pytest.approx(0.0, abs=1e-7)
    gray = hr[..., :1]
    assert metrics.lpips(sr[..., :1], gray) == pytest.approx(
        metrics.lpips(np.repeat(sr[..., :1], 3, -1), np.repeat(gray, 3, -1)), abs=1e-6)


def test_evaluate_with_lpips_ranks_bicubic_above_nearest(pairs):
    _lpips_weights()
    results = {m: evaluation.evaluate(evaluation.BASELINES[m], pairs, method=m, dataset="photos", lpips=True)
               for m in ("nearest", "bicubic")}
    for result in results.values():
        assert len(result.lpips) == len(pairs) and result.as_dict()["lpips"] == pytest.approx(result.mean_lpips)
    # Blocky nearest-neighbour x4 is perceptually worse than bicubic (both far from 0).
    assert 0.05 < results["bicubic"].mean_lpips < results["nearest"].mean_lpips
    assert "PSNR / SSIM / LPIPS" in evaluation.format_table(list(results.values()))
    assert "LPIPS" not in evaluation.format_table([evaluation.evaluate(evaluation.bicubic, pairs)])
