"""Counting the arithmetic of a convolutional model: multiply-accumulates per layer and FLOPs per output pixel.

Shi et al.'s argument for sub-pixel convolution is arithmetic: convolutions in LR space cost
``scale**2`` times less than the same convolutions in HR space. This module measures that on any
functional Keras model made of Conv2D / Conv2DTranspose / Dense / SubPixelConv2D layers.
Element-wise work (activations, bias adds, the shuffle itself) is left out, as is usual.
FLOPs = 2 x MACs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LayerCost", "count_macs", "flops_per_output_pixel"]


@dataclass
class LayerCost:
    name: str
    kind: str
    macs: int


def _counted_layers(model):
    import keras

    from sr_lib.layers import SubPixelConv2D

    kinds = (keras.layers.Conv2D, keras.layers.Conv2DTranspose, keras.layers.Dense, SubPixelConv2D)
    return [layer for layer in model.layers if isinstance(layer, kinds)]


def count_macs(model, input_shape: tuple[int, int, int]) -> tuple[list[LayerCost], tuple[int, ...]]:
    """Multiply-accumulates of each counted layer for one input of ``input_shape`` = (h, w, C).

    Returns (per-layer costs, model output shape without the batch axis). Runs the model once on
    zeros to learn every layer's real output size.
    """
    import keras

    from sr_lib.layers import SubPixelConv2D

    counted = _counted_layers(model)
    probe = keras.Model(model.inputs, [layer.output for layer in counted] + [model.outputs[0]])
    outputs = probe([np.zeros((1, *input_shape), np.float32)], training=False)
    costs = []
    for layer, out in zip(counted, outputs[:-1]):
        out_shape = tuple(out.shape[1:])
        if isinstance(layer, SubPixelConv2D):
            conv = layer.conv
            kh, kw, cin, cout = conv.kernel.shape
            r = layer.scale
            positions = (out_shape[0] // r) * (out_shape[1] // r)
            macs = positions * kh * kw * cin * cout
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            kh, kw, cout, cin = layer.kernel.shape  # transposed kernels are stored (kh, kw, out, in)
            sh, sw = layer.strides
            positions = (out_shape[0] // sh) * (out_shape[1] // sw)  # every input pixel scatters a kernel
            macs = positions * kh * kw * cin * cout
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape
            macs = out_shape[0] * out_shape[1] * kh * kw * cin * cout // max(1, getattr(layer, "groups", 1))
        else:  # Dense
            cin, cout = layer.kernel.shape
            macs = int(np.prod(out_shape[:-1], dtype=np.int64)) * cin * cout
        costs.append(LayerCost(layer.name, type(layer).__name__, int(macs)))
    return costs, tuple(outputs[-1].shape[1:])


def flops_per_output_pixel(model, input_shape: tuple[int, int, int] = (32, 32, 1)) -> float:
    """FLOPs (2 x MACs) per output pixel (per HR pixel for an SR model)."""
    costs, out_shape = count_macs(model, input_shape)
    return 2.0 * sum(c.macs for c in costs) / (out_shape[0] * out_shape[1])
