"""Weights this project trained itself, shipped in ``assets/weights/`` with sha256 checksums.

``load("espcn_x3")`` rebuilds the model from its factory and loads the weights, so readers can skip
training. ``assets/weights/registry.json`` records for every entry the factory (any public factory in
``sr_lib.models``) and its arguments, how the model is run (``channel``: "y" for one-channel models
on the luma, "rgb" for colour models; ``multiple``: the size the input must divide; ``input``: "lr"
for upscalers, "bicubic" for restoration models that clean up the bicubic-enlarged image), the
file's sha256, and how the weights were made (data, steps, training time, the machine, the scores
measured right after training). :func:`save` writes an entry; the training scripts in ``benchmarks/``
call it.

The folder can be moved with ``SRFS_WEIGHTS_DIR``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sr_lib.data.registry import file_sha256  # one checksum routine for datasets and weights

__all__ = ["weights_dir", "registry", "available", "info", "load", "upscaler", "save", "PretrainedError"]

_REGISTRY_FILE = "registry.json"


class PretrainedError(RuntimeError):
    """A registered weight file is missing, corrupt, or does not fit its model."""


def weights_dir() -> Path:
    """``$SRFS_WEIGHTS_DIR`` or the repository's ``assets/weights``."""
    value = os.environ.get("SRFS_WEIGHTS_DIR")
    return Path(value) if value else Path(__file__).resolve().parents[1] / "assets" / "weights"


def registry() -> dict[str, dict]:
    path = weights_dir() / _REGISTRY_FILE
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def available() -> list[str]:
    return sorted(registry())


def _factory(name: str):
    """The public model factory ``sr_lib.models.<name>`` (any of them: espcn, unet, srresnet, ...)."""
    from sr_lib import models

    factory = getattr(models, name, None) if isinstance(name, str) and not name.startswith("_") else None
    return factory if callable(factory) and not isinstance(factory, type) else None


def info(name: str) -> dict:
    """How to run the registered model ``name``: ``{"scale", "channel", "multiple", "input"}`` plus its entry.

    ``channel`` is ``"y"`` (one-channel model on the luma, chroma bicubic; the default, as for the
    ESPCN entries) or ``"rgb"`` (three channels in and out); ``multiple`` the size the input must
    divide (``2**depth`` for U-Nets; default 1); ``input`` is ``"lr"`` (the model enlarges; the
    default) or ``"bicubic"`` (a same-size restoration model, e.g. notebook 02's autoencoder, that
    gets the bicubic-enlarged image; ``scale`` is then the factor it was measured at).

    Raises:
        KeyError: unknown name (the message lists the registered ones).
        PretrainedError: the entry has no scale or an unknown channel.
    """
    entries = registry()
    if name not in entries:
        raise KeyError(f"no pretrained weights named {name!r}; available: {', '.join(sorted(entries)) or 'none'}")
    entry = entries[name]
    scale = entry.get("scale", entry.get("kwargs", {}).get("scale"))
    if scale is None:
        raise PretrainedError(f"registry entry {name!r} records no scale (kwargs.scale or scale)")
    channel = entry.get("channel", "y")
    if channel not in ("y", "rgb"):
        raise PretrainedError(f"registry entry {name!r}: channel must be 'y' or 'rgb', got {channel!r}")
    model_input = entry.get("input", "lr")
    if model_input not in ("lr", "bicubic"):
        raise PretrainedError(f"registry entry {name!r}: input must be 'lr' or 'bicubic', got {model_input!r}")
    return {**entry, "scale": int(scale), "channel": channel, "multiple": int(entry.get("multiple", 1)),
            "input": model_input}


