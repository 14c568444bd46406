"""Perceptual (feature) loss: compare images by what a frozen VGG network sees in them.

Johnson, Alahi & Fei-Fei 2016, "Perceptual Losses for Real-Time Style Transfer and
Super-Resolution" (arXiv 1603.08155): a per-pixel loss punishes every small shift of an edge, and
its minimiser for an uncertain pixel is the blurry average of the possibilities. Comparing the
activations of a network trained on ImageNet instead (VGG-16 ``relu3_3``, which is the output of
Keras' ``block3_conv3`` layer: its activation is the ReLU) asks for the same *features* — edges,
textures — rather than the same numbers. SRGAN (Ledig et al. 2017) uses VGG-19 ``relu5_4``
(``block5_conv4``) as its content loss. The optional Gram-matrix (style) term is Gatys et al.'s
(2016): it matches which features occur together, ignoring where.

Everything here follows the library's convention: images are float32 in [0, 1], NHWC; one or three
channels (a one-channel image is repeated to RGB before VGG sees it).

**The weights.** ``weights="imagenet"`` loads Keras' ImageNet VGG weights the normal way (from
``~/.keras/models/`` or by downloading them). On a machine where they cannot be had, the loss
raises :class:`PerceptualWeightsUnavailable` saying how to get them — it never silently falls back
to a random network. ``weights=None`` builds an *untrained* VGG: the loss mechanics (shapes,
gradients, frozen weights) are then right, but the numbers mean nothing perceptually; the class
warns about it once, and :attr:`PerceptualLoss.pretrained` is ``False``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import keras
from keras import ops

__all__ = [
    "NETWORKS",
    "IMAGENET_BGR_MEAN",
    "PerceptualWeightsUnavailable",
    "imagenet_weights_file",
    "vgg_preprocess",
    "gram_matrix",
    "vgg_feature_extractor",
    "PerceptualLoss",
]

#: Keras application per network name, and the file name Keras caches its no-top ImageNet weights under.
NETWORKS = {
    "vgg16": ("VGG16", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "vgg19": ("VGG19", "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"),
}
_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/{net}/{file}"

#: ImageNet channel means in BGR order on the 0-255 scale: Keras' ``preprocess_input`` for VGG ("caffe" mode).
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)


class PerceptualWeightsUnavailable(RuntimeError):
    """The ImageNet weights of the VGG network could not be loaded (offline machine, no cached file)."""


def imagenet_weights_file(network: str = "vgg16") -> Path:
    """Where Keras keeps (or would keep) the no-top ImageNet weights of ``network``."""
    _, filename = _network(network)
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return keras_home / "models" / filename


def _network(network: str) -> tuple[str, str]:
    try:
        return NETWORKS[network]
    except KeyError:
        raise ValueError(f"unknown network {network!r}; choose one of {sorted(NETWORKS)}") from None


def _how_to_get(network: str) -> str:
    _, filename = _network(network)
    url = _WEIGHTS_URL.format(net=network, file=filename)
    return (
        f"Download {url} on a machine with internet and copy it to {imagenet_weights_file(network)} "
        f"(or pass weights='/path/to/{filename}'). To exercise the loss mechanics without them, pass "
        f"weights=None explicitly: the VGG is then untrained and the loss means nothing perceptually."
    )


def vgg_preprocess(images):
    """[0, 1] RGB (N, H, W, 1 or 3) -> VGG input: BGR, 0-255, ImageNet mean subtracted (float32).

    The same arithmetic as ``keras.applications.vgg16.preprocess_input`` on ``255 * images``
    (a test compares them), written with ``keras.ops`` so it stays differentiable.
    """
    images = ops.cast(images, "float32")
    if images.shape[-1] == 1:
        images = ops.repeat(images, 3, axis=-1)
    elif images.shape[-1] != 3:
        raise ValueError(f"perceptual loss needs 1 or 3 channels, got shape {tuple(images.shape)}")
    bgr = ops.flip(images, axis=-1) * 255.0
    return bgr - ops.convert_to_tensor(IMAGENET_BGR_MEAN, dtype="float32")


def gram_matrix(features):
    """(N, H, W, C) features -> (N, C, C) Gram matrices, normalised by H * W * C (Johnson et al., Eq. 3)."""
    features = ops.cast(features, "float32")
    shape = ops.shape(features)
    n, c = shape[0], shape[3]
    flat = ops.reshape(features, (n, -1, c))
    size = ops.cast(shape[1] * shape[2] * c, "float32")
    return ops.matmul(ops.transpose(flat, (0, 2, 1)), flat) / size


def vgg_feature_extractor(layers=("block3_conv3",), weights="imagenet", network: str = "vgg16") -> keras.Model:
    """A frozen VGG truncated after the deepest of ``layers``: (N, H, W, 3) preprocessed -> list of activations.

    Args:
        layers: Keras layer names (``block{b}_conv{k}``, ``block{b}_pool``); each name's output is
            returned, in the given order. Unknown names raise a ValueError listing the valid ones.
        weights: ``"imagenet"``, a path to a weights file, or ``None`` (untrained).
        network: ``"vgg16"`` or ``"vgg19"``.

    Raises:
        PerceptualWeightsUnavailable: ``"imagenet"`` was asked for and could not be loaded.
        FileNotFoundError: ``weights`` is a path that does not exist.
    """
    app_name, _ = _network(network)
    layers = tuple(layers)
    if not layers:
        raise ValueError("perceptual loss: give at least one VGG layer name")
    if weights not in ("imagenet", None):
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"VGG weights file not found: {path}")
        weights = str(path)
    application = getattr(keras.applications, app_name)
    offline = os.environ.get("SRFS_OFFLINE") == "1"
    if weights == "imagenet" and offline and not imagenet_weights_file(network).is_file():
        # Do not even try the download: on an offline machine it can only fail after a timeout.
        raise PerceptualWeightsUnavailable(
            f"{network} ImageNet weights are not cached and SRFS_OFFLINE=1 forbids downloading. {_how_to_get(network)}"
        )
    try:
        vgg = application(include_top=False, weights=weights, input_shape=(None, None, 3))
    except Exception as error:  # noqa: BLE001 - any download/read failure gets the same advice
        if weights != "imagenet":
            raise
        raise PerceptualWeightsUnavailable(
            f"could not load the {network} ImageNet weights ({type(error).__name__}: {error}). {_how_to_get(network)}"
        ) from error
    names = [layer.name for layer in vgg.layers]
    unknown = [name for name in layers if name not in names]
    if unknown:
        valid = ", ".join(n for n in names if n.startswith("block"))
        raise ValueError(f"unknown {network} layer(s) {unknown}; valid names: {valid}")
    outputs = [vgg.get_layer(name).output for name in layers]
    extractor = keras.Model(vgg.input, outputs, name=f"{network}_features")
    extractor.trainable = False
    return extractor


class _Unsaved:
    """A plain attribute holder that Keras' saving does not descend into."""

    model = None


