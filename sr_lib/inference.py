"""Running trained SR models on whole images, apart from the models themselves.

- :func:`predict` — one image through a model, float32 [0, 1] in and out.
- :func:`upscale_via_y` — the ESPCN/SRCNN recipe for colour images: the model super-resolves the
  luma (Y) channel, the chroma (Cb, Cr) is upscaled with bicubic interpolation (the eye is far less
  sensitive to chroma detail), and the result is converted back to RGB.
- :func:`model_upscaler` — wraps a model as an ``f(lr, scale) -> sr`` upscaler for
  :func:`sr_lib.evaluation.evaluate`.
"""

from __future__ import annotations

import numpy as np

from sr_lib import metrics
from sr_lib.data.imresize import imresize

__all__ = ["predict", "upscale_via_y", "model_upscaler"]


def predict(model, image: np.ndarray, *, clip: bool = True, multiple: int = 1) -> np.ndarray:
    """Run ``model`` on one (h, w, C) float32 [0, 1] image and return (H, W, C') float32.

    Calls the model directly rather than ``model.predict`` (no per-call dataset set-up; every image
    size works on a fully convolutional model).

    ``multiple``: for models that only take sizes divisible by it (U-Nets: ``2**depth``), the image
    is mirror-padded at the bottom/right to the next multiple and the output cropped back to
    ``output_scale * (h, w)``.
    """
    from sr_lib.data.restoration import pad_to_multiple

    image = np.asarray(image, dtype=np.float32)
    padded, (h, w) = pad_to_multiple(image, multiple)
    output = np.asarray(model(padded[None], training=False))[0].astype(np.float32)
    scale = output.shape[0] // padded.shape[0]
    output = output[: h * scale, : w * scale]
    return np.clip(output, 0.0, 1.0) if clip else output


def upscale_via_y(model, lr: np.ndarray, scale: int) -> np.ndarray:
    """Super-resolve an RGB (h, w, 3) or grayscale (h, w, 1) image with a one-channel model.

    Grayscale images go through the model as they are. RGB images: Y through the model, Cb/Cr by
    bicubic ``imresize``; returns (h*scale, w*scale, C) float32 in [0, 1].
    """
    lr = np.asarray(lr, dtype=np.float32)
    if lr.ndim != 3 or lr.shape[-1] not in (1, 3):
        raise ValueError(f"upscale_via_y expects an (h, w, 1) or (h, w, 3) image, got shape {lr.shape}")
    if lr.shape[-1] == 1:
        return predict(model, lr)
    ycbcr = metrics.rgb_to_ycbcr(lr)
    y = predict(model, ycbcr[..., :1], clip=False)
    chroma = imresize(ycbcr[..., 1:], scale)
    if y.shape[:2] != chroma.shape[:2]:
        raise ValueError(f"model output {y.shape[:2]} does not match {scale}x the input {lr.shape[:2]}")
    rgb = metrics.ycbcr_to_rgb(np.concatenate([y, chroma], axis=-1))
    return np.clip(rgb, 0.0, 1.0)


def model_upscaler(model, *, channel: str = "y", multiple: int = 1):
    """An ``f(lr, scale) -> sr`` for :func:`sr_lib.evaluation.evaluate`.

    ``channel="y"`` for one-channel models (run on luma, chroma bicubic), ``"rgb"`` for models that
    take and return three channels (grayscale inputs are repeated to RGB and the result averaged
    back). ``multiple``: see :func:`predict` (RGB models only).
    """
    if channel == "y":
        return lambda lr, scale: upscale_via_y(model, lr, scale)
    if channel == "rgb":
        def rgb(lr, scale):
            lr = np.asarray(lr, np.float32)
            if lr.shape[-1] == 1:
                return predict(model, np.repeat(lr, 3, axis=-1), multiple=multiple).mean(axis=-1, keepdims=True)
            return predict(model, lr, multiple=multiple)

        return rgb
    raise ValueError(f"channel must be 'y' or 'rgb', got {channel!r}")
