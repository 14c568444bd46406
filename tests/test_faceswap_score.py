"""The swap score on cases with known answers: a real target frame scores as the target, a blurred
face fails sharpness, a closed mouth against an open-mouth source fails expression; and the
``score`` command (one table, JSON written atomically, errors in one line before TensorFlow)."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from faceswap_lib import expression as E
from faceswap_lib import score as S
from faceswap_lib.align import template_points
from faceswap_lib.landmarks import detect
from faceswap_lib.synthetic import astronaut_head


def test_openings_are_gaps_over_the_interocular_distance():
    face = np.concatenate([np.zeros((17, 2)), template_points(200)])  # 51 points 17-67 of the mean face
    base = E.mouth_opening(face)
    opened = face.copy()
    opened[65:68, 1] += 10  # lower inner lip 10 px down
    io = E.interocular_distance(face)
    assert E.mouth_opening(opened) == pytest.approx(base + 10 / io, rel=0.02)
    shut = face.copy()
    shut[[37, 38, 43, 44]] = shut[[41, 40, 47, 46]]  # upper lids onto the lower ones
    assert E.eye_opening(shut) == pytest.approx(0.0, abs=1e-9)
    assert E.eye_opening(face) > 0.05  # the mean face: 0.097
    assert E.mouth_opening(face * 3) == pytest.approx(base) and E.eye_opening(face * 3) == pytest.approx(E.eye_opening(face))
    with pytest.raises(ValueError, match="68, 2"):
        E.mouth_opening(face[:51])


def test_a_blurred_face_loses_sharpness_a_darker_one_does_not():
    head = astronaut_head(480)
    points = detect(head, detect_size=256)[0].landmarks
    real = S.sharpness(*S.analysis_crop(head, points))
    blurred = S.sharpness(*S.analysis_crop(cv2.GaussianBlur(head, (0, 0), 6), points))
    darker = S.sharpness(*S.analysis_crop(head * 0.6, points))
    assert blurred / real < S.Thresholds().sharpness < 1
    assert darker / real == pytest.approx(1, abs=0.05)  # contrast divided out (8-bit rounding aside)


@pytest.fixture(scope="module")
def clip_faces():
    """Measured real faces of the course clips: d6 (person A) and d14 (person B)."""
    from sr_lib.data import registry

    if not registry.is_available("face_clips"):  # never downloads
        if os.environ.get("SRFS_REQUIRE_MIRROR") == "1":
            pytest.fail("SRFS_REQUIRE_MIRROR=1 but the face clips are not in the mirror")
        pytest.skip("needs the face clips (set SRFS_DATA_DIR to the data mirror)")
    from faceswap_lib.video import read_frames

    root = registry.fetch("face_clips", progress=False) / registry.DATASETS["face_clips"].prefix
    wanted = {"d6": (0, 300, 600, 992, 1000), "d14": (0, 150, 300, 450)}
    frames = {(name, i): f for name, indices in wanted.items()
              for i, f in read_frames(root / f"{name}.mp4") if i in indices}
    return {key: S.measure(frame) for key, frame in frames.items()}, frames


def test_a_real_target_frame_scores_as_the_target_and_blur_fails_sharpness(clip_faces):
    faces, frames = clip_faces
    reference = S.make_reference([faces["d14", i] for i in (0, 150, 300)], [faces["d6", i] for i in (0, 300, 600)])
    real = faces["d14", 450]  # not among the references
    result = S.score_faces([real], [real], reference)
    frame, summary = result["frames"][0], result["summary"]
    assert frame["identity"] and frame["expression"] and frame["sharp"] and frame["success"]
    assert summary["distance_target"] < S.SAME_PERSON_DISTANCE < summary["distance_source"]
    assert 0.5 < summary["sharpness_ratio"] < 2
    if S.lpips_available()[0]:
        assert 0 < summary["lpips"] < 0.3  # against another real frame of the same person
    else:
        assert summary["lpips"] is None and "LPIPS skipped" in summary["lpips_note"]

    blurred = S.measure(cv2.GaussianBlur(frames["d14", 450], (0, 0), 6), fallback=real.landmarks)
    frame = S.score_faces([real], [blurred], reference, lpips=False)["frames"][0]
    assert not frame["sharp"] and not frame["success"]
    assert frame["identity"]  # blur alone keeps the identity: why identity is not enough


def test_a_closed_mouth_against_an_open_mouth_source_fails_expression(clip_faces):
    faces, _ = clip_faces
    reference = S.make_reference([faces["d14", i] for i in (0, 150)], [faces["d6", i] for i in (300, 600)])
    laughing, also_laughing, closed = faces["d6", 992], faces["d6", 1000], faces["d6", 0]
    assert laughing.mouth - closed.mouth > 0.3  # measured: 0.51 against 0.00
    # The "swapped" faces are d6's own (like the blur control): their eye change is measured from d6's rest.
    result = S.score_faces([laughing, laughing], [closed, also_laughing], reference, lpips=False,
                           swapped_person="source")
    assert [f["expression"] for f in result["frames"]] == [False, True]
    assert result["summary"]["mouth_difference"] > S.Thresholds().mouth / 2


def test_eye_shape_is_identity_not_expression(clip_faces):
    """d14's open eyes measure narrower than d6's (eye shape). A d14 face with its eyes as d14 has them,
    swapped from a d6 frame with d6's eyes open as usual, keeps the expression: it passes, while a
    raw comparison of the two openings would call it a change."""
    faces, _ = clip_faces
    reference = S.make_reference([faces["d14", i] for i in (0, 150, 300)], [faces["d6", i] for i in (0, 300, 600)])
    assert reference.source_eyes - reference.target_eyes > 0.01  # measured: about 0.16 against 0.13
    source, swapped = faces["d6", 300], faces["d14", 450]
    frame = S.score_faces([source], [swapped], reference, lpips=False)["frames"][0]
    moved = abs((swapped.eyes - reference.target_eyes) - (source.eyes - reference.source_eyes))
    assert moved < abs(swapped.eyes - source.eyes)
    assert frame["expression"] == (moved <= S.Thresholds().eyes and abs(swapped.mouth - source.mouth) <= 0.10)
    with pytest.raises(ValueError, match="swapped_person"):
        S.score_faces([source], [swapped], reference, lpips=False, swapped_person="B")


def test_expression_coverage_is_the_share_of_source_expressions_the_target_shows():
    # A target whose mouth stays shut (openings 0.00-0.02) and whose eyes are open (0.15):
    target_mouth, target_eyes = np.linspace(0, 0.02, 50), np.full(50, 0.15)
    source_mouth = np.array([0.0, 0.05, 0.12, 0.30, 0.50])  # shut, slightly open, talking, laughing
    cover = S.expression_coverage(source_mouth, np.full(5, 0.15), target_mouth, target_eyes)
    # reachable within 0.10 of some target mouth (<= 0.12) and 0.05 of some target eye opening
    assert cover["reachable_frames"] == [True, True, True, False, False] and cover["reachable"] == 0.6
    assert cover["target_faces"] == 50 and cover["target_mouth_max"] == pytest.approx(0.02)
    assert cover["mouth_moves"]
    # Eyes as changes from rest: frames that shut eyes open at 0.15 at rest; the target never shuts its eyes.
    shut_eyes = S.expression_coverage(source_mouth, np.full(5, 0.03), target_mouth, target_eyes, source_eyes_rest=0.15)
    assert shut_eyes["reachable"] == 0.0
    # Narrower eyes at rest (0.10 against 0.15) are eye shape, not an expression: all reachable as before.
    narrow = S.expression_coverage(source_mouth, np.full(5, 0.15), target_mouth, target_eyes - 0.05)
    assert narrow["reachable_frames"] == cover["reachable_frames"]
    still = S.expression_coverage(np.full(5, 0.01) + np.arange(5) * 1e-3, np.full(5, 0.15), target_mouth, target_eyes)
    assert not still["mouth_moves"] and still["source_mouth_std"] < S.MOVING_MOUTH_STD
    for bad, name in (([], "target_mouth"), ([0.1, np.nan], "target_mouth"), ([-0.5, 0.1], "target_mouth"),
                      ([[0.1, 0.2]], "target_mouth")):
        with pytest.raises(ValueError, match=name):
            S.expression_coverage(source_mouth, np.full(5, 0.15), bad, np.full(np.size(bad), 0.15))
    with pytest.raises(ValueError, match="source_mouth"):
        S.expression_coverage([], [], target_mouth, target_eyes)
    with pytest.raises(ValueError, match="differ in length"):
        S.expression_coverage(source_mouth, np.full(4, 0.15), target_mouth, target_eyes)
    with pytest.raises(ValueError, match="source_eyes_rest"):
        S.expression_coverage(source_mouth, np.full(5, 0.15), target_mouth, target_eyes, source_eyes_rest=np.nan)


def test_the_course_target_never_laughs(clip_faces):
    """d14 (person B) keeps its mouth nearly shut in every training face, so d6 laughing is out of its
    reach: the ceiling the score reports, from the clips' own landmarks."""
    faces, _ = clip_faces
    laughing = faces["d6", 992]
    assert laughing.mouth > 0.4
    d14 = [faces["d14", i] for i in (0, 150, 300, 450)]
    assert max(f.mouth for f in d14) < 0.1
    cover = S.expression_coverage([laughing.mouth, faces["d6", 0].mouth], [laughing.eyes, faces["d6", 0].eyes],
                                  [f.mouth for f in d14], [f.eyes for f in d14])
    assert cover["reachable_frames"] == [False, True]