def load(name: str):
    """A ready (compiled-free) Keras model with the registered weights for ``name``.

    Raises:
        KeyError: unknown name (the message lists the registered ones).
        PretrainedError: the file is missing, its checksum differs, or it does not fit the model
            (also an HDF5 file that cannot be read); the message starts with the file's path.
    """
    entries = registry()
    if name not in entries:
        raise KeyError(f"no pretrained weights named {name!r}; available: {', '.join(sorted(entries)) or 'none'}")
    entry = entries[name]
    path = weights_dir() / entry["file"]
    if not path.is_file():
        raise PretrainedError(f"{path}: missing, but registered as the weights of {name!r}")
    actual = file_sha256(path)
    if actual != entry["sha256"]:
        raise PretrainedError(
            f"{path}: corrupt or replaced: sha256 {actual} differs from the registered {entry['sha256']}"
        )
    factory = _factory(entry["factory"])
    if factory is None:
        raise PretrainedError(f"{name!r} names an unknown model factory {entry['factory']!r}")
    model = factory(**entry["kwargs"])
    try:
        model.load_weights(path)
    except Exception as error:  # h5py and Keras raise several types for a file that does not fit
        # h5py's messages span lines; the first says what is wrong.
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise PretrainedError(f"{path}: does not fit {entry['factory']}({entry['kwargs']}): {reason}") from error
    return model


def upscaler(name: str, model=None):
    """The registered model ``name`` as an :class:`sr_lib.inference.Upscaler`, run the way it was
    trained: on the luma or RGB, padded to its ``multiple``, and for ``input="bicubic"`` models on the
    bicubic-enlarged image. This is what ``python -m sr_lib upscale/evaluate``, :mod:`sr_lib.adaptive`
    and the shipped-score test use, so every caller runs a model the same way. ``model``: the
    already loaded ``load(name)``, to skip loading it again.

    The Upscaler has the entry's ``name``, ``scale``, ``channel``, ``input`` and ``multiple`` (as
    :func:`info` reads them). ``up(lr)`` (or ``up(lr, scale)`` with the model's own scale): ``lr``
    is (h, w), (h, w, 1) or (h, w, 3), uint8, uint16 or float in [0, 1] (:mod:`sr_lib.images`; RGBA
    raises, no shipped model saw alpha); the result is float32 in [0, 1], (h*scale, w*scale[, C])
    in the layout of ``lr``.

    Raises: as :func:`info` and :func:`load`; the Upscaler raises ValueError for another scale.
    """
    from sr_lib.inference import model_upscaler, pre_upsampled_upscaler, predict

    how = info(name)
    model = load(name) if model is None else model
    if how["input"] == "bicubic":
        return pre_upsampled_upscaler(lambda image: predict(model, image, clip=False), multiple=how["multiple"],
                                      channel=how["channel"], scale=how["scale"], name=name)
    return model_upscaler(model, channel=how["channel"], multiple=how["multiple"], scale=how["scale"], name=name)


def save(model, name: str, *, factory: str, kwargs: dict, metadata: dict) -> Path:
    """Save ``model``'s weights (only the weights: no optimizer state) as ``<name>.weights.h5`` and
    (re)write its registry entry. ``factory(**kwargs)`` must rebuild ``model``'s architecture."""
    directory = weights_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.weights.h5"
    # Keras writes a compiled model's optimizer state (Adam: two slots per weight) into the same file,
    # tripling its size; users need only the weights, so save an uncompiled twin from the factory.
    factory_fn = _factory(factory)
    if factory_fn is None:
        raise PretrainedError(f"save: unknown model factory {factory!r}")
    twin = factory_fn(**kwargs)
    try:
        twin.set_weights(model.get_weights())
    except ValueError as error:
        raise PretrainedError(f"save: {factory}({kwargs}) does not match the model being saved: {error}") from error
    twin.save_weights(path)
    entries = registry()
    entries[name] = {"file": path.name, "sha256": file_sha256(path), "factory": factory, "kwargs": kwargs, **metadata}
    (directory / _REGISTRY_FILE).write_text(json.dumps(dict(sorted(entries.items())), indent=1) + "\n")
    return path
