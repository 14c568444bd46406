"""python -m faceswap_lib: help, clear errors, and extract -> train -> convert end to end on tiny data."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from faceswap_lib.__main__ import CONSENT, main


def test_help_shows_commands_and_consent():
    result = subprocess.run([sys.executable, "-m", "faceswap_lib", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for word in ("extract", "train", "convert"):
        assert word in result.stdout
    assert " ".join(CONSENT.split()) in " ".join(result.stdout.split())  # the consent note, as the epilog
    with pytest.raises(SystemExit) as exit_info:
        main(["convert", "--help"])
    assert exit_info.value.code == 0


def test_clear_errors(tmp_path, capsys):
    assert main(["convert", str(tmp_path / "v.mp4"), str(tmp_path / "no_model"), str(tmp_path / "o.mp4")]) == 2
    assert "model folder not found" in capsys.readouterr().err
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert main(["train", str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "m")]) == 2
    assert "alignments.json" in capsys.readouterr().err
    assert main(["extract", str(tmp_path / "missing.mp4"), str(tmp_path / "x")]) == 2
    assert "video file not found" in capsys.readouterr().err
    assert main(["extract", str(tmp_path / "missing.mp4"), str(tmp_path / "x"), "--size", "0"]) == 2
    assert "--size" in capsys.readouterr().err


def test_extract_without_a_face_says_so(tmp_path, capsys):
    path = tmp_path / "blank.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 96))
    for _ in range(3):
        writer.write(np.full((96, 96, 3), 90, np.uint8))
    writer.release()
    assert main(["extract", str(path), str(tmp_path / "out")]) == 2
    assert "no face found" in capsys.readouterr().err


def _read_video(path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return frames
        frames.append(frame)


def test_end_to_end_extract_train_convert(mirror, tmp_path, capsys):
    videos = mirror / "faces" / "videos"
    for name in ("d6", "d14"):
        assert main(["extract", str(videos / f"{name}.mp4"), str(tmp_path / name), "--size", "64", "--max-frames", "6"]) == 0
    model_dir = tmp_path / "model"
    train = ["train", str(tmp_path / "d6"), str(tmp_path / "d14"), str(model_dir), "--size", "32",
             "--batch-size", "2", "--chunk", "1", "--preview-every", "2"]
    assert main(train + ["--steps", "2"]) == 0
    assert (model_dir / "faceswap.weights.h5").is_file() and (model_dir / "previews" / "preview_0000002.png").is_file()
    assert not (model_dir / "backup").exists()  # BackupAndRestore cleans up after a finished run
    # Resumable: --steps is the total, so a second call with a larger total continues to it.
    assert main(train + ["--steps", "3"]) == 0
    settings = json.loads((model_dir / "faceswap.json").read_text())
    assert settings["steps"] == 3
    # The recipe's defaults (issue 20): Adam 3e-4 and the tight crop, the 40 px centre of a 64 px
    # extract (padding 0.25 -> 0.1); convert and score cut frames with the recorded crop.
    assert settings["learning_rate"] == 3e-4 and settings["crop_size"] == 40
    assert settings["padding"] == pytest.approx(0.1) and settings["model"]["priority_weight"] == 0
    capsys.readouterr()
    assert main(train + ["--steps", "3"]) == 0  # finished: says so in one line, trains nothing
    assert "already trained to step 3 (--steps 3 is the total)" in capsys.readouterr().out
    assert json.loads((model_dir / "faceswap.json").read_text())["steps"] == 3
    assert main(train[:-4] + ["--size", "64", "--steps", "1"]) == 2
    assert "size mismatch" in capsys.readouterr().err

    out = tmp_path / "swapped.mp4"
    assert main(["convert", str(videos / "d6.mp4"), str(model_dir), str(out), "--direction", "a2b", "--max-frames", "4"]) == 0
    frames = _read_video(out)
    assert len(frames) == 4 and frames[0].shape == (480, 480, 3)  # d6 is 480 x 480
    # Every swapped frame carries the label: white text in the bottom-left corner, none elsewhere.
    corner = frames[0][-40:, :120]
    assert (corner.min(axis=2) > 200).sum() > 20
    preview = cv2.imread(str(tmp_path / "swapped_preview.png"))
    assert preview is not None and preview.shape[1] == 2 * 480
    assert main(["convert", str(videos / "d14.mp4"), str(model_dir), str(tmp_path / "b2a.mp4"), "--direction", "b2a",
                 "--max-frames", "2", "--no-synthetic-label", "--blend", "feathered", "--color", "histogram"]) == 0
    unlabelled = _read_video(tmp_path / "b2a.mp4")
    assert len(unlabelled) == 2
    original = next(iter(_read_video(videos / "d14.mp4")))
    # No label: the corner is the original picture (up to mp4 compression), not a black box.
    assert np.abs(unlabelled[0][-40:, :120].astype(float) - original[-40:, :120]).mean() < 8


def test_option_errors_name_the_option_and_extract_size_has_a_minimum(tmp_path, capsys):
    """An option's bad value is ``error: --option: ...`` (as in python -m sr_lib), not the program's
    name; extract --size below 32 px (the smallest model input) is refused, and --help says so."""
    from faceswap_lib.recipe import MIN_EXTRACT_SIZE

    assert MIN_EXTRACT_SIZE == 32
    assert main(["extract", str(tmp_path / "clip.mp4"), str(tmp_path / "x"), "--size", "1"]) == 2
    assert capsys.readouterr().err == "error: --size: must be at least 32 (the smallest model input), got 1\n"
    assert main(["train", str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "m"), "--steps", "0"]) == 2
    assert capsys.readouterr().err == "error: --steps: must be >= 1, got 0\n"
    assert main(["convert", "clip.mp4", "m", "o.mp4", "--start", "-1"]) == 2
    assert capsys.readouterr().err.startswith("error: --start: must be >= 0")
    with pytest.raises(SystemExit):
        main(["extract", "--help"])
    assert "at least 32" in " ".join(capsys.readouterr().out.split())
    from faceswap_lib.extract import extract

    with pytest.raises(ValueError, match=">= 32"):
        extract(tmp_path / "clip.mp4", tmp_path / "x", size=16, progress=False)
