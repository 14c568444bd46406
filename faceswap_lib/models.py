"""The shared-encoder face-swap autoencoder: one encoder for both people, one decoder each.

The original "deepfakes" method (2017; described in T. T. Nguyen et al., *Deep learning for
deepfakes creation and detection: a survey*, arXiv:1909.11573, Fig. 2): an encoder compresses an
aligned face of *either* person into a small code; decoder A learns to redraw faces of person A
from that code, decoder B faces of person B. Because the encoder is shared, the code has to
describe what the two people's faces have in common (pose, expression, lighting), and each
decoder adds the identity. Feeding a face of A through decoder B gives B's face with A's pose and
expression: the swap.

Both decoders upsample with **pixel shuffle** blocks (conv -> LeakyReLU -> ``PixelShuffle(2)``,
``sr_lib.layers``; W. Shi et al., CVPR 2016), as the original code did with its "upscale" blocks.
Optionally each decoder also predicts a **mask** channel (where the face is), trained against the
landmark hull of the target, which the convert step can use to blend.

Images are float32 in [0, 1], NHWC, ``size`` x ``size`` x 3 aligned crops. Decoders return
``size x size x 3`` (RGB, sigmoid) or ``size x size x 4`` (RGB + mask) with ``mask=True``.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from sr_lib import losses
from sr_lib.layers import ICNR, PixelShuffle

__all__ = ["downscale", "upscale", "face_encoder", "face_decoder", "FaceSwapAutoencoder", "faceswap_autoencoder"]


def downscale(x, filters: int, name: str):
    """Conv 5 x 5, stride 2 -> LeakyReLU(0.1): halves the size."""
    x = layers.Conv2D(filters, 5, strides=2, padding="same", name=f"{name}_conv")(x)
    return layers.LeakyReLU(0.1, name=f"{name}_act")(x)


def upscale(x, filters: int, name: str):
    """Conv 3 x 3 to ``4 * filters`` channels -> LeakyReLU(0.1) -> PixelShuffle(2): doubles the size.

    The conv starts from the ICNR initialisation (Aitken et al. 2017), so the untrained block is a
    nearest-neighbour upsampling and shows no checkerboard.
    """
    x = layers.Conv2D(4 * filters, 3, padding="same", kernel_initializer=ICNR(scale=2), name=f"{name}_conv")(x)
    x = layers.LeakyReLU(0.1, name=f"{name}_act")(x)
    return PixelShuffle(2, name=f"{name}_shuffle")(x)


def face_encoder(size: int = 64, filters=(32, 64, 128, 128), latent: int = 128, name: str = "encoder") -> keras.Model:
    """``(size, size, 3)`` face -> ``(size / 2**len(filters) * 2, ..., filters[-1])`` feature map.

    Downscale blocks to ``size / 2**k``, a dense bottleneck of ``latent`` units (the shared code),
    a dense layer back to a ``s x s x filters[-1]`` map and one upscale block, as in the original.
    """
    k = len(filters)
    if size % (2**k) or size < 2**k * 2:
        raise ValueError(f"face_encoder: size must be a multiple of {2**k} and >= {2**(k + 1)}, got {size}")
    inputs = keras.Input((size, size, 3), name="face")
    x = inputs
    for i, f in enumerate(filters):
        x = downscale(x, f, f"{name}_down{i}")
    s = size // 2**k
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(latent, name=f"{name}_code")(x)
    x = layers.Dense(s * s * filters[-1], name=f"{name}_expand")(x)
    x = layers.Reshape((s, s, filters[-1]), name=f"{name}_reshape")(x)
    x = upscale(x, filters[-1] // 2, f"{name}_up")
    return keras.Model(inputs, x, name=name)


def face_decoder(
    input_shape, filters=(96, 48, 24), mask: bool = False, name: str = "decoder"
) -> keras.Model:
    """Encoder features ``(s, s, c)`` -> ``(s * 2**len(filters), ..., 3 or 4)`` face (and mask), sigmoid."""
    inputs = keras.Input(tuple(input_shape), name="code")
    x = inputs
    for i, f in enumerate(filters):
        x = upscale(x, f, f"{name}_up{i}")
    # The output layers run in float32 under a mixed-precision policy: the face is the model's result.
    rgb = layers.Conv2D(3, 5, padding="same", activation="sigmoid", dtype="float32", name=f"{name}_rgb")(x)
    if mask:
        alpha = layers.Conv2D(1, 5, padding="same", activation="sigmoid", dtype="float32", name=f"{name}_mask")(x)
        rgb = layers.Concatenate(dtype="float32", name=f"{name}_rgba")([rgb, alpha])
    return keras.Model(inputs, rgb, name=name)


@keras.saving.register_keras_serializable(package="faceswap_lib")
class FaceSwapAutoencoder(keras.Model):
    """Shared encoder + decoder A + decoder B, trained on both people at once.

    ``fit`` takes batches ``((warped_a, warped_b), (target_a, target_b))``: warped inputs
    (N, S, S, 3) and clean targets (N, S, S, 3), or (N, S, S, 4) with the mask as the 4th channel
    when ``mask=True``. One ``train_step`` updates the encoder and both decoders on
    ``loss_a + loss_b``, where each side's loss is

        MAE + ssim_weight * (1 - SSIM)  [+ mask_weight * MAE(mask)]
            [+ priority_weight * mean(|target - output| * eyes_and_mouth)]

