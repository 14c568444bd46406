"""Running trained SR models on whole images, apart from the models themselves.

- :func:`predict` — one image through a model, float32 [0, 1] in and out.
- :func:`upscale_via_y` — the ESPCN/SRCNN recipe for colour images: the model super-resolves the
  luma (Y) channel, the chroma (Cb, Cr) is upscaled with bicubic interpolation (the eye is far less
  sensitive to chroma detail), and the result is converted back to RGB.
- :func:`model_upscaler` — wraps a model as an ``f(lr, scale) -> sr`` upscaler for
  :func:`sr_lib.evaluation.evaluate`.

Images follow :mod:`sr_lib.images`: uint8, uint16 or float in [0, 1]; (h, w), (h, w, 1) or
(h, w, 3), and an (h, w) input gives an (h, w) result. Four channels (RGBA) raise
``ImageShapeError``: no model here was trained on alpha; ``python -m sr_lib upscale`` upscales the
alpha separately with bicubic.
"""

from __future__ import annotations

import weakref

import numpy as np

from sr_lib import images
from sr_lib.data.imresize import resize_array

__all__ = ["predict", "upscale_via_y", "model_upscaler"]


def predict(model, image: np.ndarray, *, clip: bool = True, multiple: int = 1) -> np.ndarray:
    """Run ``model`` on one image and return its output as float32 (H, W, C').

    Runs the model as one compiled TensorFlow graph, traced once per model and channel count for
    any image size (:func:`_forward`), rather than through ``model.predict`` (per-call dataset
    set-up) or an eager call (op by op: ~20 % slower on a 1024 x 1024 ESPCN input).

    Args:
        model: a Keras model taking (1, h, w, C) float32 in [0, 1].
        image: (h, w) or (h, w, C) with C the model's input channels (1 or 3); uint8, uint16 or
            float in [0, 1] (:mod:`sr_lib.images`); RGBA raises. An (h, w) image is fed as (h, w, 1).
        clip: clip the output to [0, 1] (False: keep the model's overshoot, e.g. for a luma that
            is converted further).
        multiple: for models that only take sizes divisible by it (U-Nets: ``2**depth``), the image
            is mirror-padded at the bottom/right to the next multiple and the output cropped back to
            ``output_scale * (h, w)``.

    Returns:
        float32 (H, W, C'); (H, W) when ``image`` was (h, w) and the model returns one channel.

    Raises:
        sr_lib.images.ImageError: not an accepted image (dtype, range, layout).
    """
    from sr_lib.data.restoration import pad_to_multiple

    restore = images.same_layout(image)
    image = images.as_float_hwc(image, "predict")
    padded, (h, w) = pad_to_multiple(image, multiple)
    output = np.asarray(_forward(model, padded.shape[-1])(padded[None]))[0].astype(np.float32, copy=False)
    scale = output.shape[0] // padded.shape[0]
    output = output[: h * scale, : w * scale]
    return restore(np.clip(output, 0.0, 1.0) if clip else output)


# model -> {input channels: compiled forward pass}; weak keys, so a dropped model takes its graph along.
_FORWARD: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _forward(model, channels: int):
    """``model(x, training=False)`` as a ``tf.function`` for (N, any, any, ``channels``) float32
    inputs, built once per model: one trace serves every image size (no retracing per shape), and
    the graph runs ~20 % faster than the eager call (fused ops, no per-op Python dispatch).

    Falls back to the plain call for what is not a Keras model on the TensorFlow backend, or a
    model that cannot be traced for arbitrary sizes.
    """
    import keras

    if keras.backend.backend() != "tensorflow" or not isinstance(model, keras.Model):
        return lambda x: model(x, training=False)
    try:
        per_channels = _FORWARD.setdefault(model, {})
    except TypeError:  # not weakly referenceable
        return lambda x: model(x, training=False)
    if channels not in per_channels:
        import tensorflow as tf

        reference = weakref.ref(model)  # the cache must not keep the model alive
        compiled = tf.function(lambda x: reference()(x, training=False),
                               input_signature=[tf.TensorSpec((None, None, None, channels), tf.float32)])

        def call(x, compiled=compiled):
            try:
                return compiled(x)
            except (TypeError, ValueError, NotImplementedError):
                # Not traceable with unknown sizes (a layer that needs them static): run it eagerly
                # from now on; a real error (wrong channel count) is raised again by the eager call.
                # (Through the weak reference: a value holding the model would keep its key alive.)
                per_channels[channels] = lambda x: reference()(x, training=False)
                return reference()(x, training=False)

        per_channels[channels] = call
    return per_channels[channels]


