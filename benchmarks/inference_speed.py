"""CPU inference speed of every registered model (and bicubic), and peak memory of tiled upscaling.

Speed: each method upscales a 1-megapixel RGB input (1024 x 1024) through the path the command line
uses (``sr_lib.tiling.upscale_tiled`` with 256-pixel tiles, 16 pixels of overlap, 2 worker threads, 8-bit output;
Y-channel models run the luma and take the chroma bicubic). Reported: wall seconds for the whole
image, milliseconds per output megapixel, and the process CPU seconds (all threads; on a machine
shared with other jobs the wall time stretches, the CPU time much less), best of ``--repeats``
after one warm-up call. The machine's load average is recorded with the result. SRResNet
(Ledig et al. 2017: 16 residual blocks, 64 filters) runs with **random weights** on a 256 x 256
input: its speed does not depend on the weights (the trained, slimmer ``srresnet_x4_demo`` is timed
like every registered model).

Memory: a fresh Python process upscales a 16-megapixel input (4000 x 4000 RGB) x4 with ESPCN, in
tiles, into an 8-bit buffer, and reports its peak resident set size (``VmHWM`` from
``/proc/self/status``, which covers TensorFlow's own allocations, unlike ``tracemalloc``; not
``ru_maxrss``, which Linux carries over from the parent process). Reading and writing the file are not included.

Peer: OpenCV's ``dnn_superres`` ESPCN x4 (C++, the pretrained graph of TF-ESPCN, found through the
data registry as ``opencv_dnn_superres``; it needs ``opencv-contrib-python-headless``, the
``benchmark`` extra) against our two ESPCN x4 paths on the same 1024 x 1024 RGB uint8 input: the
whole-image call a notebook reader makes, ``pretrained.upscaler("espcn_x4")(image, 4)`` (float32
output), and the command line's tiled path (``upscale_tiled`` + the same upscaler per tile, 8-bit
output). The three run back to back in rounds (the order rotating), after one full-size warm-up each,
with the threads each library chooses (here both use every core); reported: median and best wall
seconds and their ratios to OpenCV's. Without the graphs (no mirror, no cache, offline) or without
``cv2.dnn_superres``, one line says so and the peer is skipped.

Prints tables and writes ``results/inference_speed.json`` (atomically: a temporary file renamed).
Usage: python benchmarks/inference_speed.py [--repeats 3] [--peer-repeats 7] [--memory-megapixels 16]
       [--no-memory] [--only-peer]   (``--only-peer``: only the OpenCV comparison, stored into the
       existing JSON)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parents[1] / "results"
TILE, OVERLAP, WORKERS = 256, 16, 2  # the command line's defaults

MEMORY_CHILD = r"""
import json, sys, time
import numpy as np


def peak_mib():
    # VmHWM: this process's resident-set high-water mark. (ru_maxrss would carry over the parent's
    # peak: Linux keeps it across fork + exec.)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024


from sr_lib import pretrained
from sr_lib.inference import upscale_via_y
from sr_lib.tiling import upscale_tiled
side, tile, overlap, name, workers = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
model = pretrained.load(name)
scale = pretrained.info(name)["scale"]
upscale_via_y(model, np.zeros((64, 64, 3), np.float32), scale)  # warm-up
image = np.empty((side, side, 3), np.float32)  # filled in row blocks: no full-size temporaries
x = np.arange(side, dtype=np.float32)[None, :] / 37.0
for top in range(0, side, 256):
    y = np.arange(top, min(side, top + 256), dtype=np.float32)[:, None] / 37.0
    for c in range(3):
        image[top:top + len(y), :, c] = 0.5 + 0.4 * np.sin(y + c) * np.cos(x * 1.3 - c)
before = peak_mib()
started = time.perf_counter()
out = upscale_tiled(lambda lr: upscale_via_y(model, lr, scale), image, scale, tile=tile, overlap=overlap,
                    out_dtype=np.uint8, workers=workers)
