"""Figures for the notebooks: one look for every comparison of images in the course.

Super-resolution is judged by eye as much as by PSNR, and the differences that matter (aliasing,
ringing, blur, invented texture) are a few pixels wide. So the course shows images side by side,
each panel with a title, and the same small region zoomed in every panel with *nearest*
interpolation, so that the reader sees the pixels themselves rather than the plotting library's
smoothing of them. For the same reason every panel drawn enlarged twice or more (a 64-pixel face in
a grid) is drawn with nearest interpolation too (:func:`show_pixels_when_enlarged`, which also serves
figures the notebooks draw with ``imshow`` directly).

Images are those of :mod:`sr_lib.images`: uint8, uint16 or float in [0, 1], shape (H, W) or
(H, W, 1) (shown in gray, 0 = black, 1 = white) or (H, W, 3) (RGB); (H, W, 4) has its alpha
dropped (shown opaque: a transparent panel would show the figure background, not the pixels). Panels may have different resolutions (an LR image next to
its HR original): the zoom box is given in *relative* coordinates, so it marks the same part of
the scene in every panel. :func:`find_zoom_box` places that box where something happens (the
largest error, the strongest aliasing), so a figure shows the interesting pixels on any image.
"""

from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from sr_lib import images as image_core

__all__ = ["show_images", "show_pixels_when_enlarged", "find_zoom_box", "plot_history", "show_table"]

# Screen pixels per image pixel from which an image is drawn with nearest-neighbour interpolation.
NEAREST_FROM = 2.0
ZOOM_COLOUR = "#ffcc00"  # bright yellow: visible on dark and light photos, and in gray panels
_INSET_SIZE = 0.42  # inset side as a fraction of its panel


def _as_displayable(image: np.ndarray, index: int) -> tuple[np.ndarray, dict]:
    """(H, W) gray or (H, W, 3) RGB array in [0, 1] and the ``imshow`` arguments that show it faithfully."""
    array = image_core.as_float_hwc(image, f"show_images: image {index}", alpha="drop")
    # Clip explicitly: imshow would clip too, but with a warning per panel (bicubic overshoots slightly).
    array = np.clip(array, 0.0, 1.0)
    if array.shape[-1] == 1:
        # Fixed vmin/vmax: without them matplotlib stretches each gray image to its own min..max.
        return array[..., 0], {"cmap": "gray", "vmin": 0.0, "vmax": 1.0}
    return array, {}


def _zoom_pixels(zoom: tuple[float, float, float, float], height: int, width: int) -> tuple[int, int, int, int]:
    """Relative (top, left, height, width) -> pixel box (y0, x0, y1, x1): every pixel the box touches.

    Pixel ``i`` covers [i / H, (i + 1) / H), so the box starts at floor(top * H) and ends at
    ceil((top + height) * H); the tolerance keeps 0.3 * 10 = 3.0000000000000004 from taking a pixel
    more. The same relative box thus marks the same part of the scene at any resolution.
    """
    top, left, box_h, box_w = zoom
    eps = 1e-9
    y0 = min(math.floor(top * height + eps), height - 1)
    x0 = min(math.floor(left * width + eps), width - 1)
    y1 = min(max(math.ceil((top + box_h) * height - eps), y0 + 1), height)
    x1 = min(max(math.ceil((left + box_w) * width - eps), x0 + 1), width)
    return y0, x0, y1, x1


def _check_zoom(zoom) -> tuple[float, float, float, float]:
    if len(zoom) != 4:
        raise ValueError(f"show_images: zoom must be (top, left, height, width), got {zoom!r}")
    top, left, box_h, box_w = (float(v) for v in zoom)
    if not (0 <= top < 1 and 0 <= left < 1 and 0 < box_h <= 1 - top and 0 < box_w <= 1 - left):
        raise ValueError(
            f"show_images: zoom {zoom!r} must be fractions of the image, (top, left, height, width) "
            "with the box inside [0, 1] x [0, 1]"
        )
    return top, left, box_h, box_w


def _inset_bounds(zoom: tuple[float, float, float, float]) -> list[float]:
    """Inset position in axes coordinates: the corner farthest from the zoom box, so it never hides it."""
    top, left, box_h, box_w = zoom
    centre_y, centre_x = top + box_h / 2, left + box_w / 2
    x = 1 - _INSET_SIZE if centre_x < 0.5 else 0.0
    # Axes coordinates grow upwards while image rows grow downwards.
    y = 0.0 if centre_y < 0.5 else 1 - _INSET_SIZE
    return [x, y, _INSET_SIZE, _INSET_SIZE]


