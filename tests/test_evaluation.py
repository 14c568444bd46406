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
