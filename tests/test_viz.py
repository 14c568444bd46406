"""sr_lib.viz: figures have the panels, titles and zoomed insets they promise (Agg backend, no display)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from sr_lib.viz import show_images  # noqa: E402


@pytest.fixture
def figures():
    """Collects figures made by a test and closes them afterwards, pass or fail."""
    made = []
    yield made
    for fig in made:
        plt.close(fig)


def _rgb(rng, h=24, w=32):
    return rng.random((h, w, 3), dtype=np.float32)


def _gray(rng, h=24, w=32):
    return rng.random((h, w, 1), dtype=np.float32)


def test_one_axes_per_image_with_titles(rng, figures):
    images = [_rgb(rng), _gray(rng), _rgb(rng, 12, 16)]
    fig = show_images(images, ["a", "b", "c"], suptitle="three")
    figures.append(fig)
    assert len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c"]
    assert fig._suptitle.get_text() == "three"
    assert all(not ax.axison for ax in fig.axes)


def test_grid_drops_unused_axes(rng, figures):
    fig = show_images([_rgb(rng)] * 5, list("abcde"), ncols=3)
    figures.append(fig)
    assert len(fig.axes) == 5
    assert fig.axes[3].get_subplotspec().rowspan.start == 1  # fourth panel starts the second row


def test_gray_uses_fixed_gray_scale_and_rgb_is_shown_as_is(rng, figures):
    gray = np.full((10, 12, 1), 0.25, dtype=np.float32)  # constant: autoscaling would hide its value
    rgb = _rgb(rng, 10, 12)
    fig = show_images([gray, rgb, gray[..., 0]], ["gray", "rgb", "2-d gray"])
    figures.append(fig)
    gray_image, rgb_image, flat_image = (ax.get_images()[0] for ax in fig.axes)
    assert gray_image.get_cmap().name == "gray"
    assert gray_image.get_clim() == (0.0, 1.0)
    assert gray_image.get_array().shape == (10, 12)
    np.testing.assert_array_equal(rgb_image.get_array(), rgb)
    assert flat_image.get_clim() == (0.0, 1.0)


def test_zoom_adds_box_and_nearest_inset_of_the_same_region(rng, figures):
    hr = _rgb(rng, 64, 64)
    lr = hr[::4, ::4]
    fig = show_images([lr, hr], ["lr", "hr"], zoom=(0.5, 0.25, 0.25, 0.5))
    figures.append(fig)
    assert len(fig.axes) == 2  # insets are children of their panel, not extra panels
    for ax, image in zip(fig.axes, (lr, hr)):
        (inset,) = ax.child_axes
        shown = inset.get_images()[0]
        assert shown.get_interpolation() == "nearest"
        h, w = image.shape[:2]
        np.testing.assert_array_equal(shown.get_array(), image[h // 2 : 3 * h // 4, w // 4 : 3 * w // 4])
        assert any(isinstance(p, Rectangle) for p in ax.patches)


def test_zoom_box_covers_every_pixel_it_touches():
    from sr_lib.viz import _zoom_pixels

    assert _zoom_pixels((0.3, 0.0, 0.2, 1.0), 10, 7) == (3, 0, 5, 7)  # 0.3 * 10 is not quite 3.0
    assert _zoom_pixels((0.25, 0.25, 0.1, 0.1), 10, 10) == (2, 2, 4, 4)  # partly covered pixels count
    assert _zoom_pixels((0.5, 0.5, 0.001, 0.001), 10, 10) == (5, 5, 6, 6)  # never empty


def test_inset_avoids_the_zoom_box(rng, figures):
    fig = show_images([_rgb(rng)], ["x"], zoom=(0.7, 0.7, 0.2, 0.2))  # box at the lower right
    figures.append(fig)
    fig.canvas.draw()  # positions are final (aspect applied) only after drawing
    panel = fig.axes[0].get_position()
    inset = fig.axes[0].child_axes[0].get_position()
    # Figure coordinates grow upwards: upper left means left of and above the panel's centre.
    assert inset.x1 < (panel.x0 + panel.x1) / 2 + 1e-6
    assert inset.y0 > (panel.y0 + panel.y1) / 2 - 1e-6


def test_no_zoom_no_insets(rng, figures):
    fig = show_images([_rgb(rng)], ["x"])
    figures.append(fig)
    assert fig.axes[0].child_axes == []


@pytest.mark.parametrize(
    "images, titles, zoom, error",
    [
        ([np.zeros((4, 4, 3), np.float32)], ["a", "b"], None, ValueError),
        ([np.zeros((4, 4, 2), np.float32)], ["a"], None, ValueError),
        ([np.zeros((4, 4, 3), np.int64)], ["a"], None, TypeError),  # uint8 is fine, int64 ambiguous
        ([np.full((4, 4, 3), 255.0, np.float32)], ["a"], None, ValueError),  # 0..255 floats
        ([np.zeros((4, 4, 3), np.float32)], ["a"], (0.9, 0.0, 0.5, 0.5), ValueError),
    ],
)
def test_bad_arguments_raise(images, titles, zoom, error):
    with pytest.raises(error):
        show_images(images, titles, zoom=zoom)
    plt.close("all")


def test_find_zoom_box_lands_on_the_largest_values():
    from sr_lib.viz import find_zoom_box

    values = np.zeros((50, 100))
    values[30:40, 70:80] = 1.0  # a 10 x 10 hot spot
    top, left, h, w = find_zoom_box(values, size=0.2)  # side = 0.2 * 50 = 10 pixels
    assert (top * 50, left * 100, h * 50, w * 100) == pytest.approx((30, 70, 10, 10))
    # Colour maps are averaged over channels; the box stays inside the image at the border.
    corner = np.zeros((20, 20, 3))
    corner[-1, -1] = 5.0
    top, left, h, w = find_zoom_box(corner, size=0.25)
    assert top + h == pytest.approx(1.0) and left + w == pytest.approx(1.0)
    with pytest.raises(ValueError):
        find_zoom_box(values, size=0)


def test_plot_history_draws_one_line_per_key_at_the_right_steps(figures):
    from types import SimpleNamespace

    from sr_lib.viz import plot_history

    # A History resumed after epoch 2 (BackupAndRestore) only holds epochs 2..4.
    history = SimpleNamespace(history={"loss": [0.5, 0.2, 0.1], "val_loss": [0.6, 0.3, 0.2]}, epoch=[2, 3, 4])
    fig = plot_history(history, title="curves", steps_per_epoch=100)
    figures.append(fig)
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.get_lines()] == ["loss", "val_loss"]
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [300, 400, 500])
    np.testing.assert_array_equal(ax.get_lines()[1].get_ydata(), [0.6, 0.3, 0.2])
    assert ax.get_yscale() == "log" and ax.get_title() == "curves" and ax.get_xlabel() == "optimizer step"


def test_plot_history_accepts_a_dict_and_selects_keys(figures):
    from sr_lib.viz import plot_history

    fig = plot_history({"loss": [3.0, 2.0], "mae": [1.0, 0.5]}, keys=["mae"], log=False)
    figures.append(fig)
    (line,) = fig.axes[0].get_lines()
    np.testing.assert_array_equal(line.get_xdata(), [1, 2])  # epochs, counted from 1
    assert fig.axes[0].get_yscale() == "linear" and fig.axes[0].get_xlabel() == "epoch"
    with pytest.raises(ValueError, match="psnr"):
        plot_history({"loss": [1.0]}, keys=["psnr"])
    with pytest.raises(ValueError):
        plot_history({})


# --- show_table and labelled training curves -------------------------------------------------------

from sr_lib.viz import plot_history, show_table  # noqa: E402


def test_show_table_cells_title_and_highlight(figures):
    fig = show_table([["bicubic", 28.43, 0.8111], ["ESPCN", 30.32, 0.8562]], ["method", "PSNR", "SSIM"],
                     title="Set5 x4", number_format="{:.2f}", highlight="max")
    figures.append(fig)
    (ax,) = fig.axes
    assert ax.get_title() == "Set5 x4" and not ax.axison
    table = ax.tables[0]
    assert table[0, 0].get_text().get_text() == "method"
    assert table[1, 1].get_text().get_text() == "28.43" and table[2, 2].get_text().get_text() == "0.86"
    # the best PSNR (ESPCN's) is bold, bicubic's is not; the text column is never highlighted
    assert table[2, 1].get_text().get_weight() == "bold" and table[1, 1].get_text().get_weight() == "normal"
    assert table[1, 0].get_text().get_weight() == "normal" and table[2, 0].get_text().get_weight() == "normal"


def test_show_table_min_highlight_and_errors(figures):
    fig = show_table([["a", 3], ["b", 1]], ["name", "seconds"], title="t", highlight="min")
    figures.append(fig)
    table = fig.axes[0].tables[0]
    assert table[2, 1].get_text().get_weight() == "bold" and table[1, 1].get_text().get_weight() == "normal"
    with pytest.raises(ValueError, match="do not have 2 cells"):
        show_table([["a"]], ["name", "x"], title="t")
    with pytest.raises(ValueError, match="no rows"):
        show_table([], ["name"], title="t")
    with pytest.raises(ValueError, match="highlight"):
        show_table([["a"]], ["name"], title="t", highlight="best")


def test_plot_history_always_has_title_and_axis_labels(figures):
    fig = plot_history({"loss": [1.0, 0.5], "val_loss": [1.2, 0.7]})
    figures.append(fig)
    (ax,) = fig.axes
    assert ax.get_title() and ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss / metric value"
    fig = plot_history({"loss": [1.0, 0.5]}, title="ESPCN", steps_per_epoch=100, ylabel="MSE")
    figures.append(fig)
    (ax,) = fig.axes
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("ESPCN", "optimizer step", "MSE")
    assert list(ax.lines[0].get_xdata()) == [100, 200]


def _one_axes_figure(image, interpolation=None):
    """A 1 x 1 inch figure at 100 dpi whose only axes fills it: the image is drawn 100 pixels wide."""
    fig = plt.figure(figsize=(1, 1), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    kwargs = {} if interpolation is None else {"interpolation": interpolation}
    shown = ax.imshow(image, **kwargs)
    return fig, shown


@pytest.mark.parametrize(
    "side, interpolation, expected",
    [
        (40, None, "nearest"),  # 100 / 40 = 2.5 screen pixels per image pixel
        (50, "antialiased", "nearest"),  # exactly 2: switched
        (80, None, "auto"),  # 1.25: nearest would double every fourth pixel, stays smoothed
        (400, None, "auto"),  # drawn 4 times smaller than its size: stays antialiased
        (40, "bicubic", "bicubic"),  # an explicit choice is kept
    ],
)
def test_show_pixels_when_enlarged_switches_by_scale(rng, figures, side, interpolation, expected):
    from sr_lib.viz import show_pixels_when_enlarged

    fig, shown = _one_axes_figure(rng.random((side, side, 3)), interpolation)
    figures.append(fig)
    switched = show_pixels_when_enlarged(fig)
    assert shown.get_interpolation() == expected
    assert switched == (expected == "nearest")


def test_show_pixels_when_enlarged_measures_the_drawn_size_not_the_axes(rng, figures):
    # A wide strip of 8 faces in a square axes: aspect 'equal' draws it 100 px wide (1.6 px per
    # pixel across), whatever room the axes has vertically, so it must stay smoothed.
    from sr_lib.viz import show_pixels_when_enlarged

    fig, shown = _one_axes_figure(rng.random((8, 64, 3)))
    figures.append(fig)
    assert show_pixels_when_enlarged(fig) == 0
    assert shown.get_interpolation() == "auto"


def test_show_images_draws_small_images_with_nearest_and_large_ones_smoothed(rng, figures):
    small = show_images([_rgb(rng, 16, 16)] * 2, ["a", "b"])  # about 300 px panels: ~19 px per pixel
    large = show_images([_rgb(rng, 600, 600)] * 2, ["a", "b"])  # shrunk to about 300 px
    figures += [small, large]
    assert [ax.get_images()[0].get_interpolation() for ax in small.axes] == ["nearest"] * 2
    assert [ax.get_images()[0].get_interpolation() for ax in large.axes] == ["antialiased"] * 2


def test_show_pixels_when_enlarged_handles_gray_and_skips_hidden_images(rng, figures):
    from sr_lib.viz import show_pixels_when_enlarged

    fig, gray = _one_axes_figure(rng.random((40, 40)))  # 2-D, drawn with a colormap: 2.5x
    hidden = fig.axes[0].imshow(rng.random((40, 40)))
    hidden.set_visible(False)
    figures.append(fig)
    assert show_pixels_when_enlarged(fig) == 1
    assert gray.get_interpolation() == "nearest"
    assert hidden.get_interpolation() == "auto"
    with pytest.raises(ValueError, match="min_scale"):
        show_pixels_when_enlarged(fig, min_scale=0)
