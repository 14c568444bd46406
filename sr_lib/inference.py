"""Running super-resolution on whole images: the :class:`Upscaler` type and the ways to make one.

- :class:`Upscaler` — "a runnable upscaler": a name, a scale, how it is run (``channel``, ``input``,
  ``multiple``), optionally its price (FLOPs per output pixel) and a batch function; called as
  ``up(lr) -> sr``. The command line, :mod:`sr_lib.pretrained`, :mod:`sr_lib.adaptive`,
  :mod:`sr_lib.evaluation` (its baselines), :mod:`sr_lib.tiling` and the notebooks all use it.
- :func:`model_upscaler` — a model that enlarges the LR image (ESPCN, SRResNet, U-Net) as an Upscaler.
- :func:`pre_upsampled_upscaler` — a same-size restorer (notebook 02's autoencoder) as an Upscaler:
  bicubic enlargement first, then the model.
- :func:`predict` — one image through a model, float32 [0, 1] in and out.
- :func:`upscale_via_y` — the ESPCN/SRCNN recipe for colour images: the model super-resolves the
  luma (Y) channel, the chroma (Cb, Cr) is upscaled with bicubic interpolation (the eye is far less
  sensitive to chroma detail), and the result is converted back to RGB.
- :func:`pad_to_multiple` — mirror padding for models that only take sizes divisible by ``2**depth``.
- :func:`self_ensemble` — any Upscaler averaged over the 8 flips and rotations of its input ("EDSR+"):
  a few tenths of a dB more for 8 times the inference cost, no training.

Images follow :mod:`sr_lib.images`: uint8, uint16 or float in [0, 1]; (h, w), (h, w, 1) or
(h, w, 3), and an (h, w) input gives an (h, w) result. Four channels (RGBA) raise
``ImageShapeError``: no model here was trained on alpha; ``python -m sr_lib upscale`` upscales the
alpha separately with bicubic.
"""

from __future__ import annotations

import numbers
import threading
import weakref
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from sr_lib import images
from sr_lib.data.imresize import resize_array

__all__ = ["Upscaler", "model_upscaler", "min_input_size", "pre_upsampled_upscaler", "predict", "upscale_via_y", "pad_to_multiple",
           "self_ensemble"]


