"""What the training benchmarks (``train_espcn.py``, ``train_srresnet.py``) share, so each new one adds
only its recipe: scoring a trained model on Set5 / Set14 next to bicubic, and writing the record —
``results/<name>.json`` always, the weights and their ``assets/weights/registry.json`` entry with ``--save``.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import keras

from sr_lib import evaluation, perceptual, pretrained
from sr_lib.data import load_benchmark
from sr_lib.files import atomic_path

RESULTS = Path(__file__).resolve().parents[1] / "results"


def score(upscaler, scale: int, method: str) -> dict[str, dict]:
    """``{"Set5": {...}, "Set14": {...}}``: PSNR-Y / SSIM of ``upscaler`` and of bicubic (the protocol),
    and LPIPS (RGB, same border) of both when the converted VGG-16/LPIPS weights are installed."""
    with_lpips = perceptual.converted_weights_file().is_file() and perceptual.lpips_heads_file().is_file()
    scores = {}
    for name in ("Set5", "Set14"):
        pairs = load_benchmark(name, scale)
        result = evaluation.evaluate(upscaler, pairs, method=method, dataset=name, lpips=with_lpips)
        bicubic = evaluation.evaluate(evaluation.bicubic, pairs, method="bicubic", dataset=name, lpips=with_lpips)
        scores[name] = {"psnr": result.mean_psnr, "ssim": result.mean_ssim,
                        "bicubic_psnr": bicubic.mean_psnr, "bicubic_ssim": bicubic.mean_ssim}
        if with_lpips:
            scores[name].update(lpips=result.mean_lpips, bicubic_lpips=bicubic.mean_lpips)
    return scores


def write_record(model, name: str, *, benchmark: str, factory: str, kwargs: dict, recipe: dict,
                 train_seconds: float, seed: int, scores: dict, save: bool) -> None:
    """Write ``results/<name>.json`` and, if ``save``, the weights + registry entry (recipe + machine + scores)."""
    metadata = {
        **recipe,
        "train_seconds": round(train_seconds, 1), "machine": f"{platform.machine()}, {os.cpu_count()} CPU threads",
        "keras": keras.__version__, "seed": seed,
        "scores": {k: {"psnr": round(v["psnr"], 3), "ssim": round(v["ssim"], 4),
                       **({"lpips": round(v["lpips"], 4)} if "lpips" in v else {})} for k, v in scores.items()},
    }
    if save:
        path = pretrained.save(model, name, factory=factory, kwargs=kwargs, metadata=metadata)
        print(f"saved {path}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{name}.json"
    with atomic_path(out) as tmp:  # an earlier record survives a failed write
        Path(tmp).write_text(json.dumps({"benchmark": benchmark, **metadata, "scores": scores}, indent=1) + "\n")
    print(f"wrote {out}")
