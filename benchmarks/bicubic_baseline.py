"""The interpolation baselines on Set5 / Set14 at x2, x3, x4, under the SR evaluation protocol.

Prints two tables and writes results/bicubic_baseline.json:
1. LR = the datasets' own MATLAB-bicubic images (comparable with the published table);
2. LR = made from HR by sr_lib's MATLAB-compatible imresize (must agree within 0.1 dB).

Needs the benchmarks (SRFS_DATA_DIR pointing at the mirror, or the download cache).
Usage: python benchmarks/bicubic_baseline.py [--out results/bicubic_baseline.json]
"""

import argparse
import json
import platform
import time
from pathlib import Path

from sr_lib import evaluation
from sr_lib.data import load_benchmark

PUBLISHED_BICUBIC = {("Set5", 2): 33.66, ("Set5", 3): 30.39, ("Set5", 4): 28.42,
                     ("Set14", 2): 30.24, ("Set14", 3): 27.55, ("Set14", 4): 26.00}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "results" / "bicubic_baseline.json"))
    args = parser.parse_args()

    started = time.perf_counter()
    tables = {"dataset_lr": [], "own_lr": []}
    for (dataset, scale) in PUBLISHED_BICUBIC:
        for lr_source, own in (("dataset_lr", False), ("own_lr", True)):
            pairs = load_benchmark(dataset, scale, own_lr=own)
            for method, upscaler in evaluation.BASELINES.items():
                tables[lr_source].append(evaluation.evaluate(upscaler, pairs, method=method, dataset=dataset))

    for lr_source, results in tables.items():
        print(f"\n== LR from {'the dataset (MATLAB)' if lr_source == 'dataset_lr' else 'sr_lib imresize'}")
        print(evaluation.format_table(results))

    print("\n== bicubic vs published (PSNR-Y, dB)")
    print(f"{'set':<8}{'scale':>6}{'published':>11}{'dataset LR':>12}{'own LR':>9}{'diff':>8}")
    comparison = []
    for (dataset, scale), published in PUBLISHED_BICUBIC.items():
        ours = next(r for r in tables["dataset_lr"] if (r.method, r.dataset, r.scale) == ("bicubic", dataset, scale))
        own = next(r for r in tables["own_lr"] if (r.method, r.dataset, r.scale) == ("bicubic", dataset, scale))
        diff = ours.mean_psnr - published
        print(f"{dataset:<8}{scale:>6}{published:>11.2f}{ours.mean_psnr:>12.3f}{own.mean_psnr:>9.3f}{diff:>+8.3f}")
        comparison.append({"dataset": dataset, "scale": scale, "published": published,
                           "dataset_lr": ours.mean_psnr, "own_lr": own.mean_psnr})

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "benchmark": "bicubic_baseline",
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
        "seconds": round(time.perf_counter() - started, 1),
        "published_comparison": comparison,
        "tables": {k: [r.as_dict() for r in v] for k, v in tables.items()},
    }, indent=1))
    print(f"\nwrote {out} ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