@dataclass(frozen=True)
class Upscaler:
    """A runnable upscaler: ``up(lr) -> sr``, plus what it is and how it runs.

    Attributes:
        name: a label (the registry name of a shipped model, "bicubic", a model's name).
        scale: the factor it enlarges by, or ``None`` for an upscaler that works at any factor
            (the interpolation baselines, a :func:`pre_upsampled_upscaler` made without one); those
            take the factor per call, ``up(lr, scale)``, or are fixed with :meth:`at`.
        fn: ``fn(lr, scale) -> sr``, the work itself; call the Upscaler rather than ``fn``.
        channel: "y" (a one-channel model on the luma, chroma bicubic) or "rgb" (the image's own
            channels: colour models and interpolation).
        input: "lr" (it enlarges the LR image) or "bicubic" (a same-size restorer that gets the
            bicubic-enlarged image).
        multiple: the size (LR pixels for ``input="lr"``, HR for "bicubic") the model's input must
            divide; tiles are aligned to it (:func:`sr_lib.tiling.upscale_tiled`). 1: any size.
        flops_per_pixel: FLOPs per HR output pixel (:func:`sr_lib.flops.flops_per_output_pixel`),
            when known; :mod:`sr_lib.adaptive` needs it to count the cost of a routing.
        batch_fn: optional (N, h, w, C) -> (N, h*scale, w*scale, C) for same-shape float32 pieces
            (one model call for many patches, :meth:`batch`).
        min_size: the smallest height and width of ``lr`` it can run on (input pixels; 1: any).
            A model with a :class:`sr_lib.layers.BicubicUpsampling` layer (EDSR's bicubic residual)
            needs 2: the layer pads 2 pixels by mirroring, which TensorFlow cannot do to 1 pixel.

    Calling: ``up(lr)`` or ``up(lr, scale)``; ``lr`` is (h, w), (h, w, 1) or (h, w, 3), uint8,
    uint16 or float in [0, 1] (:mod:`sr_lib.images`; RGBA raises ``ImageShapeError``), and the
    result is float32 in [0, 1], (h*scale, w*scale[, C]) in the layout of ``lr``.

    Raises:
        ValueError: (construction) an unknown ``channel`` or ``input``, a ``scale``, ``multiple`` or
            ``min_size`` that is not a positive integer; (call) a ``scale`` other than the
            upscaler's own, or none for an upscaler without one.
        sr_lib.images.ImageShapeError: (call, a ValueError) ``lr`` smaller than ``min_size``.
    """

    name: str
    scale: int | None
    fn: Callable[[np.ndarray, int], np.ndarray]
    channel: str = "rgb"
    input: str = "lr"
    multiple: int = 1
    flops_per_pixel: float | None = None
    batch_fn: Callable[[np.ndarray], np.ndarray] | None = None
    min_size: int = 1

    def __post_init__(self):
        if self.channel not in ("y", "rgb"):
            raise ValueError(f"Upscaler {self.name!r}: channel must be 'y' or 'rgb', got {self.channel!r}")
        if self.input not in ("lr", "bicubic"):
            raise ValueError(f"Upscaler {self.name!r}: input must be 'lr' or 'bicubic', got {self.input!r}")
        for field_name in ("scale", "multiple", "min_size"):
            value = getattr(self, field_name)
            if value is None and field_name == "scale":
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"Upscaler {self.name!r}: {field_name} must be a positive integer, got {value!r}")

    def __call__(self, lr: np.ndarray, scale: int | None = None) -> np.ndarray:
        """``lr`` upscaled by the upscaler's factor (``scale``, if given, must be that factor).

        Raises:
            ValueError: ``scale`` differs from :attr:`scale`, or neither is given.
            sr_lib.images.ImageError: ``lr`` is not an accepted image.
        """
        if scale is None:
            if self.scale is None:
                raise ValueError(f"{self.name} works at any factor: call it as up(lr, scale), or fix one with .at(scale)")
            scale = self.scale
        elif self.scale is not None and scale != self.scale:
            raise ValueError(f"{self.name} upscales x{self.scale}, but was called with scale {scale}")
        self.check_size(np.shape(lr))
        return self.fn(lr, scale)

    def check_size(self, shape) -> None:
        """Raise :class:`sr_lib.images.ImageShapeError` (a ValueError) if an image (or piece) of
        ``shape`` (h, w, ...) is smaller than :attr:`min_size` on either side, or has no height and width
        (0-D or 1-D)."""
        if len(shape) < 2:
            raise images.ImageShapeError(
                f"{self.name} takes an (h, w) or (h, w, C) image, got an array of shape {tuple(shape)}")
        if min(shape[:2]) < self.min_size:
            m = self.min_size
            raise images.ImageShapeError(
                f"{shape[1]}x{shape[0]} pixels is too small for {self.name}: it needs at least {m}x{m} pixels")

    def at(self, scale: int) -> "Upscaler":
        """This upscaler with its factor fixed to ``scale``.

        Raises:
            ValueError: it already has another factor, or ``scale`` is not a positive integer.
        """
        if self.scale is not None and scale != self.scale:
            raise ValueError(f"{self.name} upscales x{self.scale}; it cannot run at x{scale}")
        return replace(self, scale=scale)

    def batch(self, pieces: np.ndarray) -> np.ndarray:
        """(N, h, w, C) float32 pieces -> (N, h*scale, w*scale, C) float32: :attr:`batch_fn` when
        there is one (one model call), else one call per piece.

        Raises:
            ValueError: the upscaler has no fixed :attr:`scale`.
        """
        if self.batch_fn is not None:
            self.check_size(np.shape(pieces)[1:])
            return np.asarray(self.batch_fn(pieces), np.float32)
        return np.stack([np.asarray(self(p), np.float32) for p in pieces])