# --- the command line --------------------------------------------------------------------------

def test_score_errors_are_one_line_before_tensorflow(tmp_path):
    def run(*args):
        code = ("import sys; from faceswap_lib.__main__ import main; status = main(sys.argv[1:]); "
                "print('TF' if 'tensorflow' in sys.modules else 'noTF'); sys.exit(status)")
        result = subprocess.run([sys.executable, "-c", code, "score", *map(str, args)], capture_output=True,
                                text=True, timeout=120)
        assert result.stdout.strip() == "noTF" and len(result.stderr.splitlines()) == 1, result.stderr
        return result.returncode, result.stderr

    clip = tmp_path / "clip.avi"
    clip.write_bytes(b"not read before the model folder is checked")
    status, err = run(tmp_path / "missing.mp4", clip, tmp_path / "m")
    assert status == 2 and err.startswith(f"error: {tmp_path / 'missing.mp4'}: video file not found")
    status, err = run(clip, clip, tmp_path / "m")
    assert status == 2 and "model folder not found" in err
    model = tmp_path / "m"
    model.mkdir()
    (model / "faceswap.json").write_text(json.dumps({"format": "faceswap_lib.model/1", "model": {"size": 32},
                                                     "a": str(tmp_path), "b": str(tmp_path / "gone")}))
    status, err = run(clip, clip, model)
    assert status == 2 and "face folder not found" in err and "--target-faces" in err
    status, err = run(clip, clip, model, "--target-faces", tmp_path, "--json", clip)
    assert status == 2 and "refusing to overwrite" in err
    status, err = run(clip, clip, model, "--frames", "0")
    assert status == 2 and "--frames" in err


