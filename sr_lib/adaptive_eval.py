"""Measuring an adaptive-SR router (:mod:`sr_lib.adaptive`) over a benchmark: PSNR-Y against FLOPs.

The sweep is cheap because everything that does not depend on the routed fraction is computed once
per image (:func:`prepare_image`): the coarse output, the fine model's output on *every* patch, the
difficulty scores and the oracle gains. A point of the curve (:func:`routing_curve`) then only
re-blends cached patches and measures. The images are exactly what :func:`~sr_lib.adaptive.upscale_adaptive`
returns for the same routing (same grid, same blending), which ``tests/test_adaptive.py`` checks;
:func:`time_routed` times that function itself, end to end.

PSNR-Y follows :func:`sr_lib.metrics.psnr` (8-bit, Y channel, border = scale), averaged over images
as the published tables do. FLOPs are :func:`~sr_lib.adaptive.routing_flops` summed over the images;
``relative`` = total FLOPs / the fine model run once on every whole image.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from sr_lib import adaptive, metrics
from sr_lib.inference import Upscaler

__all__ = ["PreparedImage", "prepare_image", "routing_curve", "time_routed", "ORACLE"]

#: Name of the oracle router: the true per-patch gain, known only with the HR image (an upper bound).
ORACLE = "oracle"


@dataclass
class PreparedImage:
    """One image with everything a sweep reuses (float32 [0, 1] images, HR size unless noted)."""

    name: str
    hr: np.ndarray
    grid: adaptive.PatchGrid
    coarse_sr: np.ndarray
    fine_windows: dict          # patch index -> fine output on its window
    fine_whole: np.ndarray      # the fine model on the whole image (the reference)
    scores: dict = field(default_factory=dict)  # router name -> (n,) scores; includes ORACLE
    gains: np.ndarray | None = None             # (n,) squared-error reduction per patch (8-bit Y)
    score_flops: dict = field(default_factory=dict)

    def routed(self, selected) -> np.ndarray:
        """The image with the ``selected`` (n,) patches from the fine model, blended into the coarse one."""
        chosen = {i: self.fine_windows[i] for i in np.flatnonzero(selected)}
        return adaptive.assemble(self.coarse_sr, self.grid, chosen)


def prepare_image(pair, coarse: Upscaler, fine: Upscaler, *, scorers=None, patch: int = 32,
                  blend: int = 2, context: int = 8, batch_size: int = 16, reuse_fine: PreparedImage | None = None
                  ) -> PreparedImage:
    """Run both models and every scorer on one ``pair`` (``name``, ``lr``, ``hr``, ``scale``).

    ``coarse``, ``fine``: branches (:class:`~sr_lib.inference.Upscaler` s of the pair's scale, as
    :func:`sr_lib.adaptive.pretrained_branch` makes them).

    ``reuse_fine``: a :class:`PreparedImage` of the same pair and grid whose fine outputs are taken
    as they are (the fine model's patches do not depend on the coarse model: sweeping a second coarse
    model costs no fine run).
    """
    scorers = list(adaptive.SCORERS if scorers is None else scorers)
    lr = np.asarray(pair.lr, np.float32)
    grid = adaptive.make_grid(*lr.shape[:2], coarse.scale, patch=patch, blend=blend, context=context)
    coarse_sr = np.asarray(coarse(lr), np.float32)
    if reuse_fine is not None:
        if reuse_fine.name != pair.name or reuse_fine.grid.cores != grid.cores or reuse_fine.grid.pieces != grid.pieces:
            raise ValueError(f"reuse_fine is for {reuse_fine.name!r} on another grid; "
                             f"it cannot stand in for {pair.name!r}")
        windows, fine_whole = reuse_fine.fine_windows, reuse_fine.fine_whole
    else:
        windows = adaptive.run_patches(fine, lr, grid, range(len(grid)), batch_size=batch_size)
        fine_whole = np.asarray(fine(lr), np.float32)
    prepared = PreparedImage(pair.name, pair.hr, grid, coarse_sr, windows, fine_whole)
    for name in scorers:
        prepared.scores[name] = adaptive.score_patches(name, lr, grid, coarse_sr)
        prepared.score_flops[name] = adaptive.SCORERS[name].flops(grid)
    prepared.gains = adaptive.patch_gain(grid, coarse_sr, prepared.routed(np.ones(len(grid), bool)), pair.hr)
    prepared.scores[ORACLE] = prepared.gains
    prepared.score_flops[ORACLE] = 0.0  # not a realisable router: it needs the answer
    return prepared


def routing_curve(prepared: list, fractions, router: str, coarse_flops_per_pixel: float,
                  fine_flops_per_pixel: float) -> list[dict]:
    """One row per fraction: mean PSNR-Y, FLOPs per image (total and parts), relative cost, patches routed."""
    rows = []
    for fraction in fractions:
        psnrs, parts, routed, total_patches = [], [], 0, 0
        for image in prepared:
            selected = adaptive.select_top(image.scores[router], fraction)
            psnrs.append(metrics.psnr(image.routed(selected), image.hr, border=image.grid.scale))
            parts.append(adaptive.routing_flops(image.grid, selected, coarse_flops_per_pixel, fine_flops_per_pixel,
                                                image.score_flops[router]))
            routed += int(selected.sum())
            total_patches += len(image.grid)
        total = sum(p["total"] for p in parts)
        rows.append({
            "fraction": float(fraction), "psnr": float(np.mean(psnrs)), "psnr_per_image": [float(p) for p in psnrs],
            "gflops_per_image": total / len(parts) / 1e9,
            "score_gflops_per_image": sum(p["score"] for p in parts) / len(parts) / 1e9,
            "relative": total / sum(p["fine_whole"] for p in parts),
            "patches_routed": routed, "patches": total_patches,
        })
    return rows


def time_routed(pairs, coarse: Upscaler, fine: Upscaler, fractions, *, score: str = "hf_energy",
                repeats: int = 1, **grid) -> list[dict]:
    """Wall and process-CPU seconds of :func:`~sr_lib.adaptive.upscale_adaptive` over all ``pairs``, per fraction.

    Also times the two models alone on whole images (rows with ``fraction`` None and ``what`` set).
    The best of ``repeats`` runs is kept (the machine may be shared: the minimum is the least disturbed).
    """
    def measure(fn):
        best = None
        for _ in range(max(1, int(repeats))):
            wall, cpu = time.perf_counter(), time.process_time()
            for pair in pairs:
                fn(pair)
            result = (time.perf_counter() - wall, time.process_time() - cpu)
            best = result if best is None or result[0] < best[0] else best
        return {"wall_s": best[0], "cpu_s": best[1]}

    fine(np.asarray(pairs[0].lr, np.float32))  # warm-up: the first call builds the graph
    coarse(np.asarray(pairs[0].lr, np.float32))
    rows = [{"what": f"{coarse.name} whole image", "fraction": None, **measure(lambda p: coarse(p.lr))},
            {"what": f"{fine.name} whole image", "fraction": None, **measure(lambda p: fine(p.lr))}]
    for fraction in fractions:
        rows.append({"what": f"routed ({score})", "fraction": float(fraction),
                     **measure(lambda p: adaptive.upscale_adaptive(p.lr, coarse, fine, fraction, score=score, **grid))})
    return rows
