"""One test harness for every custom layer and model factory (issue 21 item 6).

In the spirit of faceswap's ``layer_test`` and keras-hub's ``run_layer_test``: a :class:`Case`
names how to build one small layer or model and what to feed it; ``tests/test_harness.py`` runs
the same checks on every case:

1. output shape on symbolic (``keras.Input``) and eager (NumPy batch) inputs, the same;
2. ``get_config`` -> ``from_config`` round trip: same config, and (given the same weights) the same
   output for deterministic cases;
3. ``.keras`` save here and load in a *fresh* Python process (one process for all cases: one
   TensorFlow import), same output on a saved input;
4. one ``fit`` step (``compile("adam", "mse")``, or the trainer's own ``train_step``): finite loss,
   one optimizer step, weights moved. ``run_eagerly=True``: tracing the graph of 20 models took
   ~45 s of CPU on its own; the graph path is what tests/test_training.py and the models' own
   tests train;
5. the output dtype under ``mixed_bfloat16``: float32 for the models (they keep their last layer
   in float32), the compute dtype (bfloat16) for the layers.

Everything is built small (a few filters and blocks, 8-32 px inputs) so the whole harness runs in
seconds: CI has little time left.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Callable

import keras
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BATCH = 2


@dataclasses.dataclass
class Case:
    """One layer or model under test.

    Attributes:
        name: test id.
        build: () -> a ``keras.layers.Layer`` or ``keras.Model`` (a fresh one per call).
        inputs: shape of each input without the batch axis; one tuple, or a list for several inputs.
        deterministic: the output is a function of the input and weights (no sampling), so clones
            and reloaded copies must reproduce it.
        fit: ``"mse"`` — ``compile("adam", "mse")`` and fit on (x, random y); ``"own"`` — the
            trainer's ``train_step`` on ``data()``; None — nothing to train (no weights).
        data: () -> one training batch for ``fit="own"``.
        compile_kwargs: extra ``compile`` arguments for ``fit="own"``.
        mixed_dtype: documented output dtype under ``mixed_bfloat16``; None: the layer's compute dtype.
        mixed_xfail: why the output dtype is known to differ from ``mixed_dtype`` today (a strict
            xfail: the test fails once fixed, so the mark gets removed).
    """

    name: str
    build: Callable[[], object]
    inputs: tuple | list
    deterministic: bool = True
    fit: str | None = "mse"
    data: Callable[[], object] | None = None
    compile_kwargs: dict = dataclasses.field(default_factory=dict)
    mixed_dtype: str | None = "float32"
    mixed_xfail: str | None = None

    @property
    def shapes(self) -> list[tuple]:
        return list(self.inputs) if isinstance(self.inputs, list) else [self.inputs]

    def sample(self, seed: int = 0) -> list[np.ndarray]:
        """A random float32 [0, 1] batch for every input."""
        rng = np.random.default_rng(seed)
        return [rng.random((BATCH, *shape)).astype("float32") for shape in self.shapes]


def call(obj, arrays, **kwargs):
    """``obj`` on one input or a list of them, as the object expects."""
    return obj(arrays if len(arrays) > 1 else arrays[0], **kwargs)


def flat(outputs) -> list[np.ndarray]:
    """Every output tensor as a NumPy array, in a fixed order."""
    return [keras.ops.convert_to_numpy(t) for t in keras.tree.flatten(outputs)]


def symbolic_shapes(obj, case: Case) -> list[tuple]:
    inputs = [keras.Input(shape) for shape in case.shapes]
    return [tuple(t.shape) for t in keras.tree.flatten(call(obj, inputs))]


def as_model(obj, case: Case) -> keras.Model:
    """A model as it is; a layer wrapped in a functional model (to save it and fit it)."""
    if isinstance(obj, keras.Model):
        return obj
    inputs = [keras.Input(shape) for shape in case.shapes]
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], call(obj, inputs), name=f"{case.name}_model")


def round_trip(obj):
    """A new object from ``obj.get_config()`` (the class's own ``from_config``)."""
    config = obj.get_config()
    # from_config may consume the dict it is given (functional models pop their layers): a copy.
    clone = type(obj).from_config(copy.deepcopy(config))
    return config, clone


_LOADER = r"""
import json, sys
from pathlib import Path
import numpy as np
import keras
import sr_lib.layers, sr_lib.models, faceswap_lib.models  # register the custom objects

folder = Path(sys.argv[1])
report = {}
for path in sorted(folder.glob("*.keras")):
    name = path.stem
    try:
        model = keras.saving.load_model(path)
        inputs = [np.load(p) for p in sorted(folder.glob(f"{name}.in*.npy"))]
        outputs = model(inputs if len(inputs) > 1 else inputs[0])
        for i, out in enumerate(keras.tree.flatten(outputs)):
            np.save(folder / f"{name}.loaded{i}.npy", keras.ops.convert_to_numpy(out))
        report[name] = "ok"
    except Exception as error:  # reported per case by the test
        report[name] = f"{type(error).__name__}: {error}"
(folder / "report.json").write_text(json.dumps(report))
"""


def save_all(cases_and_models, folder: Path) -> None:
    """Save every (case, model) as ``name.keras`` with its input and output batches beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    for case, model in cases_and_models:
        arrays = case.sample(seed=1)
        for i, array in enumerate(arrays):
            np.save(folder / f"{case.name}.in{i}.npy", array)
        for i, out in enumerate(flat(call(model, arrays))):
            np.save(folder / f"{case.name}.out{i}.npy", out)
        model.save(folder / f"{case.name}.keras")


def load_all_in_fresh_process(folder: Path, timeout: float = 300) -> dict:
    """Load every ``*.keras`` in ``folder`` in ONE new Python process and run it on its saved input.

    Returns {name: "ok" or the error}; the outputs are written as ``name.loaded{i}.npy``.
    """
    result = subprocess.run([sys.executable, "-c", _LOADER, str(folder)], cwd=ROOT, capture_output=True,
                            text=True, timeout=timeout, env=_quiet_env())
    report = folder / "report.json"
    if not report.exists():
        raise RuntimeError(f"the loader process failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
    return json.loads(report.read_text())


def _quiet_env() -> dict:
    import os

    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