def test_score_command_end_to_end(tmp_path, capsys):
    """extract -> train --holdout -> convert -> score on two tiny stand-in clips (one photo: the
    numbers mean nothing, the plumbing is what is tested)."""
    from faceswap_lib.__main__ import main
    from faceswap_lib.extract import extract
    from faceswap_lib.synthetic import make_moving_clip

    head = astronaut_head(256)
    clips = {}
    for name, photo, seed in (("a", head, 0), ("b", head[:, ::-1, ::-1].copy(), 1)):
        clips[name] = make_moving_clip(photo, tmp_path / f"{name}.avi", 4, np.random.default_rng(seed), degrees=8,
                                       zoom=0, shift=0)
        extract(clips[name], tmp_path / f"f{name}", size=64, progress=False)
    model = tmp_path / "model"
    assert main(["train", str(tmp_path / "fa"), str(tmp_path / "fb"), str(model), "--size", "32", "--batch-size", "2",
                 "--steps", "1", "--holdout", "0.5"]) == 0
    swapped = tmp_path / "swapped.mp4"
    assert main(["convert", str(clips["a"]), str(model), str(swapped)]) == 0
    capsys.readouterr()
    out_json = tmp_path / "score.json"
    assert main(["score", str(clips["a"]), str(swapped), str(model), "--frames", "2", "--no-lpips",
                 "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "held-out frames (>= 2), never trained on" in out and "SWAP SUCCESS RATE" in out
    for column in ("swapped", "blur control", "source (real)"):
        assert column in out
    report = json.loads(out_json.read_text())
    assert report["frames"] == [2, 3] and report["held_out"] == "held out"
    assert set(report["rows"]) == {"swapped", "blur control", "source (real)"}
    assert report["rows"]["source (real)"]["summary"]["mouth_difference"] == 0
    assert len(report["rows"]["swapped"]["frames"]) == 2
    # Only the held-out tail converted (--start): frame k of the output is frame 2 + k of the clip.
    tail, tail_json = tmp_path / "tail.mp4", tmp_path / "tail.json"
    assert main(["convert", str(clips["a"]), str(model), str(tail), "--start", "2"]) == 0
    assert main(["score", str(clips["a"]), str(tail), str(model), "--start", "2", "--frames", "2", "--no-lpips",
                 "--no-control", "--json", str(tail_json)]) == 0
    tail_report = json.loads(tail_json.read_text())
    assert tail_report["frames"] == [2, 3] and tail_report["start"] == 2
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".~tmp-")] == []


def test_score_warns_when_the_swapped_clip_is_the_source(tmp_path, monkeypatch, capsys):
    """The same file (or a byte-identical copy) as source and swapped clip: one warning line, the
    identity score would measure nothing. TensorFlow is not needed to see it: its import is stopped."""
    import shutil

    import faceswap_lib.__main__ as cli

    def stop():
        raise RuntimeError("stopped before TensorFlow")

    monkeypatch.setattr(cli, "import_tensorflow_quietly", stop)
    clip, other = tmp_path / "clip.avi", tmp_path / "other.avi"
    clip.write_bytes(b"a clip")
    other.write_bytes(b"another clip")
    shutil.copyfile(clip, tmp_path / "copy.avi")
    model = tmp_path / "m"
    model.mkdir()
    (model / "faceswap.json").write_text(json.dumps({"format": "faceswap_lib.model/1", "model": {"size": 32},
                                                     "a": str(tmp_path), "b": str(tmp_path)}))
    for swapped, word in ((clip, "is the source clip"), (tmp_path / "copy.avi", "is byte-identical to the source")):
        assert cli.main(["score", str(clip), str(swapped), str(model)]) == 2
        warning, error = capsys.readouterr().err.splitlines()
        assert warning.startswith(f"warning: {swapped}: {word}") and "measures nothing" in warning, warning
        assert "stopped before TensorFlow" in error
    assert cli.main(["score", str(clip), str(other), str(model)]) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1  # only the error: no warning