def pad_to_multiple(image: np.ndarray, multiple: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Pad an (H, W[, C]) image at the bottom and right, by mirroring, to multiples of ``multiple``.

    For models that only take sizes divisible by ``multiple`` (the autoencoder: ``2**depth``).
    Mirroring (``numpy.pad`` mode "symmetric") continues the image without the hard edge that zero
    padding would put there. Crop the model's output back with ``out[:h, :w]``.

    Returns:
        ``(padded, (h, w))``: the padded array (same dtype) and the original height and width.

    Raises:
        ValueError: ``multiple`` is not a positive integer, or ``image`` is not 2-D or 3-D.
    """
    if isinstance(multiple, bool) or not isinstance(multiple, numbers.Integral) or multiple < 1:
        raise ValueError(f"pad_to_multiple: multiple must be a positive integer, got {multiple!r}")
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"pad_to_multiple: expected (H, W) or (H, W, C), got shape {image.shape}")
    h, w = image.shape[:2]
    pad = [(0, -h % multiple), (0, -w % multiple)] + [(0, 0)] * (image.ndim - 2)
    return np.pad(image, pad, mode="symmetric"), (h, w)


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

        # One call of the traced graph at a time: two threads running the same graph at once (the
        # tile workers) crashed the process or returned corrupted tiles for edsr_x4 (TF 2.21, CPU),
        # while eager calls from two threads did not. The workers' NumPy work still overlaps.
        lock = threading.Lock()

        def call(x, compiled=compiled, lock=lock):
            try:
                with lock:
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


def min_input_size(model) -> int:
    """The smallest input height and width ``model`` runs on: 2 when it has a
    :class:`sr_lib.layers.BicubicUpsampling` layer (it mirror-pads 2 pixels, and TensorFlow's
    symmetric padding cannot pad more than the side it pads), else 1. Nested models are searched."""
    from sr_lib.layers import BicubicUpsampling

    pending, seen = list(getattr(model, "layers", None) or []), set()
    while pending:
        layer = pending.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if isinstance(layer, BicubicUpsampling):
            return 2
        pending.extend(getattr(layer, "layers", None) or [])
    return 1


def model_upscaler(model, *, channel: str = "y", multiple: int = 1, scale: int | None = None,
                   name: str | None = None, flops_per_pixel: float | None = None) -> Upscaler:
    """A model that enlarges the LR image, as an :class:`Upscaler` (e.g. for :func:`sr_lib.evaluation.evaluate`).

    Args:
        model: a Keras model (or any ``model(x, training=False)`` callable) taking (1, h, w, C)
            float32 in [0, 1] and returning (1, h*scale, w*scale, C).
        channel: "y" for one-channel models (run on the luma, chroma bicubic: :func:`upscale_via_y`),
            "rgb" for models that take and return three channels (grayscale inputs are repeated to
            RGB and the result averaged back).
        multiple: see :func:`predict` (RGB models only).
        scale: the model's factor; ``None`` (the default) leaves it to each call, ``up(lr, scale)``.
        name: a label; default the model's ``name`` (or "model").
        flops_per_pixel: its price, if known (:attr:`Upscaler.flops_per_pixel`).

    The upscaler takes ``lr`` as :func:`upscale_via_y` does ((h, w), (h, w, 1) or (h, w, 3);
    uint8, uint16 or float in [0, 1]; RGBA raises) and returns float32 in [0, 1] in ``lr``'s layout.
    RGB models with ``multiple=1`` also get a :attr:`~Upscaler.batch_fn` (one call for many
    same-shape pieces, clipped to [0, 1]).

    Speed: on images above 512 x 512 LR pixels, a ``"y"`` model whose receptive field is known
    (:func:`sr_lib.tiling.receptive_radius`: ESPCN-like convolution stacks) runs in 256-pixel pieces
    with that much context, on every core. The result is the whole-image one (to float rounding,
    ~1e-6), at about half the time: each piece's activations (64 channels) stay a few MB instead of
    hundreds of MB allocated and page-faulted on every call, and the NumPy steps run in parallel.

    The upscaler's :attr:`~Upscaler.min_size` is :func:`min_input_size` of the model: smaller
    images raise :class:`sr_lib.images.ImageShapeError` naming it, not a TensorFlow error.

    Raises:
        ValueError: ``channel`` is not "y" or "rgb", or a bad ``scale`` / ``multiple``.
    """
    label = name or getattr(model, "name", None) or "model"
    min_size = min_input_size(model)
    if channel == "y":
        from sr_lib.tiling import receptive_radius

        radius = receptive_radius(model)

        def y(lr, scale):
            if radius is not None and np.shape(lr)[0] * np.shape(lr)[1] > _PIECEWISE_ABOVE:
                return _piecewise(lambda piece: upscale_via_y(model, piece, scale), lr, scale, radius)
            return upscale_via_y(model, lr, scale)

        return Upscaler(label, scale, y, channel="y", multiple=multiple, flops_per_pixel=flops_per_pixel,
                        min_size=min_size)
    if channel == "rgb":
        def rgb(lr, scale):
            restore = images.same_layout(lr)
            lr = images.as_float_hwc(lr, "model_upscaler")
            if lr.shape[-1] == 1:
                sr = predict(model, np.repeat(lr, 3, axis=-1), multiple=multiple).mean(axis=-1, keepdims=True)
                return restore(sr)
            return predict(model, lr, multiple=multiple)

        rgb_batch = None
        if multiple == 1:
            def rgb_batch(pieces):
                pieces = np.asarray(pieces, np.float32)
                gray = pieces.shape[-1] == 1
                x = np.repeat(pieces, 3, axis=-1) if gray else pieces
                out = np.clip(np.asarray(model(x, training=False), np.float32), 0.0, 1.0)
                return out.mean(axis=-1, keepdims=True) if gray else out

        return Upscaler(label, scale, rgb, channel="rgb", multiple=multiple, flops_per_pixel=flops_per_pixel,
                        batch_fn=rgb_batch, min_size=min_size)
    raise ValueError(f"channel must be 'y' or 'rgb', got {channel!r}")


def pre_upsampled_upscaler(restore, *, multiple: int = 1, channel: str = "y", scale: int | None = None,
                           name: str = "restorer") -> Upscaler:
    """A same-size restorer as an :class:`Upscaler` (``input="bicubic"``): bicubic enlargement, then ``restore``.

    The enlargement is the benchmark's bicubic (MATLAB-compatible ``imresize`` of the 8-bit image,
    as :func:`sr_lib.evaluation.bicubic`), so the restorer sees exactly the kind of input it was
    trained on (:func:`sr_lib.data.restoration.restoration_pairs`).

    Args:
        restore: callable on one float32 (H, W, C) image returning (H, W, C), unclipped is fine,
            e.g. ``lambda image: sr_lib.inference.predict(model, image, clip=False)``.
        multiple: the image is mirror-padded to multiples of this before ``restore`` (the
            autoencoder needs ``2**depth``) and the result cropped back.
        channel: "y" -> ``restore`` gets the (H, W, 1) luma; the chroma of colour images stays
            bicubic (the ESPCN / SRCNN recipe). "rgb" -> ``restore`` gets the image as it is.
        scale: the factor it was trained for; ``None`` (the default) leaves it to each call.
        name: a label.

    Returns:
        An :class:`Upscaler`: (h, w), (h, w, 1) or (h, w, 3) in uint8, uint16 or float [0, 1]
        (:mod:`sr_lib.images`; RGBA raises) -> float32 (h * scale, w * scale[, C]) in [0, 1],
        clipped, in the layout of ``lr``.

    Raises:
        ValueError: ``channel`` is not "y" or "rgb", or a bad ``scale`` / ``multiple``.
    """
    from sr_lib.data.imresize import bicubic

    if channel not in ("y", "rgb"):
        raise ValueError(f"pre_upsampled_upscaler: channel must be 'y' or 'rgb', got {channel!r}")

    def run(image):
        padded, (h, w) = pad_to_multiple(image, multiple)
        return np.asarray(restore(padded), dtype=np.float32)[:h, :w]

    def upscaler(lr, scale):
        layout = images.same_layout(lr)
        up = bicubic(images.as_hwc(lr, "pre_upsampled_upscaler"), scale)
        if channel == "rgb" or up.shape[-1] == 1:
            return layout(np.clip(run(up), 0.0, 1.0))
        ycbcr = images.rgb_to_ycbcr(up)
        y = run(ycbcr[..., :1])
        return images.y_and_chroma_to_rgb(y, ycbcr[..., 1:])

    return Upscaler(name, scale, upscaler, channel=channel, input="bicubic", multiple=multiple)


def _dihedral(image: np.ndarray, k: int, axes: tuple[int, int]) -> np.ndarray:
    """Transform ``k`` (0-7) of the 8 symmetries of a rectangle, on the two spatial ``axes``: a
    mirror (``k >= 4``, across the width) followed by ``k % 4`` quarter turns."""
    if k >= 4:
        image = np.flip(image, axis=axes[1])
    return np.rot90(image, k % 4, axes=axes)


def _undo_dihedral(image: np.ndarray, k: int, axes: tuple[int, int]) -> np.ndarray:
    """The inverse of :func:`_dihedral`: the turns undone first, then the mirror (the two do not commute)."""
    image = np.rot90(image, -(k % 4), axes=axes)
    if k >= 4:
        image = np.flip(image, axis=axes[1])
    return image


def self_ensemble(up: Upscaler) -> Upscaler:
    """``up`` averaged over the 8 flips and rotations of its input: "geometric self-ensemble".

    The input is transformed by each of the 8 symmetries of a rectangle (identity, 3 quarter turns,
    and the mirror image of each), upscaled, transformed back and the 8 results averaged. A network
    trained without rotation-equivariance makes slightly different errors on each version; their
    mean is closer to the truth. Timofte, Rothe & Van Gool, *Seven ways to improve example-based
    single image super resolution*, CVPR 2016 (arXiv 1511.02228), who introduced it; Lim et al.,
    *Enhanced Deep Residual Networks for Single Image Super-Resolution*, CVPRW 2017 (arXiv
    1707.02921) report it as a separate model, "EDSR+" (0.1-0.16 dB above EDSR on Set5 / Set14). Measured here: ``edsr_x4`` on
    Set5 / Set14 x4, 30.94 -> 31.29 dB / 27.73 -> 27.93 dB PSNR-Y (``benchmarks/self_ensemble.py``).

    Args:
        up: any Upscaler (a shipped model, an interpolation baseline, one without a fixed scale).

    Returns:
        An :class:`Upscaler` named ``f"{up.name}+"`` with ``up``'s scale, channel, input, multiple
        and min_size, and 8 times its :attr:`~Upscaler.flops_per_pixel` (``None`` stays ``None``).
        Called like ``up``: ``lr`` (h, w), (h, w, 1) or (h, w, 3), any height and width, uint8,
        uint16 or float in [0, 1]; ``up(lr, scale)`` passes ``scale`` through to ``up``. The result
        is float32 in [0, 1], (h*scale, w*scale[, C]) in the layout of ``lr``: the mean of ``up``'s
        8 (clipped) outputs, so it stays in [0, 1] without clipping again. When ``up`` has a
        :attr:`~Upscaler.batch_fn`, so does the result (the same 8 transforms on axes 1 and 2 of the
        (N, h, w, C) batch: 8 batch calls).

    Cost: 8 calls of ``up`` per image (8 model runs: 8 times the time and FLOPs), plus the transforms
    and one float64 accumulator of the output's size. Memory peaks as in one call of ``up``.

    Raises:
        TypeError: ``up`` is not an :class:`Upscaler`.
        As ``up``: ValueError for a ``scale`` other than its own (or none when it has none),
        :class:`sr_lib.images.ImageShapeError` for ``lr`` smaller than ``min_size`` (checked once,
        before the first of the 8 calls: a quarter turn swaps the sides, the smaller one stays).
    """

    if not isinstance(up, Upscaler):
        raise TypeError(f"self_ensemble takes an Upscaler (sr_lib.inference), got {type(up).__name__}")

    def average(run, lr, axes):
        total = None
        for k in range(8):
            # np.rot90 / np.flip return strided views; the models (TensorFlow, OpenCV's resize)
            # want contiguous memory, and copying the small LR input is cheap.
            sr = _undo_dihedral(np.asarray(run(np.ascontiguousarray(_dihedral(lr, k, axes)))), k, axes)
            # float64: the 8 outputs are summed exactly enough that the mean is rounded once, at the end.
            total = sr.astype(np.float64) if total is None else total + sr
        return (total / 8).astype(np.float32)

    def ensembled(lr, scale):
        lr = np.asarray(lr)
        return average(lambda x: up(x, scale), lr, (0, 1))

    batch_fn = None
    if up.batch_fn is not None:
        def batch_fn(pieces):
            return average(up.batch_fn, np.asarray(pieces, np.float32), (1, 2))

    flops = None if up.flops_per_pixel is None else 8 * up.flops_per_pixel
    return replace(up, name=f"{up.name}+", fn=ensembled, flops_per_pixel=flops, batch_fn=batch_fn)
