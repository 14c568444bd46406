"""Sub-pixel upsampling layers: ``PixelShuffle``, ``SubPixelConv2D`` and the ICNR initializer.

Also ``BicubicUpsampling`` (MATLAB's bicubic enlargement as a fixed filter + pixel shuffle, for
residual-over-bicubic models) and ``Sampling``, the reparameterisation trick of a VAE (D. P. Kingma,
M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014, arXiv:1312.6114).
``InstanceNormalization`` normalises each image's channels on their own (Ulyanov et al. 2016,
arXiv:1607.08022), for CycleGAN's generators and critics.

References
----------
- W. Shi, J. Caballero, F. Huszár, J. Totz, A. P. Aitken, R. Bishop, D. Rueckert, Z. Wang,
  "Real-Time Single Image and Video Super-Resolution Using an Efficient Sub-Pixel
  Convolutional Neural Network", CVPR 2016. arXiv:1609.05158.
  (The "periodic shuffling" operator, here ``PixelShuffle``, and the sub-pixel convolution
  layer, here ``SubPixelConv2D``.)
- A. Aitken, C. Ledig, L. Theis, J. Caballero, Z. Wang, W. Shi,
  "Checkerboard artifact free sub-pixel convolution: A note on sub-pixel convolution,
  resize convolution and convolution resize", 2017. arXiv:1707.02937.
  (The ICNR initialisation, here ``ICNR``.)

Conventions
-----------
- Images / feature maps are NHWC (``channels_last``), normally float32. The layers here do
  not rescale values, so whatever value range goes in (e.g. [0, 1] images) is preserved by
  ``PixelShuffle``; ``SubPixelConv2D`` is an unconstrained linear map followed by the
  optional activation.
- Channel order of ``PixelShuffle`` is exactly that of ``tf.nn.depth_to_space`` with
  ``data_format="NHWC"`` ("DCR": depth-column-row)::

      out[n, h*r + i, w*r + j, c] = x[n, h, w, (i*r + j)*C + c]

  i.e. the input channel axis is read as a row-major ``(r, r, C)`` block. ``ICNR`` relies on
  this order, so the two must stay in sync.

This module depends only on Keras, never on other ``sr_lib`` modules, so it can
be copied into another project on its own. All ops go through ``keras.ops`` so the layers
work on any Keras backend.
"""

import numbers

import keras
from keras import layers, ops

__all__ = ["PixelShuffle", "ICNR", "SubPixelConv2D", "Sampling", "BicubicUpsampling", "InstanceNormalization"]


def _validate_scale(scale, where):
    """Return ``scale`` as a Python int, or raise ``ValueError`` if it is not an int >= 2.

    ``bool`` is rejected explicitly because ``True`` is an ``numbers.Integral`` in Python and
    would otherwise silently mean "scale 1". Floats (even ``2.0``) are rejected because the
    scale ends up in reshape dimensions, which must be integers.
    """
    if isinstance(scale, bool) or not isinstance(scale, numbers.Integral):
        raise ValueError(
            f"{where}: `scale` must be an integer >= 2, got {scale!r} "
            f"(type {type(scale).__name__})."
        )
    if scale < 2:
        raise ValueError(
            f"{where}: `scale` must be an integer >= 2 (an upscaling factor), got {scale}."
        )
    return int(scale)