def upscale_via_y(model, lr: np.ndarray, scale: int) -> np.ndarray:
    """Super-resolve an RGB or grayscale image with a one-channel model.

    Grayscale images go through the model as they are (their gray values, as the metrics measure
    them; not the studio-swing Y of their replication to RGB, which the model would see as a
    lower-contrast image). RGB images: Y through the model, Cb/Cr by bicubic ``imresize``.

    Args:
        model: one-channel SR model (h, w, 1) -> (h*scale, w*scale, 1).
        lr: (h, w), (h, w, 1) or (h, w, 3); uint8, uint16 or float in [0, 1]; RGBA raises.
        scale: the model's factor.

    Returns:
        float32 in [0, 1], (h*scale, w*scale, C) in the layout of ``lr`` ((h, w) gives (H, W)).
    """
    restore = images.same_layout(lr)
    lr = images.as_float_hwc(lr, "upscale_via_y")
    if lr.shape[-1] == 1:
        return restore(predict(model, lr))
    ycbcr = images.rgb_to_ycbcr(lr)
    y = predict(model, ycbcr[..., :1], clip=False)
    # Two chroma planes (not an image of their own), MATLAB's bicubic as everywhere in the library.
    chroma = resize_array(np.ascontiguousarray(ycbcr[..., 1:]), scale)
    if y.shape[:2] != chroma.shape[:2]:
        raise ValueError(f"model output {y.shape[:2]} does not match {scale}x the input {lr.shape[:2]}")
    return images.y_and_chroma_to_rgb(y, chroma)


# Large images go through the Y-channel recipe in pieces of this many LR pixels a side (see model_upscaler).
_PIECE, _PIECEWISE_ABOVE = 256, 512 * 512


def _piecewise(upscale, lr, scale: int, radius: int):
    """``upscale(lr)`` computed in pieces with ``radius + 2`` LR pixels of context (the model's
    receptive field plus the bicubic chroma's), on every core: the whole-image result (the tiling
    module explains why it is exact), without image-sized temporaries."""
    import os

    from sr_lib.tiling import upscale_tiled

    return upscale_tiled(upscale, lr, scale, tile=_PIECE, overlap=radius + 2, workers=min(4, os.cpu_count() or 1))


def model_upscaler(model, *, channel: str = "y", multiple: int = 1):
    """An ``f(lr, scale) -> sr`` for :func:`sr_lib.evaluation.evaluate`.

    ``channel="y"`` for one-channel models (run on luma, chroma bicubic), ``"rgb"`` for models that
    take and return three channels (grayscale inputs are repeated to RGB and the result averaged
    back). ``multiple``: see :func:`predict` (RGB models only).

    The upscaler takes ``lr`` as :func:`upscale_via_y` does ((h, w), (h, w, 1) or (h, w, 3);
    uint8, uint16 or float in [0, 1]; RGBA raises) and returns float32 in [0, 1] in ``lr``'s layout.

    Speed: on images above 512 x 512 LR pixels, a ``"y"`` model whose receptive field is known
    (:func:`sr_lib.tiling.receptive_radius`: ESPCN-like convolution stacks) runs in 256-pixel pieces
    with that much context, on every core. The result is the whole-image one (to float rounding,
    ~1e-6), at about half the time: each piece's activations (64 channels) stay a few MB instead of
    hundreds of MB allocated and page-faulted on every call, and the NumPy steps run in parallel.
    """
    if channel == "y":
        from sr_lib.tiling import receptive_radius

        radius = receptive_radius(model)

        def y(lr, scale):
            if radius is not None and np.shape(lr)[0] * np.shape(lr)[1] > _PIECEWISE_ABOVE:
                return _piecewise(lambda piece: upscale_via_y(model, piece, scale), lr, scale, radius)
            return upscale_via_y(model, lr, scale)

        return y
    if channel == "rgb":
        def rgb(lr, scale):
            restore = images.same_layout(lr)
            lr = images.as_float_hwc(lr, "model_upscaler")
            if lr.shape[-1] == 1:
                sr = predict(model, np.repeat(lr, 3, axis=-1), multiple=multiple).mean(axis=-1, keepdims=True)
                return restore(sr)
            return predict(model, lr, multiple=multiple)

        return rgb
    raise ValueError(f"channel must be 'y' or 'rgb', got {channel!r}")
