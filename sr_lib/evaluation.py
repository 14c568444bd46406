"""Run an upscaler over (LR, HR) pairs and tabulate PSNR / SSIM (and optionally LPIPS) with the SR protocol.

:func:`evaluate` runs any callable ``f(lr, scale) -> sr`` on float32 [0, 1] (h, w, C) images returning
(h * scale, w * scale, C): an :class:`sr_lib.inference.Upscaler` (the baselines of :data:`BASELINES`,
a wrapped Keras model, ``sr_lib.pretrained.upscaler(name)``) or a plain function such as :func:`bicubic`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from sr_lib import images, metrics
# The baselines are defined beside the MATLAB imresize they run; named here because the course
# teaches them as the evaluation's baselines (evaluation.bicubic, evaluation.BASELINES).
from sr_lib.data.imresize import bicubic, interpolate
from sr_lib.inference import Upscaler

__all__ = ["interpolate", "bicubic", "BASELINES", "EvaluationResult", "evaluate", "format_table"]


#: The interpolation baselines as :class:`~sr_lib.inference.Upscaler` s that work at any factor:
#: ``BASELINES["bicubic"](lr, 3)``, or ``BASELINES["bicubic"].at(3)`` for a x3 upscaler.
BASELINES: dict[str, Upscaler] = {
    "nearest": Upscaler("nearest", None, lambda lr, s: interpolate(lr, s, "nearest")),
    "bilinear": Upscaler("bilinear", None, lambda lr, s: interpolate(lr, s, "bilinear")),
    "bicubic": Upscaler("bicubic", None, bicubic),
}


@dataclass
class EvaluationResult:
    """Per-image and mean PSNR (dB) / SSIM, and LPIPS when measured, for one method on one set of pairs."""

    method: str
    dataset: str
    scale: int
    names: list[str] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    lpips: list[float] = field(default_factory=list)  # empty unless evaluate(..., lpips=True)

    @property
    def mean_psnr(self) -> float:
        return float(np.mean(self.psnr))

    @property
    def mean_ssim(self) -> float:
        return float(np.mean(self.ssim))

    @property
    def mean_lpips(self) -> float | None:
        return float(np.mean(self.lpips)) if self.lpips else None

    def as_dict(self) -> dict:
        result = {
            "method": self.method, "dataset": self.dataset, "scale": self.scale,
            "psnr": self.mean_psnr, "ssim": self.mean_ssim,
            "per_image": [
                {"name": n, "psnr": p, "ssim": s} for n, p, s in zip(self.names, self.psnr, self.ssim)
            ],
        }
        if self.lpips:
            result["lpips"] = self.mean_lpips
            for entry, value in zip(result["per_image"], self.lpips):
                entry["lpips"] = value
        return result


def evaluate(
    upscaler: Callable[[np.ndarray, int], np.ndarray],
    pairs: Sequence,
    *,
    method: str = "model",
    dataset: str = "",
    channel: str = "y",
    progress: bool = False,
    lpips: bool = False,
) -> EvaluationResult:
    """Upscale every ``pair.lr`` and compare with ``pair.hr`` (border = scale, 8-bit, Y channel).

    Args:
        upscaler: ``f(lr, scale) -> sr`` on float32 [0, 1] images: an
            :class:`~sr_lib.inference.Upscaler` (a fixed-factor one must match the pairs' scale)
            or a plain function.
        pairs: objects with ``name``, ``lr``, ``hr``, ``scale`` (e.g. ``sr_lib.data.ImagePair``).
        channel: "y" (the published protocol) or "rgb".
        lpips: also measure :func:`sr_lib.metrics.lpips` (RGB, same border; needs the converted
            VGG-16/LPIPS weights and about 1-2 s per 512 x 512 image on 2 CPU cores).

    Raises:
        ValueError: no pairs, an upscaler result of the wrong shape, an Upscaler of another
            factor than the pairs', or a pair the metrics refuse (the message starts with the pair's name).
    """
    if not pairs:
        raise ValueError("evaluate: no pairs given")
    scale = pairs[0].scale
    result = EvaluationResult(method, dataset, scale)
    iterator = pairs
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(pairs, desc=f"{method} {dataset} x{scale}", leave=False)
    for pair in iterator:
        sr = np.asarray(upscaler(pair.lr, pair.scale))
        if sr.shape != pair.hr.shape:
            raise ValueError(
                f"{method} returned shape {sr.shape} for {pair.name}, expected the HR shape {pair.hr.shape}"
            )
        try:
            scores = (metrics.psnr(sr, pair.hr, border=pair.scale, channel=channel),
                      metrics.ssim(sr, pair.hr, border=pair.scale, channel=channel))
            if lpips:
                result.lpips.append(metrics.lpips(sr, pair.hr, border=pair.scale))
        except ValueError as error:  # e.g. an image too small for the SSIM window: say which one
            raise ValueError(f"{pair.name}: {error}") from error
        result.names.append(pair.name)
        result.psnr.append(scores[0])
        result.ssim.append(scores[1])
    return result


def format_table(results: Sequence[EvaluationResult]) -> str:
    """A plain-text table: one row per method, one PSNR / SSIM (/ LPIPS, when measured) cell per (dataset, scale)."""
    columns = []
    for r in results:
        if (r.dataset, r.scale) not in columns:
            columns.append((r.dataset, r.scale))
    methods = list(dict.fromkeys(r.method for r in results))
    lookup = {(r.method, r.dataset, r.scale): r for r in results}
    with_lpips = any(r.lpips for r in results)
    width = 29 if with_lpips else 20
    unit = "PSNR / SSIM / LPIPS" if with_lpips else "PSNR / SSIM"
    name_width = max([12] + [len(m) + 2 for m in methods])  # registry names run to 20 characters
    header = f"{'method':<{name_width}}" + "".join(f"{f'{d} x{s}':>{width}}" for d, s in columns)
    lines = [header, f"{'':<{name_width}}" + "".join(f"{unit:>{width}}" for _ in columns)]
    for m in methods:
        cells = []
        for d, s in columns:
            r = lookup.get((m, d, s))
            if r is None:
                cells.append("-")
                continue
            cell = f"{r.mean_psnr:.2f} / {r.mean_ssim:.4f}"
            if with_lpips:
                cell += f" / {r.mean_lpips:.4f}" if r.lpips else " / -"
            cells.append(cell)
        lines.append(f"{m:<{name_width}}" + "".join(f"{c:>{width}}" for c in cells))
    return "\n".join(lines)