seconds = time.perf_counter() - started
peak = peak_mib()
print(json.dumps({"model": name, "scale": scale, "input": [side, side, 3], "output": list(out.shape),
                  "input_megapixels": side * side / 1e6, "output_megapixels": out.shape[0] * out.shape[1] / 1e6,
                  "tile": tile, "overlap": overlap, "workers": workers, "seconds": round(seconds, 2),
                  "rss_before_upscaling_mib": round(before), "peak_rss_mib": round(peak),
                  "output_buffer_mib": round(out.nbytes / 2**20)}))
"""


def _time(fn, image, scale, repeats):
    from sr_lib.tiling import upscale_tiled

    fn(image[:64, :64])  # warm-up: builds the TensorFlow graph for this input rank
    best, cpu, out = float("inf"), float("inf"), None
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        out = upscale_tiled(fn, image, scale, tile=TILE, overlap=OVERLAP, out_dtype=np.uint8, workers=WORKERS)
        best = min(best, time.perf_counter() - started)
        cpu = min(cpu, time.process_time() - cpu_started)
    return best, cpu, out.shape


def _test_image(side):
    y, x = np.mgrid[0:side, 0:side].astype(np.float32) / 37.0
    return np.stack([0.5 + 0.4 * np.sin(y + c) * np.cos(x * 1.3 - c) for c in range(3)], -1).astype(np.float32)


def speed_rows(repeats: int) -> list[dict]:
    import keras

    from sr_lib import flops, models, pretrained
    from sr_lib.evaluation import bicubic
    from sr_lib.inference import model_upscaler

    rows = []
    big, small = _test_image(1024), _test_image(256)
    for scale in (2, 3, 4):
        seconds, cpu, shape = _time(lambda lr, s=scale: bicubic(lr, s), big, scale, repeats)
        rows.append({"method": "bicubic", "scale": scale, "weights": "none", "parameters": 0,
                     "flops_per_output_pixel": None, "input": list(big.shape), "output": list(shape),
                     "seconds": seconds, "cpu_seconds": cpu})
    for name in pretrained.available():
        info = pretrained.info(name)
        model = pretrained.load(name)
        upscaler = pretrained.upscaler(name)  # as the command line runs it (bicubic first for restorers)
        channels = 1 if info["channel"] == "y" else 3
        seconds, cpu, shape = _time(lambda lr, u=upscaler, s=info["scale"]: u(lr, s), big, info["scale"], repeats)
        rows.append({"method": name, "scale": info["scale"], "weights": "trained (assets/weights)",
                     "parameters": int(model.count_params()),
                     "flops_per_output_pixel": flops.flops_per_output_pixel(model, (32, 32, channels)),
                     "input": list(big.shape), "output": list(shape), "seconds": seconds,
                     "cpu_seconds": cpu})
    keras.utils.set_random_seed(0)
    model = models.srresnet(scale=4)
    upscaler = model_upscaler(model, channel="rgb")
    seconds, cpu, shape = _time(lambda lr: upscaler(lr, 4), small, 4, repeats)
    rows.append({"method": "srresnet_x4", "scale": 4, "weights": "random (speed only)",
                 "parameters": int(model.count_params()),
                 "flops_per_output_pixel": flops.flops_per_output_pixel(model, (32, 32, 3)),
                 "input": list(small.shape), "output": list(shape), "seconds": seconds,
                 "cpu_seconds": cpu})
    for row in rows:
        row["output_megapixels"] = row["output"][0] * row["output"][1] / 1e6
        row["ms_per_output_megapixel"] = 1000 * row["seconds"] / row["output_megapixels"]
        row["seconds"], row["cpu_seconds"] = round(row["seconds"], 3), round(row["cpu_seconds"], 3)
    return rows


def _peer_graph(scale: int = 4) -> Path | None:
    """OpenCV's ESPCN graph through the data registry, or None (after one line saying why)."""
    from sr_lib.data import registry

    try:
        root = registry.fetch("opencv_dnn_superres", progress=False)
    except registry.DatasetUnavailableError:
        where = os.environ.get("SRFS_DATA_DIR") or "unset"
        print(f"peer skipped: OpenCV's ESPCN graphs (dataset 'opencv_dnn_superres') are not in the data mirror "
              f"(SRFS_DATA_DIR={where}) or the cache {registry.cache_dir()}, and could not be downloaded")
        return None
    return root / registry.DATASETS["opencv_dnn_superres"].prefix / f"ESPCN_x{scale}.pb"


