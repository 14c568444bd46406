"""``python -m sr_lib``: outputs never destroy inputs or earlier results, EXIF orientation is honoured,
and every error is one line ``error: <file>: <what>`` with exit status 2 (issue 18, items 3-5)."""

import json
from pathlib import Path
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from sr_lib.cli import main

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "sr_lib", *args], capture_output=True, text=True,
                          env=env or ENV, timeout=300)


def _assert_one_error_line(done, name):
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and name in lines[0], lines[0]
    assert "Traceback" not in done.stderr


def _png(path, h=12, w=14, seed=0):
    image = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(image).save(path)
    return image


# --------------------------------------------------------------------------- the output is the input

@pytest.mark.parametrize("spelling", ["same", "relative", "dotdot", "symlink", "hardlink"])
def test_upscale_refuses_an_output_that_is_the_input(tmp_path, monkeypatch, capsys, spelling):
    folder = tmp_path / "d"
    folder.mkdir()
    src = folder / "a.png"
    _png(src)
    before = src.read_bytes()
    monkeypatch.chdir(tmp_path)
    out = {
        "same": str(src),
        "relative": "d/a.png",
        "dotdot": str(folder / ".." / "d" / "a.png"),
        "symlink": str(tmp_path / "link.png"),
        "hardlink": str(tmp_path / "hard.png"),
    }[spelling]
    if spelling == "symlink":
        os.symlink(src, out)
    if spelling == "hardlink":
        os.link(src, out)
    assert main(["upscale", str(src), out, "--model", "bicubic", "--scale", "2", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "overwrite the input" in err and err.count("\n") == 1
    assert src.read_bytes() == before


def test_output_folder_inside_the_input_folder_is_not_read_back(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    _png(src / "a.png")
    _png(src / "b.png", seed=1)
    out = src / "up"  # inside the input folder
    for _ in range(2):  # a second run must not find the first run's outputs as inputs
        assert main(["upscale", str(src), str(out), "--model", "bicubic", "--scale", "2", "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]
    assert sorted(p.name for p in src.iterdir()) == ["a.png", "b.png", "up"]
    with Image.open(out / "a.png") as im:
        assert im.size == (28, 24)
    # The input folder reached through a symlink is still the input folder.
    os.symlink(src, tmp_path / "alias")
    assert main(["upscale", str(src), str(tmp_path / "alias"), "--model", "bicubic", "--scale", "2"]) == 2
    assert "overwrite the inputs" in capsys.readouterr().err


def test_a_failed_run_leaves_an_earlier_output_byte_identical(tmp_path):
    good, broken, out = tmp_path / "good.png", tmp_path / "broken.png", tmp_path / "out.png"
    _png(good)
    assert main(["upscale", str(good), str(out), "--model", "bicubic", "--scale", "2", "--quiet"]) == 0
    earlier = out.read_bytes()
    # Same name as an image, unreadable contents: the run fails after the output path was chosen.
    broken.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    done = _run("upscale", str(broken), str(out), "--model", "bicubic", "--scale", "2", "--quiet")
    _assert_one_error_line(done, "broken.png")
    assert out.read_bytes() == earlier
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.png", "good.png", "out.png"]  # no temp left


def test_write_image_failure_keeps_the_old_file(tmp_path):
    from sr_lib.data.io import write_image

    path = tmp_path / "r.png"
    write_image(path, np.zeros((4, 4, 3), np.float32))
    earlier = path.read_bytes()
    with pytest.raises(ValueError):
        write_image(path, np.full((4, 4, 3), np.nan, np.float32))
    with pytest.raises(ValueError, match="alpha"):
        write_image(tmp_path / "r.jpg", np.zeros((4, 4, 3), np.float32), alpha=np.ones((4, 4)))
    assert path.read_bytes() == earlier
    assert [p.name for p in tmp_path.iterdir()] == ["r.png"]


# --------------------------------------------------------------------------- EXIF orientation

def _pattern(h, w):
    """A pattern with no symmetry: every pixel different, so any rotation or mirror is visible."""
    y, x = np.mgrid[0:h, 0:w]
    return np.dstack([y * 255 // (h - 1), x * 255 // (w - 1), (y * w + x) * 255 // (h * w - 1)]).astype(np.uint8)


def _jpeg_with_orientation(path, stored, tag):
    exif = Image.Exif()
    exif[0x0112] = tag
    Image.fromarray(stored).save(path, quality=100, subsampling=0, exif=exif.tobytes())


def test_exif_orientation_6_reads_upright(tmp_path):
    """Orientation 6: the stored image must be turned 90 degrees clockwise for display."""
    from sr_lib.data.io import read_image

    stored = _pattern(40, 52)  # stored landscape, 52 wide x 40 high
    _jpeg_with_orientation(tmp_path / "p.jpg", stored, 6)
    upright = read_image(tmp_path / "p.jpg")
    assert upright.shape == (52, 40, 3)  # portrait: 40 wide x 52 high
    # Turning clockwise puts the stored bottom-left pixel at the top-left: row r of the result is
    # column r of the stored image read from bottom to top.
    expected = np.rot90(stored, k=-1)
    np.testing.assert_array_equal(expected[0, 0], stored[-1, 0])
    assert np.abs(upright * 255 - expected).max() < 12  # JPEG at quality 100: a few levels
    as_stored = read_image(tmp_path / "p.jpg", orientation="ignore")
    assert as_stored.shape == (40, 52, 3)


@pytest.mark.parametrize("tag", range(1, 9))
def test_every_orientation_matches_pillow_exif_transpose(tmp_path, tag):
    from PIL import ImageOps

    from sr_lib.data.io import read_image

    _jpeg_with_orientation(tmp_path / "p.jpg", _pattern(8, 6), tag)
    with Image.open(tmp_path / "p.jpg") as im:
        reference = np.asarray(ImageOps.exif_transpose(im)).astype(np.float32) / 255
    np.testing.assert_array_equal(read_image(tmp_path / "p.jpg"), reference)


def test_cli_output_of_a_portrait_photo_is_a_portrait(tmp_path):
    _jpeg_with_orientation(tmp_path / "p.jpg", _pattern(40, 52), 6)
    assert main(["upscale", str(tmp_path / "p.jpg"), str(tmp_path / "up.png"), "--model", "bicubic",
                 "--scale", "2", "--quiet"]) == 0
    with Image.open(tmp_path / "up.png") as im:
        assert im.size == (80, 104)  # width x height: a portrait
        assert 0x0112 not in im.getexif()


# --------------------------------------------------------------------------- one error contract

def test_evaluate_with_a_too_small_image_names_the_file(tmp_path):
    folder = tmp_path / "hr"
    folder.mkdir()
    _png(folder / "big.png", 40, 40)
    _png(folder / "tiny.png", 16, 16)
    done = _run("evaluate", "--model", "bicubic", "--dataset", str(folder), "--scale", "4", "--quiet", "--no-lpips")
    _assert_one_error_line(done, "tiny.png")
    assert "too small" in done.stderr and "20x20" in done.stderr
    # With LPIPS (the default) the floor is its 32 pixels after the border: 40x40 at x4.
    _png(folder / "tiny.png", 36, 36)
    done = _run("evaluate", "--model", "bicubic", "--dataset", str(folder), "--scale", "4", "--quiet")
    _assert_one_error_line(done, "tiny.png")
    assert "too small" in done.stderr and "40x40" in done.stderr and "--no-lpips" in done.stderr


def test_a_decompression_bomb_is_too_large_not_corrupt(tmp_path):
    big = tmp_path / "huge.png"
    Image.new("1", (20000, 20000)).save(big)  # a few kB on disk, 400 million pixels
    assert big.stat().st_size < 200_000
    done = _run("upscale", str(big), str(tmp_path / "o.png"), "--model", "bicubic", "--scale", "2")
    _assert_one_error_line(done, "huge.png")
    assert "too large" in done.stderr and "--max-pixels" in done.stderr
    assert "corrupt" not in done.stderr


def test_corrupt_weights_give_one_line_naming_the_file(tmp_path):
    import hashlib

    from sr_lib import pretrained

    weights = tmp_path / "w"
    weights.mkdir()
    bad = weights / "espcn_x2.weights.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 600)  # an HDF5 signature and nothing behind it
    entry = {**pretrained.registry()["espcn_x2"], "sha256": hashlib.sha256(bad.read_bytes()).hexdigest()}
    (weights / "registry.json").write_text(json.dumps({"espcn_x2": entry}))
    _png(tmp_path / "a.png")
    done = _run("upscale", str(tmp_path / "a.png"), str(tmp_path / "o.png"), "--model", "espcn_x2",
                env={**ENV, "SRFS_WEIGHTS_DIR": str(weights)})
    _assert_one_error_line(done, "espcn_x2.weights.h5")
    assert not (tmp_path / "o.png").exists()


def test_argparse_errors_are_one_line_too():
    done = _run("upscale", "only_one_argument")
    _assert_one_error_line(done, "upscale")


def test_evaluate_json_is_written_whole(tmp_path):
    folder = tmp_path / "hr"
    folder.mkdir()
    _png(folder / "a.png", 40, 40)
    target = tmp_path / "r.json"
    target.write_text("earlier")
    assert main(["evaluate", "--model", "bicubic", "--dataset", str(folder), "--scale", "2", "--quiet",
                 "--no-lpips", "--json", str(target)]) == 0
    assert json.loads(target.read_text())["scale"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hr", "r.json"]


# --------------------------------------------------------------------------- tester's report, round 2

def _dataset_folder(tmp_path):
    folder = tmp_path / "ds_ok"
    folder.mkdir()
    for name in ("g16", "la", "a"):
        _png(folder / f"{name}.png", 40, 40, seed=len(name))
    return folder


@pytest.mark.parametrize("spelling", ["plain", "dotdot"])
def test_evaluate_json_never_overwrites_a_dataset_image(tmp_path, monkeypatch, capsys, spelling):
    folder = _dataset_folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    target = "ds_ok/g16.png" if spelling == "plain" else "./ds_ok/../ds_ok/la.png"
    evaluated = []
    monkeypatch.setattr("sr_lib.cli.make_upscaler", lambda *a: evaluated.append(1))  # must not be reached
    assert main(["evaluate", "--model", "bicubic", "--dataset", "ds_ok", "--scale", "2", "--quiet",
                 "--no-lpips", "--json", target]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {Path(target)}: is the input"), err
    assert not evaluated
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_evaluate_json_refuses_a_folder_before_evaluating(tmp_path, monkeypatch, capsys):
    folder = _dataset_folder(tmp_path)
    evaluated = []
    monkeypatch.setattr("sr_lib.cli.make_upscaler", lambda *a: evaluated.append(1))
    assert main(["evaluate", "--model", "bicubic", "--dataset", str(folder), "--scale", "2",
                 "--no-lpips", "--json", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {folder}: is a folder; give a file name" and not evaluated


def test_evaluate_json_refuses_registered_dataset_files_and_mirror(tmp_path, monkeypatch, capsys):
    from sr_lib.data import registry

    mirror = tmp_path / "mirror"
    remote = registry.DATASETS["Set5"].files[0]
    (mirror / remote.path).parent.mkdir(parents=True)
    (mirror / remote.path).write_bytes(b"image")
    monkeypatch.setenv("SRFS_DATA_DIR", str(mirror))
    monkeypatch.setattr("sr_lib.cli.make_upscaler", lambda *a: pytest.fail("evaluated"))
    for target in (mirror / remote.path, mirror / "sr" / "Set14" / "r.json"):
        assert main(["evaluate", "--model", "bicubic", "--dataset", "Set5", "--no-lpips",
                     "--json", str(target)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: {target}: "), err
    assert (mirror / remote.path).read_bytes() == b"image"


def test_evaluate_json_in_an_unwritable_place_says_so(tmp_path, capsys):
    folder = _dataset_folder(tmp_path)
    assert main(["evaluate", "--model", "bicubic", "--dataset", str(folder), "--scale", "2",
                 "--no-lpips", "--json", "/proc/x.json"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: /proc/x.json: cannot be written") and "does not exist" not in err


@pytest.mark.parametrize("output", ["/proc/o12.png", "/sys/o12.png"])
def test_upscale_to_an_unwritable_place_names_the_output(tmp_path, capsys, output):
    _png(tmp_path / "rgb.png")
    assert main(["upscale", str(tmp_path / "rgb.png"), output, "--model", "bicubic", "--scale", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {output}: cannot be written"), err
    assert ".~tmp" not in err[0] and "rgb.png" not in err[0]


def test_upscale_checks_the_extension_before_upscaling(tmp_path, monkeypatch, capsys):
    _png(tmp_path / "rgb.png")
    monkeypatch.setattr("sr_lib.cli.make_upscaler", lambda *a: pytest.fail("upscaled"))
    target = tmp_path / "o9.xyz"
    assert main(["upscale", str(tmp_path / "rgb.png"), str(target), "--model", "bicubic", "--scale", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {target}: cannot save as .xyz") and "write_image" not in err


@pytest.mark.parametrize("command", ["upscale", "evaluate"])
def test_a_bad_scale_names_the_option(tmp_path, capsys, command):
    folder = _dataset_folder(tmp_path)
    args = ([str(folder / "a.png"), str(tmp_path / "o.png")] if command == "upscale"
            else ["--dataset", str(folder), "--no-lpips"])
    assert main([command, *args, "--model", "bicubic", "--scale", "0"]) == 2
    assert capsys.readouterr().err.strip().startswith("error: --scale: must be")


@pytest.mark.parametrize("command", ["upscale", "evaluate"])
def test_ctrl_c_is_one_line_and_status_130(tmp_path, monkeypatch, capsys, command):
    folder = _dataset_folder(tmp_path)

    def interrupted(*args, **kwargs):
        error = KeyboardInterrupt()
        error.add_note("TensorFlow printed while importing:\nlots of lines")
        raise error

    monkeypatch.setattr("sr_lib.cli.make_upscaler", interrupted)
    args = ([str(folder / "a.png"), str(tmp_path / "o.png")] if command == "upscale"
            else ["--dataset", str(folder), "--no-lpips"])
    assert main([command, *args, "--model", "bicubic", "--scale", "2"]) == 130
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith(": interrupted"), captured.err
    assert ("a.png" if command == "upscale" else "ds_ok") in lines[0]
    assert "Traceback" not in captured.err and "TensorFlow" not in captured.err


def test_ctrl_c_while_upscaling_names_the_file(tmp_path, monkeypatch, capsys):
    folder = _dataset_folder(tmp_path)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("sr_lib.cli.upscale_file", interrupted)
    assert main(["upscale", str(folder), str(tmp_path / "out"), "--model", "bicubic", "--scale", "2",
                 "--quiet"]) == 130
    assert capsys.readouterr().err.strip() == f"error: {folder / 'a.png'}: interrupted"


def test_an_image_too_small_for_the_model_is_one_clear_line(tmp_path):
    """edsr_x4 on a 1x1 image: TensorFlow's "paddings must be no greater than the dimension size"
    before; now one line naming the file and the model's 2x2 minimum, status 2 (single file)."""
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(tmp_path / "tiny.png")
    done = _run("upscale", str(tmp_path / "tiny.png"), str(tmp_path / "out.png"), "--model", "edsr_x4", "--quiet")
    _assert_one_error_line(done, "tiny.png")
    assert "too small for edsr_x4" in done.stderr and "at least 2x2" in done.stderr, done.stderr
    assert "paddings" not in done.stderr and not (tmp_path / "out.png").exists()


def test_the_library_names_the_minimum_size_and_tiles_never_go_below_it():
    from sr_lib import pretrained
    from sr_lib.images import ImageShapeError
    from sr_lib.tiling import upscale_tiled

    up = pretrained.upscaler("edsr_x4")
    assert up.min_size == 2 and pretrained.upscaler("espcn_x4").min_size == 1
    with pytest.raises(ValueError, match="at least 2x2") as caught:
        up(np.zeros((1, 5), np.float32))
    assert isinstance(caught.value, ImageShapeError)
    # 9 x 17 in 8-pixel tiles without overlap leaves 1-pixel strips: they get more context instead.
    image = np.random.default_rng(0).random((9, 17)).astype(np.float32)
    assert upscale_tiled(up, image, tile=8, overlap=0).shape == (36, 68)