@keras.saving.register_keras_serializable(package="sr_lib")
class PerceptualLoss(keras.losses.Loss):
    """Feature (content) loss, plus an optional Gram (style) term, on a frozen VGG.

    ``loss(y_true, y_pred)`` with images float32 in [0, 1], (N, H, W, 1 or 3) -> (N,)::

        sum_l  w_l * mean((phi_l(y_pred) - phi_l(y_true))**2)                (feature term)
      + style_weight * sum_l w_l * mean((G(phi_l(y_pred)) - G(phi_l(y_true)))**2)   (Gram term)

    where ``phi_l`` is VGG layer ``l`` after ``preprocess_input`` and the means run over
    positions and channels (Johnson et al.'s 1 / (C H W) normalisation). Activations are in VGG's
    own units (inputs on the 0-255 scale), so raw values are large: ``scale`` multiplies the total
    to bring it nearer the size of a pixel loss.

    Args:
        layers: VGG layer names (default ``("block3_conv3",)`` = relu3_3, Johnson et al.).
        weights: ``"imagenet"`` (the point of the loss), a local weights file, or ``None`` — an
            untrained VGG for testing the mechanics, announced with a warning.
        network: ``"vgg16"`` or ``"vgg19"`` (SRGAN: vgg19, ``block5_conv4``).
        layer_weights: one weight per layer (default all 1).
        style_weight: weight of the Gram term (0: no style term, the SR setting).
        scale: multiplies the whole loss. SRGAN rescales VGG features by 1/12.75 (i.e. the squared
            error by ~1/162.6); the default 1/162.6 follows it.

    The VGG is built lazily (on first call) and frozen: its weights are not trainable, and the
    network is not tracked by a model that uses the loss, so optimizers never see it.
    """

    def __init__(
        self,
        layers=("block3_conv3",),
        weights="imagenet",
        network: str = "vgg16",
        layer_weights=None,
        style_weight: float = 0.0,
        scale: float = 1.0 / 12.75**2,
        name: str = "perceptual",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.layers = tuple(layers)
        _network(network)
        if not self.layers:
            raise ValueError("perceptual loss: give at least one VGG layer name")
        if layer_weights is None:
            layer_weights = (1.0,) * len(self.layers)
        if len(layer_weights) != len(self.layers):
            raise ValueError(f"layer_weights has {len(layer_weights)} entries for {len(self.layers)} layers")
        self.vgg_weights, self.network = weights, network
        self.layer_weights = tuple(float(w) for w in layer_weights)
        self.style_weight, self.scale = float(style_weight), float(scale)
        # Held in a plain object: Keras' weight saving walks every Layer/Model attribute of a model
        # (and of its losses), and the frozen VGG does not belong in a training checkpoint.
        self._vgg = _Unsaved()

    @property
    def pretrained(self) -> bool:
        """True when the VGG carries trained (ImageNet or file) weights."""
        return self.vgg_weights is not None

    def extractor(self) -> keras.Model:
        """The frozen VGG feature extractor (built on first use)."""
        if self._vgg.model is None:
            if self.vgg_weights is None:
                warnings.warn(
                    "PerceptualLoss(weights=None): the VGG is untrained, so this loss only exercises the "
                    "mechanics; its values mean nothing perceptually.",
                    stacklevel=3,
                )
            self._vgg.model = vgg_feature_extractor(self.layers, self.vgg_weights, self.network)
        return self._vgg.model

    def features(self, images) -> list:
        """[0, 1] images (N, H, W, 1|3) -> list of VGG activations, one (N, h, w, C_l) per layer."""
        outputs = self.extractor()(vgg_preprocess(images), training=False)
        return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]

    def call(self, y_true, y_pred):
        # One VGG pass for both images: half the Python overhead, same numbers.
        n = ops.shape(y_true)[0]
        both = self.features(ops.concatenate([ops.cast(y_true, "float32"), ops.cast(y_pred, "float32")], axis=0))
        total = 0.0
        for weight, feature in zip(self.layer_weights, both):
            feature = ops.cast(feature, "float32")
            true, pred = feature[:n], feature[n:]
            total += weight * ops.mean(ops.square(pred - true), axis=(1, 2, 3))
            if self.style_weight:
                gram_diff = gram_matrix(pred) - gram_matrix(true)
                total += self.style_weight * weight * ops.mean(ops.square(gram_diff), axis=(1, 2))
        return self.scale * total

    def get_config(self):
        config = super().get_config()
        config.update(
            layers=list(self.layers),
            weights=self.vgg_weights,
            network=self.network,
            layer_weights=list(self.layer_weights),
            style_weight=self.style_weight,
            scale=self.scale,
        )
        return config