def peer_comparison(repeats: int, side: int = 1024, name: str = "espcn_x4") -> dict | None:
    """OpenCV dnn_superres ESPCN against our whole-image and tiled paths, interleaved (see the module doc)."""
    try:
        import cv2

        cv2.dnn_superres.DnnSuperResImpl_create
    except AttributeError:
        print("peer skipped: cv2.dnn_superres is missing (plain OpenCV); install the benchmark extra: "
              "pip install -c requirements/constraints.txt -e '.[benchmark]'")
        return None
    from sr_lib import pretrained
    from sr_lib.tiling import upscale_tiled

    scale = pretrained.info(name)["scale"]
    graph = _peer_graph(scale)
    if graph is None:
        return None
    image = np.round(_test_image(side) * 255).astype(np.uint8)  # what a reader loads from a file
    bgr = np.ascontiguousarray(image[..., ::-1])  # OpenCV's channel order, made outside the timing
    peer = cv2.dnn_superres.DnnSuperResImpl_create()
    peer.readModel(str(graph))
    peer.setModel("espcn", scale)
    upscaler = pretrained.upscaler(name)
    methods = {
        "opencv_dnn_superres": lambda: peer.upsample(bgr),
        "ours_whole_image": lambda: upscaler(image, scale),
        "ours_tiled": lambda: upscale_tiled(lambda lr: upscaler(lr, scale), image, scale, tile=TILE,
                                            overlap=OVERLAP, out_dtype=np.uint8, workers=WORKERS),
    }
    outputs = {key: fn() for key, fn in methods.items()}  # warm-up at full size: graphs, allocators
    load_before = os.getloadavg()[0]
    wall = {key: [] for key in methods}
    cpu = {key: [] for key in methods}
    keys = list(methods)
    for round_ in range(repeats):
        for key in keys[round_ % len(keys):] + keys[:round_ % len(keys)]:
            started, cpu_started = time.perf_counter(), time.process_time()
            methods[key]()
            wall[key].append(time.perf_counter() - started)
            cpu[key].append(time.process_time() - cpu_started)
    load_after = os.getloadavg()[0]
    base_median, base_best = float(np.median(wall["opencv_dnn_superres"])), min(wall["opencv_dnn_superres"])
    rows = []
    for key in keys:
        median, best = float(np.median(wall[key])), min(wall[key])
        out = outputs[key]
        rows.append({"method": key, "output": list(out.shape), "output_dtype": str(out.dtype),
                     "median_seconds": round(median, 3), "best_seconds": round(best, 3),
                     "median_cpu_seconds": round(float(np.median(cpu[key])), 3),
                     "ratio_median": round(median / base_median, 3), "ratio_best": round(best / base_best, 3),
                     "seconds": [round(t, 3) for t in wall[key]]})
    return {"model": name, "scale": scale, "input": list(image.shape), "input_dtype": "uint8",
            "peer": f"cv2.dnn_superres ESPCN x{scale}, OpenCV {cv2.__version__}, {cv2.getNumThreads()} threads, "
                    f"graph {graph.name} (TF-ESPCN)",
            "whole_image_call": f"pretrained.upscaler({name!r})(image, {scale})",
            "tiled_call": f"upscale_tiled(..., tile={TILE}, overlap={OVERLAP}, workers={WORKERS}, out_dtype=uint8)",
            "repeats": repeats, "load_average_1min": [round(load_before, 2), round(load_after, 2)], "rows": rows}


