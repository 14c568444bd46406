"""Model factories: one forward pass each, the paper's architecture, and the FLOPs accounting."""

import numpy as np
import pytest

import keras

from sr_lib import flops, inference, metrics
from sr_lib.models import HEADS, espcn


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("scale", [2, 3])
def test_every_head_upscales_any_size(head, scale):
    model = espcn(scale, head=head)
    for h, w in [(7, 9), (12, 10)]:
        out = model(np.random.rand(2, h, w, 1).astype("float32"))
        assert tuple(out.shape) == (2, h * scale, w * scale, 1)


def test_espcn_matches_the_paper():
    # Shi et al. 2016: (f1, n1) = (5, 64), (f2, n2) = (3, 32), f3 = 3 -> r^2 channels.
    model = espcn(3)
    expected = (5 * 5 * 1 * 64 + 64) + (3 * 3 * 64 * 32 + 32) + (3 * 3 * 32 * 9 + 9)
    assert model.count_params() == expected
    assert [l.kernel.shape for l in model.layers if hasattr(l, "kernel")] == [(5, 5, 1, 64), (3, 3, 64, 32), (3, 3, 32, 9)]


def test_transposed_head_has_the_same_parameters_as_subpixel():
    assert espcn(3, head="transposed").count_params() == espcn(3, head="subpixel").count_params() - 9 + 1


def test_flops_per_output_pixel_by_hand():
    scale = 3
    lr_macs = 5 * 5 * 1 * 64 + 3 * 3 * 64 * 32 + 3 * 3 * 32 * 9  # per LR pixel
    expected = 2 * lr_macs / scale**2
    assert flops.flops_per_output_pixel(espcn(scale), (16, 16, 1)) == pytest.approx(expected)
    # The resize head does its last convolution in HR space: (3*3)^2 taps per HR pixel.
    resize = flops.flops_per_output_pixel(espcn(scale, head="resize_nearest"), (16, 16, 1))
    assert resize == pytest.approx(2 * (5 * 5 * 64 + 3 * 3 * 64 * 32) / scale**2 + 2 * 9 * 9 * 32)
    # The transposed head: every LR pixel scatters a 9x9x32 kernel -> same as sub-pixel.
    assert flops.flops_per_output_pixel(espcn(scale, head="transposed"), (16, 16, 1)) == pytest.approx(expected)


def test_unknown_head():
    with pytest.raises(ValueError, match="subpixel_icnr"):
        espcn(2, head="deconv")


def test_upscale_via_y_keeps_chroma_bicubic():
    # A model that returns nearest-upsampled Y: chroma must equal the bicubic chroma, Y the model's.
    scale = 2
    inputs = keras.Input((None, None, 1))
    model = keras.Model(inputs, keras.layers.UpSampling2D(scale)(inputs))
    lr = np.random.default_rng(0).random((10, 12, 3)).astype("float32") * 0.5 + 0.25
    sr = inference.upscale_via_y(model, lr, scale)
    assert sr.shape == (20, 24, 3) and sr.dtype == np.float32
    y_lr = metrics.rgb_to_y(lr)
    np.testing.assert_allclose(metrics.rgb_to_y(sr), np.kron(y_lr, np.ones((2, 2))), atol=2e-3)
    gray = inference.upscale_via_y(model, lr[..., :1], scale)
    assert gray.shape == (20, 24, 1)
    with pytest.raises(ValueError, match="shape"):
        inference.upscale_via_y(model, lr[..., :2], scale)


def test_models_package_lists_real_factories_and_classes():
    """``sr_lib.models`` exports each model by its real name and signature: no ``*args`` trampolines."""
    import inspect

    from sr_lib import models

    assert set(models.__all__) <= set(dir(models))
    for name in models.__all__:
        obj = getattr(models, name)
        if inspect.isfunction(obj):
            kinds = {p.kind for p in inspect.signature(obj).parameters.values()}
            assert inspect.Parameter.VAR_POSITIONAL not in kinds, name
            assert obj.__module__.startswith("sr_lib.models."), name
        elif inspect.isclass(obj):
            assert issubclass(obj, keras.Model), name
    # sr_lib.pretrained builds a registered model with getattr(sr_lib.models, factory name): a
    # submodule named like a factory would shadow it, so no submodule name is a public name.
    for module in ("subpixel", "autoencoders", "unets", "srresnets", "edsrs", "vaes", "gans", "adversarial"):
        assert inspect.ismodule(getattr(models, module)) and module not in models.__all__


def test_edsr_baseline_parameters_by_hand():
    """EDSR-baseline x4, RGB, 16 blocks x 64 filters (Lim et al. 2017): about 1.5 M parameters, as the paper says."""
    from sr_lib.models import edsr

    def conv(c_in, c_out, k=3):  # a k x k convolution with bias
        return k * k * c_in * c_out + c_out

    head = conv(3, 64)  # 1,792
    body = 16 * 2 * conv(64, 64) + conv(64, 64)  # 16 blocks of two convs (1,181,696) + the body conv (36,928)
    tail = 2 * conv(64, 64 * 2**2) + conv(64, 3)  # two x2 sub-pixel convs (2 x 147,712) + the output conv (1,731)
    assert head + body + tail == 1_517_571
    model = edsr(4, 16, 64, channels=3)
    assert model.count_params() == head + body + tail
    assert model(np.zeros((1, 5, 7, 3), "float32")).shape == (1, 20, 28, 3)
    # the bicubic residual adds no weights, and a Y model differs only in the first and last conv
    y_model = conv(1, 64) + body + 2 * conv(64, 64 * 2**2) + conv(64, 1)
    assert edsr(4, 16, 64, channels=1, bicubic_residual=True).count_params() == y_model
