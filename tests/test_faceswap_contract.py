"""The command line's contract, case by case: outputs never over inputs, a failed or interrupted
run changes nothing, numeric options checked up front, one error line (status 2; 130 on Ctrl-C)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from faceswap_lib.__main__ import main
from faceswap_lib.alignments import ALIGNMENTS_FILE, read_alignments
from faceswap_lib.extract import extract


def moving_clip(path, n=4, size=256, flip=False, seed=0):
    """An MJPG clip of the astronaut's face, turned a little per frame (a real face for the detector)."""
    rng = np.random.default_rng(seed)
    photo = cv2.resize(skdata.astronaut()[:260, 92:352], (size, size))[..., ::-1]
    if flip:
        photo = photo[:, ::-1]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (size, size))
    for _ in range(n):
        m = cv2.getRotationMatrix2D((size / 2, size / 2), rng.uniform(-8, 8), 1.0)
        writer.write(cv2.warpAffine(np.ascontiguousarray(photo), m, (size, size), borderMode=cv2.BORDER_REFLECT))
    writer.release()
    return Path(path)


def blank_clip(path, n=3):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 96))
    for _ in range(n):
        writer.write(np.full((96, 96, 3), 90, np.uint8))
    writer.release()
    return Path(path)


def one_error_line(capsys, file, status_text=None):
    err = capsys.readouterr().err
    # train's warnings that the tiny test folders hold too few faces come before the error.
    lines = [line for line in err.splitlines() if not (line.startswith("warning: ") and "faces of person" in line)]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"error: {file}: "), lines[0]
    if status_text is not None:
        assert status_text in lines[0], lines[0]
    return lines[0]


def snapshot(folder):
    return {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.is_file()}


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    """Two extract folders (persons A and B), 64 px crops."""
    root = tmp_path_factory.mktemp("faces")
    extract(moving_clip(root / "a.avi", n=3), root / "fa", size=64, progress=False)
    extract(moving_clip(root / "b.avi", n=3, flip=True, seed=1), root / "fb", size=64, progress=False)
    return root / "fa", root / "fb"


TRAIN = ["--size", "32", "--batch-size", "2", "--steps", "1", "--chunk", "1"]


@pytest.fixture(scope="module")
def trained(faces, tmp_path_factory):
    model = tmp_path_factory.mktemp("model") / "m"
    assert main(["train", str(faces[0]), str(faces[1]), str(model), *TRAIN]) == 0
    return model


# --- 1. train never writes into a face folder; one folder is not two persons ----------------------

def test_train_refuses_a_model_folder_that_is_a_face_folder(faces, tmp_path, capsys):
    fa, fb = faces
    before_a, before_b = snapshot(fa), snapshot(fb)
    (tmp_path / "link").symlink_to(fa)
    for model in (fa, fb, tmp_path / "link", Path(os.path.relpath(fa))):
        assert main(["train", str(fa), str(fb), str(model), *TRAIN]) == 2
        one_error_line(capsys, model, "refusing to overwrite")
    assert snapshot(fa) == before_a and snapshot(fb) == before_b


def test_train_refuses_the_same_folder_as_both_persons(faces, tmp_path, capsys):
    fa, _ = faces
    (tmp_path / "link").symlink_to(fa)
    for b in (fa, tmp_path / "link"):
        assert main(["train", str(fa), str(b), str(tmp_path / "m2"), *TRAIN]) == 2
        one_error_line(capsys, b, "same folder as person A")
    assert not (tmp_path / "m2").exists()


# --- 2. a failed extract changes nothing ------------------------------------------------------------

def test_a_failed_extract_leaves_the_sidecar_byte_identical(tmp_path, capsys):
    out = tmp_path / "fa"
    extract(moving_clip(tmp_path / "a.avi", n=2), out, size=64, progress=False)
    before = snapshot(out)
    assert main(["extract", str(blank_clip(tmp_path / "blank.avi")), str(out), "--size", "64"]) == 2
    one_error_line(capsys, tmp_path / "blank.avi", "no face found")
    assert snapshot(out) == before
    # Into a new folder: nothing created.
    assert main(["extract", str(blank_clip(tmp_path / "blank.avi")), str(tmp_path / "new"), "--size", "64"]) == 2
    one_error_line(capsys, tmp_path / "blank.avi", "no face found")
    assert not (tmp_path / "new").exists()