def show_images(
    images: Sequence[np.ndarray],
    titles: Sequence[str],
    *,
    zoom: tuple[float, float, float, float] | None = None,
    suptitle: str | None = None,
    ncols: int | None = None,
    figsize: tuple[float, float] | None = None,
) -> plt.Figure:
    """Show images side by side (or in a grid), each with its title, optionally with a zoomed inset.

    Args:
        images: each (H, W), (H, W, 1) or (H, W, 3), uint8, uint16 or float in [0, 1]
            (:mod:`sr_lib.images`); sizes may differ. A float's small overshoot is clipped for
            display; (H, W, 4) is shown without its alpha.
        titles: one title per image.
        zoom: ``(top, left, height, width)`` as fractions of each image's height and width, e.g.
            ``(0.4, 0.5, 0.15, 0.15)``. The box is outlined on every panel and its pixels shown,
            enlarged with nearest-neighbour interpolation, in the panel corner farthest from it.
        suptitle: title of the whole figure.
        ncols: panels per row (default: all in one row).
        figsize: (width, height) in inches (default: about 3.2 inches per panel).

    Returns:
        The matplotlib Figure; ``fig.axes`` holds one Axes per image, each inset is in
        ``ax.child_axes``. Panels drawn enlarged twice or more use nearest interpolation, the
        others matplotlib's antialiasing (:func:`show_pixels_when_enlarged`); resizing the figure
        afterwards keeps that choice.

    Raises:
        sr_lib.images.ImageError: an image of another dtype (``TypeError``), far outside [0, 1]
            or of another shape (``ValueError``); the message gives its index.
        ValueError: titles do not match the images, or a bad ``zoom``.
    """
    if len(images) != len(titles):
        raise ValueError(f"show_images: {len(images)} images but {len(titles)} titles")
    if not images:
        raise ValueError("show_images: no images given")
    shown = [_as_displayable(image, i) for i, image in enumerate(images)]
    box = _check_zoom(zoom) if zoom is not None else None

    ncols = min(ncols or len(images), len(images))
    nrows = math.ceil(len(images) / ncols)
    if figsize is None:
        aspect = max(array.shape[0] / array.shape[1] for array, _ in shown)
        figsize = (3.2 * ncols, 3.2 * nrows * aspect + (0.5 if suptitle else 0.2))
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False, layout="constrained")
    for ax in axes.flat[len(images):]:
        fig.delaxes(ax)

    for ax, (array, style), title in zip(axes.flat, shown, titles):
        # 'antialiased' for the panel: a large image drawn small would otherwise alias on screen,
        # which is exactly the artefact some figures are about. Enlarged panels switch to nearest
        # below, once the layout says how large each is drawn.
        ax.imshow(array, interpolation="antialiased", **style)
        ax.set_title(title, fontsize=10)
        ax.set_axis_off()
        if box is None:
            continue
        y0, x0, y1, x1 = _zoom_pixels(box, array.shape[0], array.shape[1])
        ax.add_patch(
            Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor=ZOOM_COLOUR, linewidth=1.5)
        )
        inset = ax.inset_axes(_inset_bounds(box))
        inset.imshow(array[y0:y1, x0:x1], interpolation="nearest", **style)
        inset.set_xticks([])
        inset.set_yticks([])
        for spine in inset.spines.values():
            spine.set_edgecolor(ZOOM_COLOUR)
            spine.set_linewidth(1.5)
    if suptitle:
        fig.suptitle(suptitle)
    show_pixels_when_enlarged(fig)
    return fig