def print_peer(peer: dict) -> None:
    print(f"\n{peer['model']} x{peer['scale']} on {peer['input'][1]}x{peer['input'][0]} RGB uint8, {peer['repeats']} "
          f"rounds back to back, load average {peer['load_average_1min'][0]:.1f} -> {peer['load_average_1min'][1]:.1f}")
    print(f"{'method':<22}{'median s':>10}{'best s':>9}{'CPU s':>8}{'x OpenCV (median)':>19}{'(best)':>8}  output")
    for r in peer["rows"]:
        print(f"{r['method']:<22}{r['median_seconds']:>10.3f}{r['best_seconds']:>9.3f}{r['median_cpu_seconds']:>8.2f}"
              f"{r['ratio_median']:>19.2f}{r['ratio_best']:>8.2f}  {'x'.join(map(str, r['output']))} {r['output_dtype']}")


def _write_atomically(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp",
                                     delete=False) as handle:
        handle.write(json.dumps(data, indent=1) + "\n")
    os.replace(handle.name, path)


def memory_row(megapixels: float, name: str = "espcn_x4") -> dict:
    side = int(round((megapixels * 1e6) ** 0.5))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(side), str(TILE), str(OVERLAP), name, str(WORKERS)],
                          capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(f"memory measurement failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per method; the best counts (default 3)")
    parser.add_argument("--peer-repeats", type=int, default=7,
                        help="rounds of the OpenCV comparison; median and best reported (default 7)")
    parser.add_argument("--memory-megapixels", type=float, default=16.0, help="input size of the memory run")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory run")
    parser.add_argument("--only-peer", action="store_true",
                        help="only the OpenCV comparison, written into the existing JSON's 'peer' entry")
    parser.add_argument("--out", default=str(RESULTS / "inference_speed.json"))
    args = parser.parse_args()
    out = Path(args.out)

    import tensorflow as tf

    peer = peer_comparison(args.peer_repeats)
    if peer:
        print_peer(peer)
    if args.only_peer:
        if peer:
            data = json.loads(out.read_text()) if out.is_file() else {"benchmark": "inference_speed"}
            _write_atomically(out, {**data, "peer": peer})
            print(f"wrote {out} (peer only)")
        return

    rows = speed_rows(args.repeats)
    print(f"\n{'method':<18}{'scale':>6}{'input':>12}{'output MP':>11}{'seconds':>9}{'CPU s':>7}{'ms/out MP':>11}{'params':>10}"
          f"{'FLOPs/px':>10}  weights")
    for r in rows:
        fl = f"{r['flops_per_output_pixel']:,.0f}" if r["flops_per_output_pixel"] else "-"
        print(f"{r['method']:<18}{r['scale']:>6}{r['input'][1]:>6}x{r['input'][0]:<5}{r['output_megapixels']:>11.1f}"
              f"{r['seconds']:>9.3f}{r['cpu_seconds']:>7.2f}{r['ms_per_output_megapixel']:>11.1f}{r['parameters']:>10,}{fl:>10}  {r['weights']}")
    memory = None
    if not args.no_memory:
        memory = memory_row(args.memory_megapixels)
        print(f"\npeak RSS, {memory['model']} on {memory['input_megapixels']:.0f} MP -> {memory['output_megapixels']:.0f} MP "
              f"in {memory['tile']}-pixel tiles: {memory['peak_rss_mib']} MiB (before upscaling "
              f"{memory['rss_before_upscaling_mib']} MiB; output buffer {memory['output_buffer_mib']} MiB), "
              f"{memory['seconds']} s")
    _write_atomically(out, {
        "benchmark": "inference_speed",
        "machine": {"processor": platform.machine(), "cpu_threads": os.cpu_count(),
                    "tensorflow": tf.__version__, "python": platform.python_version()},
        "load_average_1min": os.getloadavg()[0],
        "tile": TILE, "overlap": OVERLAP, "workers": WORKERS, "repeats": args.repeats,
        "note": "wall time of upscale_tiled (8-bit output) on a smooth synthetic RGB image; file I/O excluded",
        "rows": rows, "memory": memory, "peer": peer,
    })
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