# --- 3. learning rate checked; a NaN loss never saved -------------------------------------------------

@pytest.mark.parametrize("rate", ["nan", "inf", "-1", "0"])
def test_train_refuses_a_learning_rate_that_is_not_positive_and_finite(rate, faces, trained, capsys):
    before = snapshot(trained)
    assert main(["train", str(faces[0]), str(faces[1]), str(trained), *TRAIN, "--learning-rate", rate]) == 2
    one_error_line(capsys, "--learning-rate", "must be a positive finite number")
    assert snapshot(trained) == before


def test_a_nan_loss_stops_training_and_keeps_the_model(faces, trained, capsys, monkeypatch):
    from faceswap_lib import training

    real = training.load_faces

    def poisoned(folder, size, *args, **kwargs):
        faces_, masks, entries = real(folder, size, *args, **kwargs)
        return faces_ * np.nan, masks, entries

    monkeypatch.setattr(training, "load_faces", poisoned)
    before = snapshot(trained)
    steps = json.loads((trained / "faceswap.json").read_text())["steps"]
    assert main(["train", str(faces[0]), str(faces[1]), str(trained), *TRAIN, "--steps", str(steps + 1)]) == 2
    line = one_error_line(capsys, trained)
    assert f"became NaN at step {steps + 1}; model folder left at step {steps}" in line
    assert snapshot(trained) == before


# --- 4. Ctrl-C: one line, status 130, nothing half-written ---------------------------------------------

def test_ctrl_c_during_extract_removes_the_runs_crops(tmp_path, capsys, monkeypatch):
    from faceswap_lib import extract as extract_module

    out = tmp_path / "fa"
    extract(moving_clip(tmp_path / "a.avi", n=2), out, size=64, progress=False)
    before = snapshot(out)
    real, calls = extract_module.aligned_crop, []

    def interrupt_on_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(extract_module, "aligned_crop", interrupt_on_third)
    clip = moving_clip(tmp_path / "b.avi", n=5, flip=True)
    assert main(["extract", str(clip), str(out), "--size", "64"]) == 130
    one_error_line(capsys, clip, "interrupted at frame 2")
    assert snapshot(out) == before  # the sidecar as it was, no orphan crops, no temporary files
    assert sorted(p.name for p in out.iterdir()) == sorted(before)


def test_ctrl_c_during_train_says_where_to_continue(faces, tmp_path, capsys, monkeypatch):
    from faceswap_lib import training

    real = training._StepWatch.on_train_batch_end

    def interrupt_at_step_3(self, batch, logs=None):
        real(self, batch, logs)
        if self.step == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(training._StepWatch, "on_train_batch_end", interrupt_at_step_3)
    model = tmp_path / "m"
    args = ["train", str(faces[0]), str(faces[1]), str(model), "--size", "32", "--batch-size", "2", "--steps", "4",
            "--chunk", "2"]
    assert main(args) == 130
    # The step reached is saved on Ctrl-C (not only the backup of the last whole chunk, step 2).
    one_error_line(capsys, model, "stopped at step 3; last checkpoint at step 3; run the same command to continue")
    assert json.loads((model / "faceswap.json").read_text())["steps"] == 3
    assert not (model / "backup").exists()  # older than the saved model: removed
    monkeypatch.undo()
    assert main(args) == 0  # the same command continues and finishes: --steps is the total
    assert json.loads((model / "faceswap.json").read_text())["steps"] == 4


