"""Coarse/fine adaptive SR (``sr_lib.adaptive``): PSNR-Y against FLOPs and CPU time as the routed fraction grows.

The coarse model (``espcn_x4``, Y channel) runs on every whole image; the fine model
(``edsr_x4``, Y channel; ``--fine srresnet_x4_demo`` for the earlier one) runs on the ``fraction``
of 32 x 32 LR patches that a difficulty score ranks hardest, each with 2 + 8 LR pixels of overlap, and is cross-faded into the coarse image.
Routers: ``hf_energy`` (Laplacian energy of the LR patch), ``coarse_detail`` (what ESPCN added over
bicubic), ``backprojection`` (ESPCN's output shrunk back vs the input), ``random``, and the
``oracle`` (the true per-patch gain, measured with the HR image: an upper bound, not a method).
The same sweep is repeated with bicubic as the "coarse model" (a gap of 1.5 dB or more instead of
ESPCN's few tenths: a sterner test of the routers).

FLOPs (``sr_lib.adaptive.routing_flops``): coarse model on the whole image + score + fine model on
every selected piece, overlap included; ``relative`` = that / the fine model once on the whole image.
Timing: ``sr_lib.adaptive.upscale_adaptive`` end to end over the whole set at a few fractions (wall
and process-CPU seconds, best of ``--repeats``; the load average of the shared 2-core machine is recorded).

Prints the curves as tables and writes ``results/adaptive_sr.json``.
Usage: python benchmarks/adaptive_sr.py [--dataset Set14] [--quick] [--no-timing] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parents[1] / "results"
FRACTIONS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0)
TIMED_FRACTIONS = (0.0, 0.25, 0.5, 1.0)
COARSE, FINE = "espcn_x4", "edsr_x4"


def at_budget(rows, budget: float = 0.5):
    """The measured point with the largest fraction whose relative FLOPs stay within ``budget``."""
    within = [r for r in rows if r["relative"] <= budget]
    return max(within, key=lambda r: r["fraction"]) if within else None


def _mean_psnr(images, prepared) -> float:
    """Mean PSNR-Y (the protocol: 8-bit, Y, border = scale) of ``images`` against the prepared HR images."""
    from sr_lib import metrics

    return float(np.mean([metrics.psnr(sr, im.hr, border=im.grid.scale) for sr, im in zip(images, prepared)]))


def _budget_point(rows, fine_psnr: float):
    point = at_budget(rows)
    if point is None:
        return None
    return {"fraction": point["fraction"], "relative": point["relative"], "psnr": point["psnr"],
            "loss_vs_fine_db": fine_psnr - point["psnr"]}


def spearman(prepared, router):
    """Rank correlation of a router's scores with the true gain per HR pixel: pooled, and the mean within images."""
    from scipy.stats import spearmanr

    def per_pixel_gain(image):
        areas = np.array([(y1 - y0) * (x1 - x0) for y0, y1, x0, x1 in image.grid.cores]) * image.grid.scale**2
        return image.gains / areas

    pooled = spearmanr(np.concatenate([im.scores[router] for im in prepared]),
                       np.concatenate([per_pixel_gain(im) for im in prepared])).statistic
    within = [spearmanr(im.scores[router], im.gains).statistic for im in prepared if len(im.grid) > 2]
    return float(pooled), float(np.nanmean(within))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="Set14", choices=("Set5", "Set14"))
    parser.add_argument("--quick", action="store_true", help="the first 3 images only (a smoke run)")
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--repeats", type=int, default=3, help="timing runs per point; the fastest is kept")
    parser.add_argument("--patch", type=int, default=32)
    parser.add_argument("--blend", type=int, default=2)
    parser.add_argument("--context", type=int, default=8)
    parser.add_argument("--fine", default=FINE, help=f"the fine model, a shipped x4 name (default {FINE})")
    parser.add_argument("--out", type=Path, default=RESULTS / "adaptive_sr.json")
    args = parser.parse_args()

    from sr_lib import adaptive, adaptive_eval, evaluation
    from sr_lib.data import load_benchmark
    from sr_lib.files import atomic_path

    pairs = load_benchmark(args.dataset, 4)[: 3 if args.quick else None]
    fine = adaptive.pretrained_branch(args.fine)
    grid = dict(patch=args.patch, blend=args.blend, context=args.context)
    coarses = {COARSE: adaptive.pretrained_branch(COARSE), "bicubic": adaptive.bicubic_branch(4)}

    started = time.perf_counter()
    first = None  # the first coarse model's prepared images: their fine patches are reused
    record = {"benchmark": "benchmarks/adaptive_sr.py", "dataset": args.dataset, "scale": 4,
              "images": [p.name for p in pairs], "grid": grid, "fractions": list(FRACTIONS),
              "fine": {"name": args.fine, "flops_per_pixel": fine.flops_per_pixel}, "coarse": {}, "reference": {},
              "curves": {}, "at_half_fine_flops": {}, "spearman": {}, "per_patch": {}}
    record["reference"]["bicubic"] = evaluation.evaluate(evaluation.bicubic, pairs).mean_psnr
    for cname, coarse in coarses.items():
        # bicubic adds nothing over itself: the coarse_detail score is meaningless there
        scorers = [r for r in adaptive.SCORERS if not (cname == "bicubic" and r == "coarse_detail")]
        prepared = [adaptive_eval.prepare_image(pair, coarse, fine, scorers=scorers, reuse_fine=first and first[i], **grid)
                    for i, pair in enumerate(pairs)]
        first = first or prepared
        routers = scorers + [adaptive_eval.ORACLE]
        all_fine = [im.routed(np.ones(len(im.grid), bool)) for im in prepared]
        record["coarse"][cname] = {"flops_per_pixel": coarse.flops_per_pixel}
        record["reference"][cname] = _mean_psnr([im.coarse_sr for im in prepared], prepared)
        record["reference"]["fine_whole"] = fine_psnr = _mean_psnr([im.fine_whole for im in prepared], prepared)
        record["reference"][f"fine_all_patches_over_{cname}"] = _mean_psnr(all_fine, prepared)
        record["reference"][f"max_diff_all_patches_vs_whole_grey_levels_over_{cname}"] = float(
            max(np.abs(sr - im.fine_whole).max() for sr, im in zip(all_fine, prepared)) * 255)
        curves = {r: adaptive_eval.routing_curve(prepared, FRACTIONS, r, coarse.flops_per_pixel, fine.flops_per_pixel)
                  for r in routers}
        record["curves"][cname] = curves
        record["at_half_fine_flops"][cname] = {r: _budget_point(rows, fine_psnr) for r, rows in curves.items()}
        record["spearman"][cname] = {r: dict(zip(("pooled", "within_image_mean"), spearman(prepared, r))) for r in scorers}
        record["per_patch"][cname] = [
            {"image": im.name, "core": list(core), "gain": float(im.gains[i]),
             "scores": {r: float(im.scores[r][i]) for r in scorers}}
            for im in prepared for i, core in enumerate(im.grid.cores)]
        _print(cname, record, curves)
    record["sweep_seconds"] = round(time.perf_counter() - started, 1)

    if not args.no_timing:
        record["timing"] = adaptive_eval.time_routed(pairs, coarses[COARSE], fine, TIMED_FRACTIONS,
                                                     repeats=args.repeats, **grid)
        record["timing_repeats"] = args.repeats
        print(f"\nTiming over {len(pairs)} images ({args.dataset} x4), wall / CPU seconds:")
        for row in record["timing"]:
            label = row["what"] if row["fraction"] is None else f"{row['what']} fraction {row['fraction']:.2f}"
            print(f"  {label:<42} {row['wall_s']:7.2f} / {row['cpu_s']:7.2f}")
    record["machine"] = f"{platform.machine()}, {os.cpu_count()} CPU threads"
    record["load_average_1min"] = round(os.getloadavg()[0], 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out) as temporary:  # an interrupted run leaves the earlier record whole
        temporary.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.out}")


def _print(cname, record, curves):
    ref = record["reference"]
    print(f"\n{record['dataset']} x4, coarse = {cname} ({ref[cname]:.3f} dB), fine = {record['fine']['name']} whole image "
          f"({ref['fine_whole']:.3f} dB), bicubic {ref['bicubic']:.3f} dB")
    print(f"{'fraction':>8} " + " ".join(f"{r:>22}" for r in curves))
    print(f"{'':>8} " + " ".join(f"{'PSNR-Y / rel. FLOPs':>22}" for _ in curves))
    for i, fraction in enumerate(record["fractions"]):
        print(f"{fraction:>8.2f} " + " ".join(
            f"{rows[i]['psnr']:>13.3f} / {rows[i]['relative']:5.3f}" for rows in curves.values()))
    for r, point in record["at_half_fine_flops"][cname].items():
        if point:
            print(f"  at <= 0.5x fine FLOPs, {r}: fraction {point['fraction']:.2f}, {point['relative']:.3f}x, "
                  f"{point['psnr']:.3f} dB, loss vs fine {point['loss_vs_fine_db']:+.3f} dB")


if __name__ == "__main__":
    main()