def show_pixels_when_enlarged(fig: plt.Figure, min_scale: float = NEAREST_FROM) -> int:
    """Switch every image drawn enlarged ``min_scale`` times or more to nearest-neighbour interpolation.

    matplotlib's default (``'auto'``, also called ``'antialiased'``) smooths an image enlarged less
    than 3 times with a Hanning filter. At 2-3 times, where the course shows its 64-pixel faces, that
    blurs the very pixels a reader should judge, and the smooth gradients make the stored PNG about 3
    times larger (a 4 x 6 grid of 64-pixel faces: 840 KB smoothed, 301 KB nearest). Below 2 times,
    nearest would repeat some rows and columns but not others, which looks like aliasing, so those
    images stay smoothed, as do images drawn smaller than their size. Only visible, non-empty images
    left at the default (``'auto'`` or ``'antialiased'``) are switched: an explicit choice such as
    ``'bicubic'`` stays.

    Call it when the figure's size and layout are final (just before ``plt.show()``): it lays the
    figure out once and measures each image on screen at the figure's own dpi, which is what the
    notebooks' inline backend saves at (100). Saved at a lower dpi, an image may end up below
    ``min_scale`` but nearest; a later call never switches an image back. :func:`show_images` calls
    it itself.

    Args:
        fig: a matplotlib Figure, any layout; images in inset axes count too.
        min_scale: screen pixels per image pixel (the smaller of the two axes) from which to
            switch; > 0.

    Returns:
        How many images were switched to ``'nearest'``.

    Raises:
        ValueError: ``min_scale`` not > 0.
    """
    from matplotlib.image import AxesImage

    if not min_scale > 0:
        raise ValueError(f"show_pixels_when_enlarged: min_scale must be > 0, got {min_scale}")
    fig.draw_without_rendering()  # runs the layout engine, so every axes has its final size
    switched = 0
    for image in fig.findobj(AxesImage):
        array = image.get_array()
        if array is None or array.size == 0 or not image.get_visible():
            continue
        if image.get_interpolation() not in ("auto", "antialiased"):
            continue
        rows, cols = array.shape[:2]
        box = image.get_window_extent()
        if min(abs(box.width) / cols, abs(box.height) / rows) >= min_scale:
            image.set_interpolation("nearest")
            switched += 1
    return switched


def find_zoom_box(values: np.ndarray, size: float = 0.15) -> tuple[float, float, float, float]:
    """A zoom box for :func:`show_images`, placed where ``values`` is largest on average.

    Args:
        values: (H, W) or (H, W, C) map of non-negative numbers, e.g. ``abs(sr - hr)``; channels
            are averaged, so (H, W) and (H, W, 1) give the same box, and a gray map the same box
            as its replication to 3 channels. A map is not an image: any numeric dtype and scale
            is accepted (squared errors on 0..255 are fine), since only where it is large matters.
        size: side of the square box as a fraction of the image's shorter side.

    Returns:
        ``(top, left, height, width)`` as fractions of H and W: a square of ``size * min(H, W)``
        pixels, inside the image, whose mean of ``values`` is the largest (first such box on ties).
    """
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 3:
        array = array.mean(axis=-1)
    if array.ndim != 2:
        raise ValueError(f"find_zoom_box: expected an (H, W) or (H, W, C) map, got shape {np.shape(values)}")
    if not 0 < size <= 1:
        raise ValueError(f"find_zoom_box: size must be in (0, 1], got {size}")
    height, width = array.shape
    side = max(1, int(round(size * min(height, width))))
    means = _window_means(array, side)
    top, left = np.unravel_index(np.argmax(means), means.shape)
    return float(top) / height, float(left) / width, side / height, side / width


def _window_means(array: np.ndarray, side: int) -> np.ndarray:
    """Mean of every side x side window fully inside ``array``; [y, x] = window with top-left (y, x)."""
    table = np.pad(array.cumsum(0).cumsum(1), ((1, 0), (1, 0)))  # summed-area table
    sums = table[side:, side:] - table[:-side, side:] - table[side:, :-side] + table[:-side, :-side]
    return sums / (side * side)