(the last, DeepFaceLab's "eyes and mouth priority", needs the eyes-and-mouth mask as the target's
last channel: ``(N, S, S, 4)`` without a mask, ``(N, S, S, 5)`` with one)

    and tracks ``loss_a``, ``loss_b`` (and ``loss``, their sum).

    Calling the model on faces returns ``(decoder_a(encoder(x)), decoder_b(encoder(x)))``; use
    :meth:`swap` / :meth:`reconstruct` to pick one side.
    """

    def __init__(self, encoder, decoder_a, decoder_b, ssim_weight: float = 1.0, mask_weight: float = 1.0,
                 priority_weight: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder_a, self.decoder_b = encoder, decoder_a, decoder_b
        self.ssim_weight, self.mask_weight = float(ssim_weight), float(mask_weight)
        self.priority_weight = float(priority_weight)
        self.has_mask = decoder_a.output_shape[-1] == 4
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.loss_a_tracker = keras.metrics.Mean(name="loss_a")
        self.loss_b_tracker = keras.metrics.Mean(name="loss_b")

    @property
    def size(self) -> int:
        return int(self.encoder.input_shape[1])

    @property
    def metrics(self):
        return [self.loss_tracker, self.loss_a_tracker, self.loss_b_tracker]

    def call(self, faces, training=False):
        code = self.encoder(faces, training=training)
        return self.decoder_a(code, training=training), self.decoder_b(code, training=training)

    def decode(self, faces, side: str, training=False):
        """Faces through the encoder and decoder ``side`` ("a" or "b")."""
        if side not in ("a", "b"):
            raise ValueError(f"side must be 'a' or 'b', got {side!r}")
        decoder = self.decoder_a if side == "a" else self.decoder_b
        return decoder(self.encoder(faces, training=training), training=training)

    def reconstruct(self, faces, side: str):
        """NumPy (N, S, S, 3 or 4) float32: faces of person ``side`` redrawn by their own decoder."""
        return ops.convert_to_numpy(self.decode(ops.convert_to_tensor(faces, "float32"), side))

    def swap(self, faces, to: str):
        """NumPy (N, S, S, 3 or 4) float32: faces of the other person drawn by decoder ``to``."""
        return self.reconstruct(faces, to)

    def side_loss(self, target, output):
        """Per-batch loss of one side: MAE + ssim_weight * SSIM loss on RGB (+ mask MAE)."""
        rgb_t, rgb_p = target[..., :3], output[..., :3]
        loss = ops.mean(losses.mae(rgb_t, rgb_p))
        if self.ssim_weight:
            loss = loss + self.ssim_weight * ops.mean(losses.ssim_loss(rgb_t, rgb_p))
        if self.has_mask:
            loss = loss + self.mask_weight * ops.mean(ops.abs(target[..., 3:4] - output[..., 3:4]))
        if self.priority_weight:
            weight = target[..., 4:5] if self.has_mask else target[..., 3:4]
            loss = loss + self.priority_weight * ops.mean(ops.abs(rgb_t - rgb_p) * weight)
        return loss

    def train_step(self, data):
        import tensorflow as tf  # the gradient tape; the model itself only uses keras.ops

        (warped_a, warped_b), (target_a, target_b), _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            loss_a = self.side_loss(target_a, self.decode(warped_a, "a", training=True))
            loss_b = self.side_loss(target_b, self.decode(warped_b, "b", training=True))
            loss = loss_a + loss_b
        variables = self.trainable_variables
        grads = tape.gradient(loss, variables)
        self.optimizer.apply(grads, variables)
        self.loss_tracker.update_state(loss)
        self.loss_a_tracker.update_state(loss_a)
        self.loss_b_tracker.update_state(loss_b)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        (faces_a, faces_b), (target_a, target_b), _ = keras.utils.unpack_x_y_sample_weight(data)
        loss_a = self.side_loss(target_a, self.decode(faces_a, "a"))
        loss_b = self.side_loss(target_b, self.decode(faces_b, "b"))
        self.loss_tracker.update_state(loss_a + loss_b)
        self.loss_a_tracker.update_state(loss_a)
        self.loss_b_tracker.update_state(loss_b)
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        config = super().get_config()
        config.update({
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder_a": keras.saving.serialize_keras_object(self.decoder_a),
            "decoder_b": keras.saving.serialize_keras_object(self.decoder_b),
            "ssim_weight": self.ssim_weight,
            "mask_weight": self.mask_weight,
            "priority_weight": self.priority_weight,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder_a", "decoder_b"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def faceswap_autoencoder(
    size: int = 64,
    encoder_filters=(32, 64, 128, 128),
    latent: int = 128,
    decoder_filters=(96, 48, 24),
    mask: bool = False,
    ssim_weight: float = 1.0,
    mask_weight: float = 1.0,
    priority_weight: float = 0.0,
) -> FaceSwapAutoencoder:
    """The shared-encoder face-swap autoencoder for ``size`` x ``size`` aligned faces.

    Args:
        size: side of the aligned faces (a multiple of ``2**len(encoder_filters)``).
        encoder_filters: filters of the downscale blocks (each halves the size).
        latent: units of the dense bottleneck, the code both people share.
        decoder_filters: filters of the decoders' upscale blocks; with the encoder's own upscale
            block, ``len(encoder_filters) == len(decoder_filters) + 1`` brings faces back to ``size``.
        mask: decoders predict a 4th, mask channel.
        ssim_weight, mask_weight, priority_weight: loss weights (see :class:`FaceSwapAutoencoder`).

    Returns:
        A built (not compiled) :class:`FaceSwapAutoencoder`; ``compile(optimizer=...)`` it.
    """
    if len(encoder_filters) != len(decoder_filters) + 1:
        raise ValueError(
            f"faceswap_autoencoder: need len(encoder_filters) == len(decoder_filters) + 1 to return to "
            f"{size} px, got {len(encoder_filters)} and {len(decoder_filters)}"
        )
    encoder = face_encoder(size, encoder_filters, latent)
    shape = encoder.output_shape[1:]
    decoder_a = face_decoder(shape, decoder_filters, mask, name="decoder_a")
    decoder_b = face_decoder(shape, decoder_filters, mask, name="decoder_b")
    model = FaceSwapAutoencoder(encoder, decoder_a, decoder_b, ssim_weight, mask_weight, priority_weight, name="faceswap_autoencoder")
    model(ops.zeros((1, size, size, 3)))  # build, so that weights exist and summary() works
    return model
