"""Adaptive super-resolution: a cheap model everywhere, an expensive one only where it pays.

Idea (ClassSR: X. Kong, H. Zhao, Y. Qiao, C. Dong, "ClassSR: A General Framework to Accelerate
Super-Resolution Networks by Data Characteristic", CVPR 2021): flat regions (clear sky, water) are
upscaled about as well by a small network as by a large one; textures and edges are not. So

1. split the LR image into a grid of patches (:func:`make_grid`);
2. score each patch's difficulty with a cheap signal (:data:`SCORERS`, :func:`score_patches`);
3. run the **coarse** model on the whole image and the **fine** model only on the top ``fraction``
   of the patches (:func:`select_top`, :func:`run_patches`);
4. blend the fine patches into the coarse image (:func:`assemble`) so that no seam shows.

Here ClassSR's classifier is replaced by hand-made difficulty scores, and the coarse output is kept
everywhere (ClassSR runs each patch through exactly one branch) so that the fine patches can be
feathered into it.

**Seamless reassembly.** Each patch has a *core* (the cores tile the image), a *window* = core grown
by ``blend`` LR pixels on each side, and a *piece* = window grown by ``context`` more LR pixels, the
input the fine model sees (cut at the image border, exactly as :mod:`sr_lib.tiling` does). Inside
its window a patch's output gets a weight that ramps linearly from 0 to 1 across the ``2 * blend``
LR pixels around each core edge; the weights of neighbouring patches sum to exactly 1 (a partition
of unity). The output is ``coarse + sum_selected w_i * (fine_i - coarse)``, so

- when every patch is selected it is ``sum_i w_i * fine_i``, the whole-image fine result whenever
  ``context`` covers the fine model's receptive field (then every window pixel saw the same input as
  in the whole-image run; :mod:`sr_lib.tiling` explains why) — and no seam shows;
- when none is, it is the coarse result;
- in between, the switch from coarse to fine is a ramp ``2 * blend * scale`` HR pixels wide, not a step.

**Cost.** :func:`routing_flops` counts the coarse model on the whole image, the score, and the fine
model on every selected *piece* (core + blend + context: the overlap overhead is real work), using
:mod:`sr_lib.flops` for the networks (convolutions only: element-wise work, the pixel shuffle and
bicubic chroma are left out, as there).

Inside, images are float32 in [0, 1], (h, w, C) with C in {1, 3}; the public entry point
:func:`upscale_adaptive` takes any image of :mod:`sr_lib.images` (and (h, w) gives (H, W)).
Scores are per patch, higher = harder.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from sr_lib import images, metrics
from sr_lib.inference import Upscaler

__all__ = [
    "branch_from_model", "pretrained_branch", "bicubic_branch", "check_branches",
    "PatchGrid", "make_grid", "Scorer", "SCORERS", "score_patches", "select_top",
    "run_patches", "assemble", "patch_gain", "routing_flops", "AdaptiveResult", "upscale_adaptive",
]


# ----------------------------------------------------------------------------------------------
# Branches: upscalers with a price tag
# ----------------------------------------------------------------------------------------------
# A branch of the router is an :class:`sr_lib.inference.Upscaler` with a fixed ``scale`` and its
# ``flops_per_pixel`` (FLOPs per HR output pixel, as :func:`sr_lib.flops.flops_per_output_pixel`);
# its ``batch`` runs same-shape pieces together when it has a ``batch_fn`` (RGB models).

def branch_from_model(model, scale: int, *, channel: str = "rgb", multiple: int = 1, name: str | None = None,
                      flops_per_pixel: float | None = None) -> Upscaler:
    """A Keras SR model as a branch: :func:`sr_lib.inference.model_upscaler` with its price.

    ``channel="y"``: one-channel model on the luma, chroma bicubic (:func:`~sr_lib.inference.upscale_via_y`);
    ``"rgb"``: three channels in and out (grayscale inputs repeated to RGB and averaged back; with
    ``multiple=1`` pieces go through the model in batches).
    ``flops_per_pixel`` defaults to :func:`sr_lib.flops.flops_per_output_pixel` of the model.

    Raises:
        ValueError: an unknown ``channel``, a bad ``scale`` or ``multiple``.
    """
    from sr_lib.flops import flops_per_output_pixel
    from sr_lib.inference import model_upscaler

    upscaler = model_upscaler(model, channel=channel, multiple=multiple, scale=int(scale), name=name)  # validates
    if flops_per_pixel is None:
        flops_per_pixel = flops_per_output_pixel(model, (32, 32, 1 if channel == "y" else 3))
    return replace(upscaler, flops_per_pixel=float(flops_per_pixel))


def pretrained_branch(name: str) -> Upscaler:
    """The shipped model ``name`` as a branch: :func:`sr_lib.pretrained.upscaler` (run as its registry
    entry says; a restoration model, ``input="bicubic"``, gets the bicubic-enlarged image, one piece
    at a time) with its FLOPs per output pixel.

    Raises: as :func:`sr_lib.pretrained.upscaler`.
    """
    from sr_lib import pretrained
    from sr_lib.flops import flops_per_output_pixel

    model = pretrained.load(name)
    upscaler = pretrained.upscaler(name, model)
    flops = flops_per_output_pixel(model, (32, 32, 1 if upscaler.channel == "y" else 3))
    return replace(upscaler, flops_per_pixel=float(flops))


def bicubic_branch(scale: int) -> Upscaler:
    """MATLAB bicubic (``sr_lib.evaluation.BASELINES["bicubic"]``) at ``scale``: the cheapest "coarse model".

    FLOPs: a separable 4-tap filter per axis, ``2 * (4 / scale + 4)`` per HR pixel and channel,
    counted for 3 channels (a hand count, like the scorers' costs; networks are counted by layer).
    """
    from sr_lib.evaluation import BASELINES

    return replace(BASELINES["bicubic"].at(int(scale)), flops_per_pixel=3 * 2.0 * (4.0 / scale + 4.0))


def check_branches(coarse: Upscaler, fine: Upscaler) -> None:
    """Refuse a pair of branches the router cannot use.

    Raises:
        ValueError: a branch without a fixed ``scale`` or without ``flops_per_pixel``, or branches
            of different scales.
    """
    for role, branch in (("coarse", coarse), ("fine", fine)):
        if branch.scale is None:
            raise ValueError(f"{role} branch {branch.name!r} has no fixed scale; fix one with .at(scale)")
        if branch.flops_per_pixel is None:
            raise ValueError(f"{role} branch {branch.name!r} has no flops_per_pixel; "
                             "make it with branch_from_model or pretrained_branch")
    if coarse.scale != fine.scale:
        raise ValueError(f"coarse ({coarse.name}, x{coarse.scale}) and fine ({fine.name}, x{fine.scale}) "
                         "must upscale by the same factor")


# ----------------------------------------------------------------------------------------------
# The patch grid and its blending weights
# ----------------------------------------------------------------------------------------------

def _bounds(length: int, patch: int, multiple: int) -> list[int]:
    """Core edges along one axis: ceil(length / patch) cores of (nearly) equal size, edges on ``multiple``.

    Equal sizes rather than full tiles plus a remainder: a 1-pixel remainder core would cost a
    whole piece of context for one pixel row.
    """
    count = -(-length // patch)
    units = -(-length // multiple)
    edges = [min(length, multiple * int(round(i * units / count))) for i in range(count + 1)]
    edges = sorted(set(edges))
    return edges


def _ramp(length_hr: int, lo: int, hi: int, size: int, blend: int, scale: int) -> np.ndarray:
    """1-D weights over the window's HR pixels for a core [lo, hi) (LR) on an axis of ``size`` LR pixels.

    Rising across [lo - blend, lo + blend) unless the core starts at the image edge, falling across
    [hi - blend, hi + blend) unless it ends there; measured at HR pixel centres, so the falling ramp
    of one core and the rising ramp of the next sum to 1 at every pixel.
    """
    start = max(0, lo - blend) * scale
    t = np.arange(start, start + length_hr, dtype=np.float64) + 0.5
    width = 2.0 * blend * scale

    def rise(edge):  # 0 before the edge band, 1 after it (a step at the edge when blend == 0)
        if blend == 0:
            return (t >= edge * scale).astype(np.float64)
        return np.clip((t - (edge - blend) * scale) / width, 0.0, 1.0)

    weight = np.ones_like(t)
    if lo > 0:
        weight *= rise(lo)
    if hi < size:
        weight *= 1.0 - rise(hi)
    return weight


@dataclass
class PatchGrid:
    """Patches of an (height, width) LR image; boxes are ``(y0, y1, x0, x1)`` in LR pixels.

    ``cores`` tile the image; ``windows`` = cores grown by ``blend`` (where a patch's output is used);
    ``pieces`` = windows grown by ``context`` (what the fine model reads). All clipped to the image.
    """

    height: int
    width: int
    scale: int
    patch: int
    blend: int
    context: int
    rows: int
    cols: int
    cores: list = field(default_factory=list)
    windows: list = field(default_factory=list)
    pieces: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.cores)

    def weights(self, index: int) -> np.ndarray:
        """(window_h * scale, window_w * scale) float32 blending weights of patch ``index``, in [0, 1]."""
        (y0, y1, x0, x1), (wy0, wy1, wx0, wx1) = self.cores[index], self.windows[index]
        s = self.scale
        wy = _ramp((wy1 - wy0) * s, y0, y1, self.height, self.blend, s)
        wx = _ramp((wx1 - wx0) * s, x0, x1, self.width, self.blend, s)
        return np.outer(wy, wx).astype(np.float32)

    def piece_pixels(self) -> np.ndarray:
        """(n,) LR pixels of each piece (the fine model's input size, overlap included)."""
        return np.array([(y1 - y0) * (x1 - x0) for y0, y1, x0, x1 in self.pieces], np.int64)

    def as_map(self, values) -> np.ndarray:
        """Per-patch ``values`` (n,) painted onto their cores: an (height, width) float array."""
        values = np.asarray(values, np.float64)
        if values.shape != (len(self),):
            raise ValueError(f"expected {len(self)} values (one per patch), got shape {values.shape}")
        out = np.empty((self.height, self.width))
        for v, (y0, y1, x0, x1) in zip(values, self.cores):
            out[y0:y1, x0:x1] = v
        return out


def _nonnegative_int(value, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def make_grid(height: int, width: int, scale: int, *, patch: int = 32, blend: int = 2, context: int = 8,
              multiple: int = 1) -> PatchGrid:
    """The patch grid of an (height, width) LR image.

    Args:
        patch: target core side in LR pixels; the cores along an axis are ``ceil(size / patch)``
            nearly equal parts. Must be >= ``2 * blend`` so only neighbouring windows overlap.
        blend: half-width (LR pixels) of the cross-fade at each core edge; 0 = hard switch.
        context: extra LR pixels the fine model sees around each window. With ``context`` >= the
            fine model's receptive-field radius (ESPCN 4, SRResNet ~20, EDSR ~35 here) a patch's
            output is the whole-image one; smaller values cost less and differ slightly near patch
            edges (the effective reach is far shorter than the radius: with 8, both shipped fine
            models stay within a grey level of the whole-image output).
        multiple: align core edges to this (models with stride-2 layers).
    """
    scale = _nonnegative_int(scale, "scale", 1)
    patch = _nonnegative_int(patch, "patch", 1)
    blend = _nonnegative_int(blend, "blend")
    context = _nonnegative_int(context, "context")
    multiple = _nonnegative_int(multiple, "multiple", 1)
    height, width = _nonnegative_int(height, "height", 1), _nonnegative_int(width, "width", 1)
    if patch < 2 * blend:
        raise ValueError(f"patch ({patch}) must be at least 2 * blend ({2 * blend}): "
                         "otherwise the cross-fades of a core's two edges overlap")
    ys, xs = _bounds(height, patch, multiple), _bounds(width, patch, multiple)
    grid = PatchGrid(height, width, scale, patch, blend, context, len(ys) - 1, len(xs) - 1)
    for y0, y1 in zip(ys[:-1], ys[1:]):
        for x0, x1 in zip(xs[:-1], xs[1:]):
            if min(y1 - y0, x1 - x0) < 2 * blend and blend:
                raise ValueError(f"a {y1 - y0}x{x1 - x0} core is narrower than 2 * blend = {2 * blend}; "
                                 "use a smaller blend or a larger image")

            def grow(m):
                return (max(0, y0 - m), min(height, y1 + m), max(0, x0 - m), min(width, x1 + m))

            grid.cores.append((y0, y1, x0, x1))
            grid.windows.append(grow(blend))
            grid.pieces.append(grow(blend + context))
    return grid


# ----------------------------------------------------------------------------------------------
# Difficulty scores and top-k routing
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scorer:
    """A difficulty signal. ``fn(lr, grid, coarse_sr) -> (n,)`` scores; ``cost(scale)`` gives its
    FLOPs as (per LR pixel, per HR pixel), a hand count (see :data:`SCORERS`)."""

    fn: Callable
    cost: Callable[[int], tuple]
    needs_coarse: bool

    def flops(self, grid: PatchGrid) -> float:
        """FLOPs of scoring every patch of ``grid`` once."""
        per_lr, per_hr = self.cost(grid.scale)
        lr = grid.height * grid.width
        return float(per_lr * lr + per_hr * lr * grid.scale**2)


def _luma(image: np.ndarray) -> np.ndarray:
    """(H, W) float64 luma on the 0..255 scale (gray values for one-channel images), as the metrics use."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        return image[..., 0].astype(np.float64) * 255.0
    return images.rgb_to_ycbcr255(image)[..., 0]


def _box_means(values: np.ndarray, boxes, step: int = 1) -> np.ndarray:
    """Mean of ``values`` over each box (LR coordinates, multiplied by ``step`` for HR maps)."""
    return np.array([values[y0 * step:y1 * step, x0 * step:x1 * step].mean() for y0, y1, x0, x1 in boxes])


def _hf_energy(lr, grid, coarse_sr=None):
    from scipy import ndimage

    # Mean squared 5-point Laplacian of the LR luma: flat patches score ~0, texture and edges high.
    return _box_means(ndimage.laplace(_luma(lr), mode="nearest") ** 2, grid.cores)


def _coarse_detail(lr, grid, coarse_sr):
    from sr_lib.data.imresize import resize_array

    # What the coarse model added on top of bicubic: large where there is detail to recover.
    bicubic = resize_array(_luma(lr), grid.scale)  # a luma on 0..255, not an image in [0, 1]
    return _box_means((_luma(coarse_sr) - bicubic) ** 2, grid.cores, grid.scale)


def _backprojection(lr, grid, coarse_sr):
    from sr_lib.data.imresize import resize_array

    # How far the coarse output, shrunk back, is from the input: where it failed to explain the LR image.
    shrunk = resize_array(_luma(coarse_sr), 1.0 / grid.scale)
    return _box_means((shrunk - _luma(lr)) ** 2, grid.cores)


def _random(lr, grid, coarse_sr=None):
    # The baseline every router must beat; seeded by the image size so reruns agree.
    return np.random.default_rng(grid.height * 100003 + grid.width).random(len(grid))


#: The built-in scorers. FLOPs by hand, per pixel touched: RGB->Y 3 MACs (6 FLOPs); squared
#: difference + accumulate 3 FLOPs (square + accumulate 2); 5-point Laplacian 5 MACs; bicubic x``s``:
#: separable, 4 taps per axis, 2 * (4/s + 4) FLOPs per HR pixel; the antialiased /``s`` shrink:
#: 4*s taps per axis, 2 * (4 + 4/s) FLOPs per HR pixel.
SCORERS: dict[str, Scorer] = {
    "hf_energy": Scorer(_hf_energy, lambda s: (6 + 10 + 2, 0.0), False),
    "coarse_detail": Scorer(_coarse_detail, lambda s: (6, 6 + 2 * (4 / s + 4) + 3), True),
    "backprojection": Scorer(_backprojection, lambda s: (6 + 3, 6 + 2 * (4 + 4 / s)), True),
    "random": Scorer(_random, lambda s: (0.0, 0.0), False),
}


def score_patches(method: str, lr: np.ndarray, grid: PatchGrid, coarse_sr: np.ndarray | None = None) -> np.ndarray:
    """(n,) difficulty scores of ``grid``'s patches by the named :data:`SCORERS` method."""
    if method not in SCORERS:
        raise KeyError(f"unknown difficulty score {method!r}; choose one of {', '.join(SCORERS)}")
    scorer = SCORERS[method]
    if scorer.needs_coarse and coarse_sr is None:
        raise ValueError(f"score {method!r} needs the coarse model's output (coarse_sr)")
    return np.asarray(scorer.fn(lr, grid, coarse_sr), np.float64)


def select_top(scores, fraction: float) -> np.ndarray:
    """Boolean (n,) mask of the ``k = round(fraction * n)`` highest scores (ties: lower index first).

    Raises:
        ValueError: ``fraction`` outside [0, 1] or a score that is NaN.
    """
    scores = np.asarray(scores, np.float64).ravel()
    if not 0.0 <= float(fraction) <= 1.0:
        raise ValueError(f"fraction must be in [0, 1] (share of patches sent to the fine model), got {fraction!r}")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN; a difficulty score must be a number for every patch")
    k = int(np.floor(float(fraction) * len(scores) + 0.5))
    mask = np.zeros(len(scores), bool)
    mask[np.argsort(-scores, kind="stable")[:k]] = True
    return mask


# ----------------------------------------------------------------------------------------------
# Running the fine model on patches, blending, accounting
# ----------------------------------------------------------------------------------------------

def run_patches(branch: Upscaler, lr: np.ndarray, grid: PatchGrid, indices, *, batch_size: int = 16) -> dict:
    """Upscale the pieces ``indices`` of ``grid`` with ``branch`` (an Upscaler of scale ``grid.scale``);
    returns {index: window output (HR)}.

    Pieces of equal shape go through the model together, ``batch_size`` at a time (interior
    pieces all share one shape; border pieces are cut at the image edge, as the whole-image run sees it).
    """
    batch_size = _nonnegative_int(batch_size, "batch_size", 1)
    s = grid.scale
    groups: dict[tuple, list[int]] = {}
    for i in indices:
        y0, y1, x0, x1 = grid.pieces[i]
        groups.setdefault((y1 - y0, x1 - x0), []).append(int(i))
    out = {}
    for members in groups.values():
        for start in range(0, len(members), batch_size):
            chunk = members[start:start + batch_size]
            pieces = np.stack([lr[y0:y1, x0:x1] for y0, y1, x0, x1 in (grid.pieces[i] for i in chunk)])
            results = branch.batch(pieces)
            for i, result in zip(chunk, results):
                (py0, py1, px0, px1), (wy0, wy1, wx0, wx1) = grid.pieces[i], grid.windows[i]
                if result.shape[:2] != ((py1 - py0) * s, (px1 - px0) * s):
                    raise ValueError(f"{branch.name} returned {result.shape[:2]} for a {(py1 - py0, px1 - px0)} "
                                     f"piece; expected scale {s}")
                out[i] = result[(wy0 - py0) * s:(wy1 - py0) * s, (wx0 - px0) * s:(wx1 - px0) * s]
    return out


def assemble(coarse_sr: np.ndarray, grid: PatchGrid, fine_windows: dict) -> np.ndarray:
    """``coarse_sr + sum_i w_i * (fine_i - coarse_sr)`` over the patches in ``fine_windows`` (float32)."""
    s = grid.scale
    coarse_sr = np.asarray(coarse_sr, np.float32)
    if coarse_sr.shape[:2] != (grid.height * s, grid.width * s):
        raise ValueError(f"coarse output {coarse_sr.shape[:2]} does not match the grid "
                         f"({grid.height}x{grid.width} LR at x{s})")
    out = coarse_sr.copy()
    for i, fine in fine_windows.items():
        wy0, wy1, wx0, wx1 = grid.windows[i]
        region = (slice(wy0 * s, wy1 * s), slice(wx0 * s, wx1 * s))
        out[region] += grid.weights(i)[..., None] * (np.asarray(fine, np.float32) - coarse_sr[region])
    return np.clip(out, 0.0, 1.0)


def patch_gain(grid: PatchGrid, coarse_sr: np.ndarray, fine_sr: np.ndarray, hr: np.ndarray) -> np.ndarray:
    """(n,) per-core reduction of the squared error (8-bit Y, border ``scale`` cropped) from coarse to fine.

    The same protocol as :func:`sr_lib.metrics.psnr`, so the gains sum to the whole image's reduction
    in squared error: routing the patches with the largest gains is the best a router can do
    (the *oracle*; it needs the HR image and the fine output everywhere, so it is a bound, not a method).
    """
    s = grid.scale
    errors = []
    for sr in (coarse_sr, fine_sr):
        a, b = metrics.protocol_values(sr, hr, border=0, channel="y")
        sq = ((a - b) ** 2)[..., 0]
        sq[:s], sq[-s:], sq[:, :s], sq[:, -s:] = 0, 0, 0, 0
        errors.append(np.array([sq[y0 * s:y1 * s, x0 * s:x1 * s].sum() for y0, y1, x0, x1 in grid.cores]))
    return errors[0] - errors[1]


def routing_flops(grid: PatchGrid, selected, coarse_flops_per_pixel: float, fine_flops_per_pixel: float,
                  score_flops: float = 0.0) -> dict:
    """FLOPs of one routed image: {"coarse", "score", "fine", "total", "fine_whole", "relative"}.

    ``coarse`` = coarse model on all H*W HR pixels; ``fine`` = fine model on the HR pixels of every
    selected *piece* (core + blend + context, so the overlap overhead is counted); ``fine_whole`` =
    the fine model on the whole image once (the cost to beat); ``relative`` = total / fine_whole.
    """
    selected = np.asarray(selected, bool)
    if selected.shape != (len(grid),):
        raise ValueError(f"selected must be a boolean mask of {len(grid)} patches, got shape {selected.shape}")
    hr_pixels = grid.height * grid.width * grid.scale**2
    coarse = float(coarse_flops_per_pixel) * hr_pixels
    fine = float(fine_flops_per_pixel) * float(grid.piece_pixels()[selected].sum()) * grid.scale**2
    total = coarse + float(score_flops) + fine
    fine_whole = float(fine_flops_per_pixel) * hr_pixels
    return {"coarse": coarse, "score": float(score_flops), "fine": fine, "total": total,
            "fine_whole": fine_whole, "relative": total / fine_whole}


@dataclass
class AdaptiveResult:
    """What :func:`upscale_adaptive` did: the image, the grid, the scores, the routing and its cost."""

    sr: np.ndarray
    grid: PatchGrid
    scores: np.ndarray
    selected: np.ndarray
    flops: dict


def upscale_adaptive(lr: np.ndarray, coarse: Upscaler, fine: Upscaler, fraction: float, *, score: str = "hf_energy",
                     patch: int = 32, blend: int = 2, context: int = 8, batch_size: int = 16) -> AdaptiveResult:
    """Coarse model everywhere, fine model on the ``fraction`` hardest patches, blended without seams.

    Args:
        lr: (h, w), (h, w, 1) or (h, w, 3); uint8, uint16 or float in [0, 1] (:mod:`sr_lib.images`),
            given to the branches as float32 (h, w, C). RGBA raises (no branch was trained on alpha).
        coarse, fine: branches: :class:`~sr_lib.inference.Upscaler` s of the same fixed scale with
            ``flops_per_pixel`` (:func:`pretrained_branch`, :func:`branch_from_model`, :func:`bicubic_branch`).
        fraction: share of patches routed to ``fine``, in [0, 1] (k = round(fraction * n)).
        score: a :data:`SCORERS` name.
        patch, blend, context: the grid (:func:`make_grid`).

    Returns:
        :class:`AdaptiveResult`; ``sr`` is (h*scale, w*scale, C) float32 in [0, 1], in the layout
        of ``lr`` ((h, w) gives (H, W)).

    Raises:
        sr_lib.images.ImageError: ``lr`` is not an accepted image.
        ValueError, KeyError: branches refused by :func:`check_branches`, an unknown score, a bad grid.
    """
    layout = images.same_layout(lr)
    lr = images.as_float_hwc(lr, "upscale_adaptive")
    check_branches(coarse, fine)
    if score not in SCORERS:
        raise KeyError(f"unknown difficulty score {score!r}; choose one of {', '.join(SCORERS)}")
    grid = make_grid(*lr.shape[:2], coarse.scale, patch=patch, blend=blend, context=context)
    coarse_sr = np.asarray(coarse(lr), np.float32)
    scores = score_patches(score, lr, grid, coarse_sr)
    selected = select_top(scores, fraction)
    fine_windows = run_patches(fine, lr, grid, np.flatnonzero(selected), batch_size=batch_size)
    sr = layout(assemble(coarse_sr, grid, fine_windows))
    flops = routing_flops(grid, selected, coarse.flops_per_pixel, fine.flops_per_pixel, SCORERS[score].flops(grid))
    return AdaptiveResult(sr, grid, scores, selected, flops)
