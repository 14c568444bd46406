"""Geometric self-ensemble ("EDSR+", :func:`sr_lib.inference.self_ensemble`) of every shipped model.

Each registered SR model is scored plain and averaged over the 8 flips and rotations of the input
(Timofte, Rothe & Van Gool, CVPR 2016; Lim et al. 2017's "EDSR+") on Set5 and Set14 at its own scale
(their MATLAB-bicubic LR images): PSNR-Y / SSIM-Y (8-bit, border = scale) and, when the converted
VGG-16/LPIPS weights are installed, LPIPS (RGB, same border). Time: seconds of the upscaler per image
(wall and process CPU, the metrics excluded; one warm-up call first, so tracing is not counted), on
the shared 2-core machine whose 1-minute load average is recorded.

Prints a table and writes ``results/self_ensemble.json`` (atomically, after every model, so an
interrupted run keeps what it measured): ``rows`` (plain and ensembled, every measurement) and
``sr_rows`` (one row per ensembled model, the convention of ``tools/make_results.py``, PSNR-Y / SSIM
only: the results tables take LPIPS from ``benchmarks/perception_distortion.py`` alone; its
``training`` note says that no training was added and what the 8 model runs cost).

Usage: python benchmarks/self_ensemble.py [--models edsr_x4 espcn_x4 ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "results"
OUT = RESULTS / "self_ensemble.json"
DATASETS = ("Set5", "Set14")


class Timed:
    """``up(lr, scale)`` with the wall and CPU seconds and output pixels of every call added up."""

    def __init__(self, up):
        self.up, self.wall, self.cpu, self.pixels, self.calls = up, 0.0, 0.0, 0, 0

    def __call__(self, lr, scale):
        wall, cpu = time.perf_counter(), time.process_time()
        sr = self.up(lr, scale)
        self.wall += time.perf_counter() - wall
        self.cpu += time.process_time() - cpu
        self.pixels += sr.shape[0] * sr.shape[1]
        self.calls += 1
        return sr


def measure(up, pairs, method: str, dataset: str, with_lpips: bool) -> dict:
    """Scores and inference time of ``up`` on ``pairs``."""
    from sr_lib import evaluation

    timed = Timed(up)
    result = evaluation.evaluate(timed, pairs, method=method, dataset=dataset, lpips=with_lpips)
    row = {"psnr": round(result.mean_psnr, 3), "ssim": round(result.mean_ssim, 4)}
    if with_lpips:
        row["lpips"] = round(result.mean_lpips, 4)
    row.update(seconds_per_image=round(timed.wall / timed.calls, 3), cpu_seconds_per_image=round(timed.cpu / timed.calls, 3),
               ms_per_output_megapixel=round(1e3 * timed.wall / (timed.pixels / 1e6), 1),
               per_image_psnr={n: round(p, 3) for n, p in zip(result.names, result.psnr)})
    return row


def _write(record: dict) -> None:
    from sr_lib.files import atomic_path

    with atomic_path(OUT) as tmp:  # an earlier record survives a failed write
        Path(tmp).write_text(json.dumps(record, indent=1) + "\n")


def sr_row(name: str, scale: int, plain: dict, ensembled: dict, speed: dict, sha256: str | None) -> dict:
    """The ``tools/make_results.py`` row of one ensembled model."""
    slower = ensembled["Set14"]["seconds_per_image"] / plain["Set14"]["seconds_per_image"]
    row = {"method": f"`{name}` + self-ensemble (EDSR+)", "scale": scale,
           # PSNR-Y / SSIM only: the tables' LPIPS cells come from benchmarks/perception_distortion.py alone,
           # which ties each to the weights it measured (tests/test_results_table.py); LPIPS stays in "rows".
           **{d: {k: ensembled[d][k] for k in ("psnr", "ssim")} for d in DATASETS},
           "training": (f"none added: `{name}`'s weights, output averaged over the 8 flips/rotations of the input; "
                        f"8 model runs = 8× the FLOPs, {slower:.1f}× the time (Set14: "
                        f"{ensembled['Set14']['seconds_per_image']:.2f} s vs {plain['Set14']['seconds_per_image']:.2f} s "
                        f"per image)"),
           "weights_sha256": sha256}
    if speed.get("parameters") is not None:
        row["parameters"] = speed["parameters"]
    if speed.get("flops_per_output_pixel") is not None:
        row["flops_per_output_pixel"] = 8 * speed["flops_per_output_pixel"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=None, help="registry names (default: every shipped SR model)")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from sr_lib import perceptual, pretrained
    from sr_lib.data import load_benchmark
    from sr_lib.inference import self_ensemble

    with_lpips = perceptual.converted_weights_file().is_file() and perceptual.lpips_heads_file().is_file()
    names = args.models or pretrained.available()
    # Only super-resolution entries: an integer scale and the SR channel conventions (the registry holds
    # no face-swap models today, but it is the registry's format, not this list, that says so).
    names = [n for n in names if isinstance(pretrained.info(n).get("scale"), int)
             and pretrained.info(n).get("channel") in ("y", "rgb")]
    names.sort(key=lambda n: n != "edsr_x4")  # the model the feature is for first
    speed_path = RESULTS / "inference_speed.json"
    speed = {r["method"]: r for r in json.loads(speed_path.read_text())["rows"]} if speed_path.is_file() else {}
    record = {"benchmark": "benchmarks/self_ensemble.py",
              "machine": f"{platform.machine()}, {os.cpu_count()} CPU threads",
              "lpips": with_lpips,
              "note": ("self-ensemble = mean of the 8 dihedral transforms' outputs, each transformed back "
                       "(sr_lib.inference.self_ensemble); seconds = the upscaler alone per image, metrics excluded"),
              "rows": [], "sr_rows": []}
    if OUT.is_file():  # keep the other models' measurements when only some are re-run
        old = json.loads(OUT.read_text())
        record["rows"] = [r for r in old.get("rows", []) if r["model"] not in names]
        record["sr_rows"] = [r for r in old.get("sr_rows", []) if r.get("model") not in names]
    pairs = {d: {} for d in DATASETS}
    for name in names:
        info = pretrained.info(name)
        scale = info["scale"]
        plain = pretrained.upscaler(name)
        ensembled = self_ensemble(plain)
        load = os.getloadavg()[0]
        for dataset in DATASETS:
            if scale not in pairs[dataset]:
                pairs[dataset][scale] = load_benchmark(dataset, scale)
        # Warm-up: the graph is traced once per model (any input size), outside the timing; the
        # ensembled upscaler runs the same graph.
        plain(pairs["Set5"][scale][0].lr)
        results = {}
        for label, up in (("plain", plain), ("self-ensemble", ensembled)):
            results[label] = {d: measure(up, pairs[d][scale], up.name, d, with_lpips) for d in DATASETS}
        load = max(load, os.getloadavg()[0])
        for label in results:
            record["rows"].append({"model": name, "scale": scale, "variant": label, "load_average_1min": round(load, 1),
                                   **results[label]})
        row = sr_row(name, scale, results["plain"], results["self-ensemble"], speed.get(name, {}), info.get("sha256"))
        record["sr_rows"].append({**row, "model": name})
        _write(record)
        for dataset in DATASETS:
            p, e = results["plain"][dataset], results["self-ensemble"][dataset]
            lp = f"  LPIPS {p['lpips']:.4f} -> {e['lpips']:.4f}" if with_lpips else ""
            print(f"{name:<20} x{scale} {dataset:<6} PSNR {p['psnr']:.3f} -> {e['psnr']:.3f} ({e['psnr'] - p['psnr']:+.3f})  "
                  f"SSIM {p['ssim']:.4f} -> {e['ssim']:.4f}{lp}  s/image {p['seconds_per_image']:.3f} -> "
                  f"{e['seconds_per_image']:.3f}", flush=True)
    print()
    print(table(record))
    print(f"wrote {OUT}")


def table(record: dict) -> str:
    """The plain-text table of every measured model: plain and ensembled, both datasets."""
    head = f"{'model':<22}{'':<15}" + "".join(f"{d + ' PSNR / SSIM / LPIPS':>30}" for d in DATASETS) + f"{'s / image (Set5, Set14)':>26}"
    lines = [head]
    for r in record["rows"]:
        cells = "".join(f"{r[d]['psnr']:>11.3f} / {r[d]['ssim']:.4f} / " + (f"{r[d]['lpips']:.4f}" if "lpips" in r[d] else "-".rjust(6))
                        for d in DATASETS)
        lines.append(f"{r['model']:<22}{r['variant']:<15}{cells}{r['Set5']['seconds_per_image']:>15.2f}, "
                     f"{r['Set14']['seconds_per_image']:.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