def test_ctrl_c_before_a_step_saves_nothing(faces, tmp_path, capsys, monkeypatch):
    from faceswap_lib import training

    def interrupt_at_once(self, logs=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(training._StepWatch, "on_train_begin", interrupt_at_once)
    model = tmp_path / "m"
    assert main(["train", str(faces[0]), str(faces[1]), str(model), *TRAIN]) == 130
    one_error_line(capsys, model, "stopped at step 0; last checkpoint at step 0")
    assert not (model / "faceswap.json").exists()


def test_ctrl_c_during_convert_keeps_the_earlier_output(trained, tmp_path, capsys, monkeypatch):
    from faceswap_lib import convert as convert_module

    clip = moving_clip(tmp_path / "clip.avi", n=4)
    out = tmp_path / "swapped.mp4"
    assert main(["convert", str(clip), str(trained), str(out)]) == 0
    capsys.readouterr()
    before = snapshot(tmp_path)
    real, calls = convert_module.swap_face, []

    def interrupt_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(convert_module, "swap_face", interrupt_on_second)
    assert main(["convert", str(clip), str(trained), str(out)]) == 130
    one_error_line(capsys, clip, "interrupted at frame 1")
    assert snapshot(tmp_path) == before


# --- 5, 6. convert's output name and every numeric option ----------------------------------------------

def test_convert_refuses_an_output_that_is_not_a_video_name(trained, tmp_path, capsys):
    clip = moving_clip(tmp_path / "clip.avi", n=2)
    for name in ("out.png", "out", "out.jpg"):
        assert main(["convert", str(clip), str(trained), str(tmp_path / name)]) == 2
        one_error_line(capsys, tmp_path / name, "not a video file name")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.avi"]


@pytest.mark.parametrize("command,option,value", [
    ("convert", "--max-frames", "0"), ("convert", "--max-frames", "-1"), ("convert", "--every-nth", "0"),
    ("extract", "--max-frames", "0"), ("extract", "--every-nth", "-1"), ("extract", "--size", "0"),
    ("train", "--steps", "0"), ("train", "--batch-size", "0"), ("train", "--size", "-1"), ("train", "--chunk", "0"),
    ("train", "--preview-every", "-1"), ("train", "--seed", "-1"),
])
def test_every_numeric_option_is_checked_first(command, option, value, tmp_path, capsys):
    args = {"convert": ["convert", "clip.mp4", "model", "out.mp4"], "extract": ["extract", "clip.mp4", "out"],
            "train": ["train", "fa", "fb", "model"]}[command]
    assert main(args + [option, value]) == 2
    line = one_error_line(capsys, option)  # an option error names the option in the file slot, as sr_lib's do
    minimum = "at least 32" if (command, option) == ("extract", "--size") else None
    assert (minimum in line) if minimum else (">= 1" in line or ">= 0" in line), line


# --- 7. --mask on a model trained without one ------------------------------------------------------------

def test_train_refuses_mask_on_a_model_without_one(faces, trained, capsys):
    before = snapshot(trained)
    assert main(["train", str(faces[0]), str(faces[1]), str(trained), *TRAIN, "--mask"]) == 2
    one_error_line(capsys, trained, "mask mismatch")
    assert snapshot(trained) == before


# --- 9. a size mismatch names every clip of the folder -----------------------------------------------------

def test_extract_size_mismatch_names_every_clip(tmp_path, capsys):
    out = tmp_path / "faces"
    a, b = moving_clip(tmp_path / "d6.avi", n=1), moving_clip(tmp_path / "d14.avi", n=1, flip=True)
    extract(a, out, size=64, progress=False)
    extract(b, out, size=64, progress=False)
    assert main(["extract", str(a), str(out), "--size", "128"]) == 2
    line = one_error_line(capsys, out / ALIGNMENTS_FILE)
    assert "d14, d6" in line


# --- 8. a successful run prints nothing on stderr ------------------------------------------------------------

def test_train_and_convert_print_nothing_on_stderr(faces, tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "faceswap_lib", *map(str, args)], capture_output=True,
                              text=True, timeout=600)

    model = tmp_path / "m"
    result = run("train", faces[0], faces[1], model, *TRAIN)
    # Only the two warnings that 3 faces per person are too few for a real swap.
    lines = result.stderr.splitlines()
    assert result.returncode == 0 and len(lines) == 2, result.stderr
    assert all(line.startswith("warning: ") and "only 3 faces of person" in line for line in lines), result.stderr
    result = run("convert", moving_clip(tmp_path / "clip.avi", n=2), model, tmp_path / "out.mp4")
    assert result.returncode == 0 and result.stderr == "", result.stderr
