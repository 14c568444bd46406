"""The evaluation protocol end to end: the bicubic baseline must reproduce the published table.

Published (PSNR-Y, border = scale, LR = the datasets' own MATLAB-bicubic images), as reported by
SRCNN/VDSR and since: Set5 x2/x3/x4 = 33.66 / 30.39 / 28.42, Set14 = 30.24 / 27.55 / 26.00.
SSIM as VDSR (Kim et al. 2016, Table 2) reports it: Set5 0.9299 / 0.8682 / 0.8104,
Set14 0.8688 / 0.7742 / 0.7027 (papers differ in the third decimal, hence the looser tolerance).
"""

import numpy as np
import pytest

from sr_lib import evaluation, metrics
from sr_lib.data import load_benchmark

PUBLISHED = {
    ("Set5", 2): 33.66, ("Set5", 3): 30.39, ("Set5", 4): 28.42,
    ("Set14", 2): 30.24, ("Set14", 3): 27.55, ("Set14", 4): 26.00,
}
PUBLISHED_SSIM = {
    ("Set5", 2): 0.9299, ("Set5", 3): 0.8682, ("Set5", 4): 0.8104,
    ("Set14", 2): 0.8688, ("Set14", 3): 0.7742, ("Set14", 4): 0.7027,
}


@pytest.fixture(autouse=True)
def _use_mirror(mirror, monkeypatch):
    monkeypatch.setenv("SRFS_DATA_DIR", str(mirror))


@pytest.mark.parametrize("dataset,scale", sorted(PUBLISHED))
def test_bicubic_reproduces_published_psnr(dataset, scale):
    pairs = load_benchmark(dataset, scale)
    result = evaluation.evaluate(evaluation.bicubic, pairs, method="bicubic", dataset=dataset)
    assert len(result.psnr) == (5 if dataset == "Set5" else 14)
    assert result.mean_psnr == pytest.approx(PUBLISHED[dataset, scale], abs=0.05)
    assert result.mean_ssim == pytest.approx(PUBLISHED_SSIM[dataset, scale], abs=0.002)

    # LR made by our own imresize from HR must give the same table (proves MATLAB compatibility).
    own = evaluation.evaluate(evaluation.bicubic, load_benchmark(dataset, scale, own_lr=True))
    assert own.mean_psnr == pytest.approx(result.mean_psnr, abs=0.1)


def test_grayscale_bridge_is_measured_on_gray_values():
    """Set14's bridge is grayscale; converting it to Y (via RGB) instead would score ~1.3 dB higher and
    move the Set14 mean off the published value."""
    pairs = {p.name: p for p in load_benchmark("Set14", 2)}
    bridge = pairs["img_003"]
    assert bridge.hr.shape[-1] == 1
    sr = evaluation.bicubic(bridge.lr, 2)
    gray = metrics.psnr(sr, bridge.hr, border=2)
    as_rgb = metrics.psnr(np.repeat(sr, 3, -1), np.repeat(bridge.hr, 3, -1), border=2)
    assert 1.0 < as_rgb - gray < 1.6
