"""MultiWorkerMirroredStrategy on two local worker processes: get_strategy, fit_steps, chief-only backups, resuming.

Three runs of tests/multiworker_worker.py (a tiny ESPCN, then a tiny SRGAN step, 6 steps each in
chunks of 2, global batch 8, the same seeded data), one thread per process:

1. one process without TF_CONFIG: the reference;
2. two workers on localhost, ports chosen by the OS, ended abruptly after ESPCN's 2nd chunk;
3. the same two workers again: they resume ESPCN from the chief's backup, train the SRGAN, then
   try Keras' own ``fit`` under the strategy (the Keras 3 limitation fit_steps works around).

Every process has a deadline and is killed when a run fails, so a hung collective cannot hang CI.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sr_lib.training import TFConfigError, get_strategy, is_chief, read_tf_config

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "multiworker_worker.py"
DEADLINE = 150  # seconds per run; the whole file: ~37 s of CPU, 47 s wall at load 4.6 on 2 cores, 97 s at load 10
INTERRUPTED = 3  # multiworker_worker.INTERRUPTED


def _free_ports(n: int) -> list[int]:
    """Ports the OS hands out for port 0 (closed again just before the workers bind them)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _run(*jobs: tuple[Path, dict | None, tuple[str, ...]]) -> list[int]:
    """Start one worker per (output folder, TF_CONFIG, arguments), all at once; wait for all (at
    most DEADLINE s); kill all if one fails or times out. Returns the exit codes."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    processes, logs = [], []
    try:
        for out, config, args in jobs:
            worker_env = dict(env, TF_CPP_MIN_LOG_LEVEL="2", **({"TF_CONFIG": json.dumps(config)} if config else {}))
            logs.append(out / f"log_{len(list(out.glob('log_*')))}.txt")
            with open(logs[-1], "w") as log:
                processes.append(subprocess.Popen([sys.executable, str(WORKER), str(out), *args], cwd=ROOT,
                                                  env=worker_env, stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + DEADLINE
        while any(p.poll() is None for p in processes):
            failed = [p.returncode for p in processes if p.returncode not in (None, 0, INTERRUPTED)]
            if failed or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        codes = [p.poll() for p in processes]
        if any(code is None or code not in (0, INTERRUPTED) for code in codes):
            tails = "\n".join(f"--- {path}\n{path.read_text()[-3000:]}" for path in logs)
            pytest.fail(f"worker exit codes {codes} (None = still running after {DEADLINE} s, killed)\n{tails}")
        return codes
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()


def _two_workers(out: Path, *args: str):
    ports = _free_ports(2)
    cluster = {"worker": [f"localhost:{port}" for port in ports]}
    return [(out, {"cluster": cluster, "task": {"type": "worker", "index": i}}, args) for i in range(2)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    single, two = tmp_path_factory.mktemp("single"), tmp_path_factory.mktemp("two_workers")
    # The reference runs beside the interrupted pair: three one-thread processes fill 2 cores better
    # than two that wait for each other at every all-reduce.
    *interrupted_codes, single_code = _run(*_two_workers(two, "--stop-after-chunks", "2"), (single, None, ()))
    assert single_code == 0
    backup_after_kill = json.loads((two / "backup_espcn" / "training_state.json").read_text())
    # Fresh ports: the killed workers' ones may linger.
    resumed_codes = _run(*_two_workers(two, "--try-keras-fit"))

    def load(folder, task):
        return json.loads((folder / f"{task}.json").read_text()), dict(np.load(folder / f"{task}.npz"))

    return {
        "single": load(single, "single"),
        "workers": [load(two, f"worker{i}") for i in range(2)],
        "interrupted_codes": interrupted_codes,
        "resumed_codes": resumed_codes,
        "backup_after_kill": backup_after_kill,
        "leftover": sorted(p.name for p in two.iterdir() if p.name.startswith("backup")),
        "keras_fit": [json.loads((two / f"worker{i}_keras_fit.json").read_text()) for i in range(2)],
    }


def _weights(arrays: dict, name: str, when: str) -> list[np.ndarray]:
    keys = sorted((k for k in arrays if k.startswith(f"{name}_{when}_")), key=lambda k: int(k.rsplit("_", 1)[1]))
    return [arrays[k] for k in keys]


@pytest.mark.parametrize("name", ["espcn", "srgan"])
def test_two_workers_match_one_process_with_the_same_global_batch(runs, name):
    (record0, arrays0), (record1, arrays1) = runs["workers"]
    single_record, single_arrays = runs["single"]
    assert record0["replicas"] == record1["replicas"] == 2 and single_record["replicas"] == 1
    assert record0[name]["iterations"] == record1[name]["iterations"] == single_record[name]["iterations"] == 6
    reference, initial = _weights(single_arrays, name, "final"), _weights(single_arrays, name, "initial")
    # Training moved the weights far more than the tolerance, so a wrong average (a sum, one
    # worker's half batch, a missed step) would fail below.
    assert max(np.abs(a - b).max() for a, b in zip(reference, initial)) > 1e-2
    for w0, w1, ref in zip(_weights(arrays0, name, "final"), _weights(arrays1, name, "final"), reference):
        np.testing.assert_array_equal(w0, w1)  # all-reduced updates: bit-identical on both workers
        np.testing.assert_allclose(w0, ref, rtol=1e-4, atol=1e-5)


def test_only_the_chief_writes_backups(runs):
    (record0, _), (record1, _) = runs["workers"]
    assert record0["srgan"]["backups_written"] == 3  # worker 0 is the chief: one backup per chunk
    assert record1["srgan"]["backups_written"] == 0
    assert record1["espcn"]["backups_written"] == 0
    assert runs["leftover"] == []  # finished runs remove their backups


def test_an_interrupted_run_resumes_from_the_chiefs_backup(runs):
    assert runs["interrupted_codes"] == [INTERRUPTED, INTERRUPTED]
    assert runs["backup_after_kill"] == {"epochs_done": 2}
    assert runs["resumed_codes"] == [0, 0]
    (record0, _), (record1, _) = runs["workers"]
    for record in (record0, record1):
        assert record["espcn"]["iterations"] == 6  # 4 restored + 2 trained, not 6 more
        assert len(record["espcn"]["losses"]["loss"]) == 1  # only the third chunk ran after the restart
    assert record0["espcn"]["backups_written"] == 1
    # The resumed chunk's loss is the uninterrupted run's third-chunk loss (weights and optimizer restored).
    single_losses = runs["single"][0]["espcn"]["losses"]["loss"]
    assert record0["espcn"]["losses"]["loss"][0] == pytest.approx(single_losses[2], rel=1e-4)


def test_keras_3_fit_still_fails_under_multi_worker_mirrored_strategy(runs):
    """The reason fit_steps has its own loop under MWMS (keras-team/keras#20585,
    tensorflow/tensorflow#72388). If this starts failing, Keras' fit works there now: fit_steps
    could hand multi-worker training back to model.fit (and keep the chief-only backups)."""
    for result in runs["keras_fit"]:
        assert result["error"] == "ValueError", result
        assert "PerReplica" in result["message"], result


@pytest.mark.parametrize("value, problem", [
    ("{not json", "is not valid JSON"),
    ('{"task": {"type": "worker", "index": 0}}', 'has no "cluster"'),
    ('{"cluster": {"worker": ["a:1", "b:2"]}}', 'has no "task"'),
    ('{"cluster": {"worker": ["a:1", "b"]}, "task": {"type": "worker", "index": 0}}', "not a \"host:port\""),
    ('{"cluster": {"worker": ["a:1", "b:99999"]}, "task": {"type": "worker", "index": 0}}', "not a \"host:port\""),
    ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}}', "index 2 is not one of 0..1"),
    ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": true}}', "index True"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}', "'chief' is not a job"),
    ('{"cluster": {"worker": ["a:1"], "ps": ["b:2"]}, "task": {"type": "worker", "index": 0}}', "'ps' job"),
    ('{"cluster": {"chief": ["a:1", "c:3"], "worker": ["b:2"]}, "task": {"type": "worker", "index": 0}}', "2 chiefs"),
])
def test_malformed_tf_config_is_one_clear_line(monkeypatch, value, problem):
    monkeypatch.setenv("TF_CONFIG", value)
    with pytest.raises(TFConfigError, match="^TF_CONFIG ") as caught:
        get_strategy()
    message = str(caught.value)
    assert problem in message and "\n" not in message and "expected e.g." in message


def test_tf_config_roles(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert read_tf_config() is None and is_chief()
    workers = {"worker": ["a:1", "b:2"]}
    assert is_chief({"TF_CONFIG": json.dumps({"cluster": workers, "task": {"type": "worker", "index": 0}})})
    assert not is_chief({"TF_CONFIG": json.dumps({"cluster": workers, "task": {"type": "worker", "index": 1}})})
    with_chief = {"chief": ["c:3"], **workers}
    assert not is_chief({"TF_CONFIG": json.dumps({"cluster": with_chief, "task": {"type": "worker", "index": 0}})})
    assert is_chief({"TF_CONFIG": json.dumps({"cluster": with_chief, "task": {"type": "chief", "index": 0}})})
    # One task only: nothing to distribute over, the usual single-machine choice.
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}))
    assert get_strategy().num_replicas_in_sync == 1