def plot_history(
    history,
    *,
    title: str | None = "Training curves",
    steps_per_epoch: int | None = None,
    keys: Sequence[str] | None = None,
    log: bool = True,
    figsize: tuple[float, float] = (7.0, 3.2),
    ylabel: str | None = None,
) -> plt.Figure:
    """Plot training curves: one line per metric of a Keras ``History`` (or its ``.history`` dict).

    Args:
        history: ``keras.callbacks.History`` as returned by ``fit`` / ``sr_lib.training.fit_steps``,
            or a dict ``name -> list of per-epoch values``.
        title: axes title (every course figure has one; pass a more specific one).
        steps_per_epoch: if given, the x axis counts optimizer steps: Keras epoch ``e`` (0-based)
            ends at step ``(e + 1) * steps_per_epoch`` (``fit_steps`` calls an epoch a *chunk*).
            A ``History`` knows its epoch numbers, so a run resumed from a backup is drawn at the
            steps it really covered.
        keys: which entries to draw (default: all of them).
        log: logarithmic y axis (losses often fall by orders of magnitude).
        figsize: (width, height) in inches.
        ylabel: y axis label (default: the key when there is one, else "loss / metric value").

    Returns:
        The Figure; its single Axes has one ``Line2D`` per key, labelled with the key; both axes
        are labelled.
    """
    values = getattr(history, "history", history)
    if not isinstance(values, dict) or not values:
        raise ValueError("plot_history: expected a keras History or a non-empty dict of per-epoch values")
    keys = list(keys) if keys is not None else list(values)
    missing = [k for k in keys if k not in values]
    if missing:
        raise ValueError(f"plot_history: no entries {missing} in the history (it has {list(values)})")
    recorded_epochs = list(getattr(history, "epoch", []))  # a History's 0-based epoch numbers
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    for key in keys:
        ys = np.asarray(values[key], dtype=np.float64)
        epochs = np.asarray(recorded_epochs if len(recorded_epochs) == len(ys) else range(len(ys)))
        xs = (epochs + 1) * (steps_per_epoch or 1)
        ax.plot(xs, ys, marker="o" if len(ys) < 30 else None, markersize=3, label=key)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("optimizer step" if steps_per_epoch else "epoch")
    ax.set_ylabel(ylabel or (keys[0] if len(keys) == 1 else "loss / metric value"))
    ax.grid(True, which="both", alpha=0.3)
    if len(keys) > 1:
        ax.legend()
    if title:
        ax.set_title(title)
    return fig


def show_table(
    rows: Sequence[Sequence[object]],
    header: Sequence[str],
    *,
    title: str,
    number_format: str = "{:.2f}",
    highlight: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> plt.Figure:
    """Render a small table as a figure, for a slide or a report where Markdown does not go.

    Args:
        rows: the table body, one sequence of cells per row, each as long as ``header``. Floats are
            written with ``number_format``; everything else with ``str``.
        header: column names.
        title: the figure's title (required: every course figure says what it shows).
        number_format: format for float cells, e.g. ``"{:.4f}"`` for SSIM.
        highlight: ``"max"`` or ``"min"``: bold the best number in every numeric column (e.g. the
            highest PSNR); ``None`` for no highlighting.
        figsize: (width, height) in inches (default: from the number of columns and rows).

    Returns:
        The Figure; its Axes (axis lines hidden) holds one ``matplotlib.table.Table`` whose cell
        ``(0, j)`` is ``header[j]`` and ``(i + 1, j)`` is ``rows[i][j]`` as text.
    """
    header = [str(h) for h in header]
    rows = [list(row) for row in rows]
    if not header:
        raise ValueError("show_table: the header is empty")
    if not rows:
        raise ValueError("show_table: no rows given")
    bad = [i for i, row in enumerate(rows) if len(row) != len(header)]
    if bad:
        raise ValueError(f"show_table: rows {bad} do not have {len(header)} cells like the header")
    if highlight not in (None, "max", "min"):
        raise ValueError(f"show_table: highlight must be 'max', 'min' or None, got {highlight!r}")

    def text(value) -> str:
        is_float = isinstance(value, (float, np.floating))
        return number_format.format(value) if is_float else str(value)

    body = [[text(v) for v in row] for row in rows]
    if figsize is None:
        widths = [max(len(header[j]), *(len(r[j]) for r in body)) for j in range(len(header))]
        figsize = (max(3.0, 0.11 * sum(widths) + 0.4 * len(header)), 0.8 + 0.32 * (len(rows) + 1))
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    ax.set_axis_off()
    table = ax.table(cellText=body, colLabels=header, loc="center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(10)
    table.auto_set_column_width(list(range(len(header))))  # every column as wide as its longest text
    table.scale(1.0, 1.3)
    for j in range(len(header)):
        table[0, j].set_text_props(weight="bold")
        table[0, j].set_facecolor("#e8e8e8")
        if highlight is None:
            continue
        numbers = [(i, float(row[j])) for i, row in enumerate(rows)
                   if isinstance(row[j], (int, float, np.integer, np.floating)) and not isinstance(row[j], bool)]
        if len(numbers) > 1:
            pick = max if highlight == "max" else min
            best = pick(v for _, v in numbers)
            for i, v in numbers:
                if v == best:
                    table[i + 1, j].set_text_props(weight="bold")
    ax.set_title(title)
    return fig