@keras.saving.register_keras_serializable(package="sr_lib")
class PixelShuffle(layers.Layer):
    """Periodic shuffling / depth-to-space (Shi et al. 2016), backend-agnostic.

    Rearranges blocks of ``r*r`` channels into ``r x r`` spatial blocks.

    Input:  ``(N, H, W, C * r**2)`` tensor, any dtype (normally float32). ``N``, ``H`` and
            ``W`` may be dynamic (``None``); the channel count must be static.
    Output: ``(N, r*H, r*W, C)`` tensor, same dtype, same values (a pure permutation, so the
            value range is unchanged).

    Element order is identical to ``tf.nn.depth_to_space(x, r)`` (NHWC, DCR)::

        out[n, h*r + i, w*r + j, c] = x[n, h, w, (i*r + j)*C + c]

    Args:
        scale: upscaling factor ``r``, a Python int >= 2.
        **kwargs: standard ``keras.layers.Layer`` arguments (``name``, ``dtype``, ...).

    Raises:
        ValueError: if ``scale`` is not an int >= 2 (at construction), or if the input is
            not rank 4 or its channel count is unknown or not divisible by ``r**2``
            (at build time).
    """

    def __init__(self, scale, **kwargs):
        super().__init__(**kwargs)
        self.scale = _validate_scale(scale, "PixelShuffle")
        self.input_spec = layers.InputSpec(ndim=4)

    def _output_channels(self, in_channels):
        r2 = self.scale * self.scale
        if in_channels is None:
            raise ValueError(
                "PixelShuffle: the channel dimension of the input must be known "
                "(static), got input channels=None."
            )
        if in_channels % r2 != 0:
            raise ValueError(
                f"PixelShuffle(scale={self.scale}): input channel count {in_channels} is not "
                f"divisible by scale**2 = {r2}. The input needs C * {r2} channels to "
                f"produce C output channels."
            )
        return in_channels // r2

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"PixelShuffle expects a rank-4 NHWC input, got shape {tuple(input_shape)}."
            )
        self.out_channels = self._output_channels(input_shape[-1])
        # Pin the channel count so that calling a built layer on a tensor with a different
        # channel count fails with a Keras error instead of a cryptic reshape error.
        self.input_spec = layers.InputSpec(ndim=4, axes={-1: input_shape[-1]})
        self.built = True

    def call(self, inputs):
        # keras.ops.depth_to_space (Keras >= 3.14) is exactly this shuffle: on the TensorFlow
        # backend it is tf.nn.depth_to_space, whose DCR order is the one documented above and the
        # one the shipped weights were trained with. Checked against the previous
        # reshape -> transpose(0, 1, 3, 2, 4, 5) -> reshape version on random inputs (r = 2, 3, 4;
        # float32 and bfloat16): max abs difference 0, and it keeps dynamic (None, None) H and W.
        return ops.depth_to_space(inputs, self.scale, data_format="channels_last")

    def compute_output_shape(self, input_shape):
        n, h, w, ch = input_shape
        r = self.scale
        return (
            n,
            None if h is None else h * r,
            None if w is None else w * r,
            self._output_channels(ch),
        )

    def get_config(self):
        config = super().get_config()
        config.update({"scale": self.scale})
        return config


@keras.saving.register_keras_serializable(package="sr_lib")
class ICNR(keras.initializers.Initializer):
    """ICNR: "initialised to convolution NN resize" (Aitken et al. 2017).

    For a conv kernel of shape ``(kh, kw, in, out * r**2)`` that feeds a ``PixelShuffle(r)``,
    draws a base kernel of shape ``(kh, kw, in, out)`` and copies base filter ``c`` into every
    channel ``(i*r + j)*out + c`` (all sub-pixel offsets ``i, j``). After the shuffle, the
    ``r x r`` sub-pixels of every output position are then identical at initialisation, i.e.
    sub-pixel conv starts out as "conv then nearest-neighbour upsample", which removes the
    checkerboard artefacts of a randomly initialised sub-pixel conv.

    The repetition is a *tile* over the last axis (not ``np.repeat``) because that is what
    matches PixelShuffle's DCR channel order (sub-pixel offset is the slow index, output
    channel the fast one).

    Args:
        base_initializer: initializer for the ``(kh, kw, in, out)`` base kernel. Anything
            ``keras.initializers.get`` accepts (name, config dict, instance). Default
            ``"he_normal"``. Note the base draw uses the base kernel's fans, e.g. for He
            normal ``fan_in = kh*kw*in`` which is the same as the full kernel's fan-in.
        scale: upscaling factor ``r`` of the following PixelShuffle, int >= 2.
        seed: optional int. If given, it replaces the seed of the base initializer (when
            that initializer has one), making the draw deterministic. Initializers without
            a seed (e.g. ``"zeros"``) ignore it, since they are deterministic anyway.

    Returns (when called): a tensor of the requested shape and dtype (default float32).

    Raises:
        ValueError: if ``scale`` is not an int >= 2, or if the requested shape is not a
            rank-4 conv kernel whose last dimension is divisible by ``scale**2``.
    """

    def __init__(self, base_initializer="he_normal", scale=2, seed=None):
        self.scale = _validate_scale(scale, "ICNR")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ValueError(f"ICNR: `seed` must be an int or None, got {seed!r}.")
        self.seed = None if seed is None else int(seed)
        base = keras.initializers.get(base_initializer)
        if base is None:
            raise ValueError("ICNR: `base_initializer` must not be None.")
        if self.seed is not None and isinstance(base, keras.initializers.Initializer):
            base_config = base.get_config()
            if "seed" in base_config:
                # Rebuild rather than mutate: the caller may share the instance they passed in.
                base = base.__class__.from_config({**base_config, "seed": self.seed})
        self.base_initializer = base

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        r2 = self.scale * self.scale
        if len(shape) != 4:
            raise ValueError(
                f"ICNR expects a rank-4 Conv2D kernel shape (kh, kw, in, out*scale**2), "
                f"got {shape}."
            )
        if shape[-1] % r2 != 0:
            raise ValueError(
                f"ICNR(scale={self.scale}): kernel output channel count {shape[-1]} is not "
                f"divisible by scale**2 = {r2}; the conv must have out * {r2} filters."
            )
        base_shape = shape[:-1] + (shape[-1] // r2,)
        base = self.base_initializer(base_shape, dtype=dtype)
        # Tile along the channel axis: result channel s*out + c == base channel c for every
        # sub-pixel offset s = i*r + j, matching PixelShuffle's channel order.
        return ops.tile(base, (1, 1, 1, r2))

    def get_config(self):
        return {
            "base_initializer": keras.initializers.serialize(self.base_initializer),
            "scale": self.scale,
            "seed": self.seed,
        }


def _resolve_kernel_initializer(kernel_initializer, scale):
    """Map the ``"icnr"`` shorthand to ``ICNR("he_normal", scale)``; pass others to Keras."""
    if isinstance(kernel_initializer, str) and kernel_initializer.lower() == "icnr":
        return ICNR("he_normal", scale=scale)
    init = keras.initializers.get(kernel_initializer)
    if isinstance(init, ICNR) and init.scale != scale:
        # A mismatched ICNR would still produce a valid-shaped kernel, but its repeated
        # filters would land on the wrong sub-pixels; fail loudly instead.
        raise ValueError(
            f"SubPixelConv2D(scale={scale}) was given an ICNR initializer with "
            f"scale={init.scale}; the two scales must match."
        )
    return init


@keras.saving.register_keras_serializable(package="sr_lib")
class SubPixelConv2D(layers.Layer):
    """Sub-pixel convolution (Shi et al. 2016): ``Conv2D(filters * r**2)`` then ``PixelShuffle(r)``.

    Input:  ``(N, H, W, C_in)`` float tensor (normally float32); ``N``, ``H``, ``W`` may be
            dynamic, ``C_in`` must be static.
    Output: ``(N, r*H', r*W', filters)`` with ``H' = H`` for ``padding="same"`` and
            ``H' = H - kernel_size + 1`` for ``"valid"``; same float dtype. Values are
            unconstrained (linear conv) unless ``activation`` bounds them.

    Args:
        filters: number of output channels after the shuffle (int >= 1).
        scale: upscaling factor ``r`` (int >= 2).
        kernel_size: conv kernel size, int or pair. Default 3.
        padding: ``"same"`` (default) or ``"valid"``.
        activation: activation applied to the output (name or callable); ``None`` = linear.
            It is applied inside the conv, before the shuffle; an element-wise activation
            commutes with the pure permutation that PixelShuffle is, so this is equivalent.
        kernel_initializer: ``"icnr"`` (default) for ``ICNR("he_normal", scale)``, an
            ``ICNR`` instance (its scale must equal ``scale``), or any Keras initializer
            (e.g. ``"glorot_uniform"`` for a plain sub-pixel conv with Keras' default init).
        use_bias: whether the conv has a bias. Default True.
        bias_initializer: default ``"zeros"`` -- keep it that way for ICNR, because a
            non-constant bias would break the "identical sub-pixels" property.
        kernel_regularizer, bias_regularizer, kernel_constraint, bias_constraint:
            forwarded to the inner ``Conv2D``.
        **kwargs: standard ``keras.layers.Layer`` arguments (``name``, ``dtype``, ...).
    """

    def __init__(
        self,
        filters,
        scale,
        kernel_size=3,
        padding="same",
        activation=None,
        kernel_initializer="icnr",
        use_bias=True,
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(filters, bool) or not isinstance(filters, numbers.Integral) or filters < 1:
            raise ValueError(f"SubPixelConv2D: `filters` must be a positive int, got {filters!r}.")
        self.filters = int(filters)
        self.scale = _validate_scale(scale, "SubPixelConv2D")
        self.kernel_initializer = _resolve_kernel_initializer(kernel_initializer, self.scale)
        # Keras 3 nested-layer rule: create sublayers in __init__ so they are tracked (and
        # their weights saved) from the start; build them explicitly in build().
        self.conv = layers.Conv2D(
            filters=self.filters * self.scale * self.scale,
            kernel_size=kernel_size,
            padding=padding,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
            dtype=self.dtype_policy,
        )
        self.shuffle = PixelShuffle(self.scale, dtype=self.dtype_policy)

    def build(self, input_shape):
        self.conv.build(input_shape)
        self.shuffle.build(self.conv.compute_output_shape(input_shape))
        self.built = True

    def call(self, inputs):
        return self.shuffle(self.conv(inputs))

    def compute_output_shape(self, input_shape):
        return self.shuffle.compute_output_shape(self.conv.compute_output_shape(input_shape))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "scale": self.scale,
                "kernel_size": self.conv.kernel_size,
                "padding": self.conv.padding,
                "activation": keras.activations.serialize(self.conv.activation),
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "use_bias": self.conv.use_bias,
                "bias_initializer": keras.initializers.serialize(self.conv.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.conv.kernel_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.conv.bias_regularizer),
                "kernel_constraint": keras.constraints.serialize(self.conv.kernel_constraint),
                "bias_constraint": keras.constraints.serialize(self.conv.bias_constraint),
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        # Deserialize nested objects explicitly; keras.initializers.get finds ICNR through
        # the register_keras_serializable registry.
        config["kernel_initializer"] = keras.initializers.get(config["kernel_initializer"])
        config["bias_initializer"] = keras.initializers.get(config["bias_initializer"])
        config["activation"] = keras.activations.get(config["activation"])
        for key in ("kernel_regularizer", "bias_regularizer"):
            config[key] = keras.regularizers.get(config[key])
        for key in ("kernel_constraint", "bias_constraint"):
            config[key] = keras.constraints.get(config[key])
        return cls(**config)


class KeepNoiseState:
    """Mixin for a layer or model that draws from ``self.seed_generator``: its weight files keep the
    generator's state.

    Keras leaves ``SeedGenerator`` state out of weight files, so a training run restored from a backup
    (``BackupAndRestore``) would restart the noise stream and drift from the uninterrupted run. The
    state is saved as one more entry, ``"noise_state"``, next to the object's own variables; files
    without it (older ones) still load.
    """

    _NOISE_KEY = "noise_state"

    def save_own_variables(self, store):
        super().save_own_variables(store)
        store[self._NOISE_KEY] = ops.convert_to_numpy(self.seed_generator.state.value)

    def load_own_variables(self, store):
        if self._NOISE_KEY in store.keys():
            self.seed_generator.state.assign(ops.convert_to_numpy(store[self._NOISE_KEY]))
            store = {key: store[key] for key in store.keys() if key != self._NOISE_KEY}
        super().load_own_variables(store)


@keras.saving.register_keras_serializable(package="sr_lib")
class Sampling(KeepNoiseState, layers.Layer):
    """The reparameterisation trick of a VAE (Kingma & Welling 2014, section 2.4).

    Draws ``z = mean + exp(log_var / 2) * eps`` with ``eps ~ N(0, I)``. The randomness sits in
    ``eps`` only, so ``z`` is a differentiable function of ``mean`` and ``log_var`` and gradients
    reach the encoder through it.

    Input:  a list ``[mean, log_var]`` of two float tensors of the same shape ``(N, ...)`` (a
            vector ``(N, D)`` or a latent map ``(N, h, w, C)``); ``log_var`` is the natural log of
            the variance.
    Output: ``z``, same shape and dtype. It samples in training *and* in inference: a VAE needs
            fresh samples to generate; to use the mean, take ``mean`` directly.

    Args:
        seed: int or None. Draws come from a ``keras.random.SeedGenerator(seed)``, so two layers
            built with the same seed give the same sequence of samples; None draws a fresh seed.
        **kwargs: standard ``keras.layers.Layer`` arguments (``name``, ``dtype``, ...).

    Raises:
        ValueError: if ``seed`` is not an int or None, or if the input is not two tensors of the
            same shape.
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ValueError(f"Sampling: `seed` must be an int or None, got {seed!r}.")
        self.seed = None if seed is None else int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def _check(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2 or not all(
            isinstance(s, (list, tuple)) for s in input_shape
        ):
            raise ValueError(f"Sampling expects a list [mean, log_var] of two tensors, got input shape {input_shape!r}.")
        mean_shape, log_var_shape = (tuple(s) for s in input_shape)
        if len(mean_shape) != len(log_var_shape) or any(
            a is not None and b is not None and a != b for a, b in zip(mean_shape, log_var_shape)
        ):
            raise ValueError(
                f"Sampling: mean and log_var must have the same shape, got {mean_shape} and {log_var_shape}."
            )
        return mean_shape

    def build(self, input_shape):
        self._check(input_shape)
        self.built = True

    def call(self, inputs):
        mean, log_var = inputs
        epsilon = keras.random.normal(ops.shape(mean), dtype=mean.dtype, seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_var) * epsilon

    def compute_output_shape(self, input_shape):
        return self._check(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"seed": self.seed})
        return config


def _keys_cubic(x, a=-0.5):
    """Keys' cubic convolution kernel (a = -0.5, MATLAB's ``imresize`` "bicubic") at offsets ``x``."""
    import numpy as np

    x = np.abs(np.asarray(x, dtype=np.float64))
    near = (a + 2) * x**3 - (a + 3) * x**2 + 1
    far = a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


@keras.saving.register_keras_serializable(package="sr_lib")
class BicubicUpsampling(layers.Layer):
    """Bicubic enlargement by an integer factor, as MATLAB's ``imresize`` computes it, any input size.

    For an integer ``scale`` every output pixel is one of ``scale**2`` sub-pixel phases, and each
    phase is a fixed 5 x 5 separable filter of the LR image (Keys' cubic kernel, a = -0.5, at
    MATLAB's pixel-centre coordinates ``u = (x + 0.5) / scale - 0.5``). So the layer is a fixed
    convolution followed by the pixel shuffle of :class:`PixelShuffle`. The border is padded
    symmetrically (edge pixel repeated), as MATLAB does, so the result equals
    ``sr_lib.data.imresize(x, scale)`` everywhere, border included (no 8-bit rounding).
    ``keras.layers.UpSampling2D(interpolation="bicubic")`` pads differently and cannot run on
    inputs of unknown size inside a compiled function; this layer does both.

    Input:  ``(N, H, W, C)`` float tensor, H and W >= 2 and possibly dynamic, C static.
    Output: ``(N, scale*H, scale*W, C)``, same dtype; not clipped (bicubic overshoots a little).

    Args:
        scale: integer factor >= 2.
        **kwargs: standard ``keras.layers.Layer`` arguments.
    """

    def __init__(self, scale, **kwargs):
        super().__init__(**kwargs)
        self.scale = _validate_scale(scale, "BicubicUpsampling")
        self.input_spec = layers.InputSpec(ndim=4)

    def build(self, input_shape):
        import numpy as np

        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(f"BicubicUpsampling expects (N, H, W, C) with a known C, got {tuple(input_shape)}.")
        r = self.scale
        taps = np.arange(-2, 3)
        # Row i: weights of LR pixels y-2 .. y+2 for the output pixel at LR coordinate y + d_i.
        weights = np.stack([_keys_cubic(taps - ((i + 0.5) / r - 0.5)) for i in range(r)])
        kernel = np.einsum("ia,jb->abij", weights, weights).reshape(5, 5, 1, r * r)
        self.kernel = ops.convert_to_tensor(kernel.astype("float32"))
        self.built = True

    def call(self, inputs):
        r = self.scale
        shape = ops.shape(inputs)
        n, h, w, c = shape[0], shape[1], shape[2], inputs.shape[-1]
        # Every channel through the same one-channel filter: channels into the batch axis.
        x = ops.reshape(ops.transpose(inputs, (0, 3, 1, 2)), (-1, h, w, 1))
        x = ops.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="symmetric")
        x = ops.conv(x, ops.cast(self.kernel, x.dtype), padding="valid")  # (N*C, h, w, r*r)
        x = ops.reshape(x, (-1, h, w, r, r))
        x = ops.transpose(x, (0, 1, 3, 2, 4))  # (N*C, h, r_i, w, r_j), the order of PixelShuffle
        x = ops.reshape(x, (-1, c, h * r, w * r))
        return ops.transpose(x, (0, 2, 3, 1))

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        r = self.scale
        return (n, None if h is None else h * r, None if w is None else w * r, c)

    def get_config(self):
        config = super().get_config()
        config.update({"scale": self.scale})
        return config


@keras.saving.register_keras_serializable(package="sr_lib")
class InstanceNormalization(layers.Layer):
    """Instance normalisation (Ulyanov, Vedaldi, Lempitsky 2016, arXiv:1607.08022, Eq. 2).

    Each channel of each image is normalised with its *own* spatial mean and variance::

        y[n, h, w, c] = gamma[c] * (x[n, h, w, c] - mean[n, c]) / sqrt(var[n, c] + epsilon) + beta[c]

    with ``mean`` and ``var`` (biased) over ``h, w``. Unlike BatchNormalization nothing depends on
    the other images of the batch and training and inference compute the same thing, which is why
    style-transfer and CycleGAN generators use it: an image's contrast is removed per image.

    Input:  ``(N, H, W, C)`` (``H``, ``W`` may be None; ``C`` static), float.
    Output: same shape and dtype. The statistics are computed in float32 (a float16 variance of
            large activations would overflow under mixed precision).

    Args:
        epsilon: added to the variance, > 0.
        center, scale: learn ``beta`` / ``gamma`` (per channel; start at 0 / 1).
        **kwargs: standard ``keras.layers.Layer`` arguments.
    """

    def __init__(self, epsilon=1e-5, center=True, scale=True, **kwargs):
        super().__init__(**kwargs)
        if not epsilon > 0:
            raise ValueError(f"InstanceNormalization: `epsilon` must be > 0, got {epsilon!r}.")
        self.epsilon, self.center, self.scale = float(epsilon), bool(center), bool(scale)
        self.input_spec = layers.InputSpec(ndim=4)

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(
                f"InstanceNormalization expects a rank-4 NHWC input with a known channel count, got {tuple(input_shape)}."
            )
        channels = input_shape[-1]
        self.gamma = self.add_weight(shape=(channels,), initializer="ones", name="gamma") if self.scale else None
        self.beta = self.add_weight(shape=(channels,), initializer="zeros", name="beta") if self.center else None
        self.input_spec = layers.InputSpec(ndim=4, axes={-1: channels})
        self.built = True

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        mean = ops.mean(x, axis=(1, 2), keepdims=True)
        variance = ops.mean(ops.square(x - mean), axis=(1, 2), keepdims=True)
        y = (x - mean) * ops.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            y = y * ops.cast(self.gamma, "float32")
        if self.beta is not None:
            y = y + ops.cast(self.beta, "float32")
        return ops.cast(y, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon, "center": self.center, "scale": self.scale})
        return config
