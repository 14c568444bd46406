"""faceswap_lib.alignments (the sidecar format, AlignedFace), landmarks.detect_faces' retry,
video.read_frames' start, video.to_bgr8 and sr_lib's write_image, and the shared recipe."""

import inspect
import json

import cv2
import numpy as np
import pytest

from faceswap_lib import align, alignments, landmarks, video
from faceswap_lib.alignments import AlignedFace


def _face(scale: float, size: int = 64) -> AlignedFace:
    """The mean face's landmarks as a face whose crop matrix scales by ``scale``."""
    template = align.template_points(size)  # (51, 2) points 17-67 in the crop
    points = np.zeros((68, 2))
    points[17:] = (template - 10.0) / scale
    points[:17] = points[17:34]  # the jaw plays no part in the matrix
    return AlignedFace.from_landmarks(points, size)


def test_aligned_face_interpolation_follows_the_matrix_scale():
    shrinking, enlarging = _face(0.5), _face(2.0)
    assert shrinking.scale == pytest.approx(0.5) and enlarging.scale == pytest.approx(2.0)
    assert shrinking.interpolation == cv2.INTER_AREA
    assert enlarging.interpolation == cv2.INTER_CUBIC
    assert alignments.interpolation_for(1.0) == cv2.INTER_CUBIC
    with pytest.raises(ValueError):
        alignments.interpolation_for(0.0)


def test_aligned_face_resize_matches_the_training_crops():
    face = _face(0.5, size=128)
    crop = np.random.default_rng(0).random((128, 128, 3)).astype(np.float32)
    small, small_face = face.resize(crop, 64)
    np.testing.assert_array_equal(small, cv2.resize(crop, (64, 64), interpolation=cv2.INTER_AREA))
    # Pixel centres: crop coordinate u becomes (u + 0.5) / 2 - 0.5 in the half-size crop.
    np.testing.assert_allclose(small_face.points, (face.points + 0.5) / 2 - 0.5, atol=1e-9)
    assert (small_face.size, small_face.padding) == (64, face.padding)
    same, same_face = face.resize(crop, 128)
    assert same is crop and same_face is face
    with pytest.raises(ValueError, match="128 x 128"):
        face.resize(crop[:100], 64)


def test_alignments_file_round_trip(tmp_path):
    face = {"file": "clip_000003.png", "video": "clip", "frame": 3, "box": [1, 2, 30, 40], "score": 1.5,
            "faces_in_frame": 1, "landmarks": np.arange(136.0).reshape(68, 2).tolist(),
            "matrix": [[0.5, 0.0, 1.0], [0.0, 0.5, 2.0]]}
    clip = {"video": "clip.mp4", "video_path": "/x/clip.mp4", "frames_without_face": [0, 1]}
    sidecar = {"format": alignments.FORMAT, "size": 256, "padding": 0.25, "clips": {"clip": clip}, "faces": [face]}
    path = tmp_path / alignments.ALIGNMENTS_FILE
    path.write_text(alignments.format_alignments(sidecar), encoding="utf-8")
    assert json.loads(path.read_text()) == sidecar  # valid JSON, one face per line
    assert len(path.read_text().splitlines()) == 9  # {, 4 header lines, "faces": [, the face, ], }
    back = alignments.read_alignments(tmp_path)  # the folder works too
    assert back["size"] == 256 and back["frames_without_face"] == [0, 1]  # one clip: its fields on top
    entry = back["faces"][0]
    assert entry["landmarks"].shape == (68, 2) and entry["matrix"].dtype == np.float64 and entry["box"] == (1, 2, 30, 40)
    record = AlignedFace.from_entry(entry, back["size"], back["padding"])
    assert record.scale == pytest.approx(0.5) and record.interpolation == cv2.INTER_AREA
    assert alignments.read_alignments(path, arrays=False)["faces"][0]["landmarks"] == face["landmarks"]


def test_alignments_old_format_and_refusals(tmp_path):
    old = {"format": alignments.OLD_FORMAT, "video": "d6.mp4", "size": 128, "padding": 0.25,
           "frames_without_face": [], "faces": [{"file": "d6_000000.png", "landmarks": [], "matrix": [], "box": []}]}
    (tmp_path / "old.json").write_text(json.dumps(old))
    data = alignments.read_alignments(tmp_path / "old.json", arrays=False)
    assert data["format"] == alignments.FORMAT and list(data["clips"]) == ["d6"] and data["faces"][0]["video"] == "d6"
    (tmp_path / "other.json").write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match="not a faceswap_lib alignments file"):
        alignments.read_alignments(tmp_path / "other.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        alignments.read_alignments(tmp_path / "broken.json")


def test_detect_faces_retries_at_full_size(monkeypatch):
    calls = []

    def fake_detect(image, *, upsample=0, detect_size=None, model_path=None):
        calls.append(detect_size)
        return ["face"] if detect_size is None else []

    monkeypatch.setattr(landmarks, "detect", fake_detect)
    big, small = np.zeros((512, 384, 3), np.uint8), np.zeros((200, 100, 3), np.uint8)
    assert landmarks.detect_faces(big, detect_size=256) == ["face"] and calls == [256, None]
    calls.clear()
    assert landmarks.detect_faces(small, detect_size=256) == [] and calls == [256]  # already small: one pass
    calls.clear()
    assert landmarks.detect_faces(big, detect_size=None) == ["face"] and calls == [None]


def _clip(path, n=7):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    for i in range(n):
        writer.write(np.full((24, 32, 3), 30 * i, np.uint8))
    writer.release()
    return path


def test_read_frames_start_and_every_nth(tmp_path):
    clip = _clip(tmp_path / "c.avi")
    assert [i for i, _ in video.read_frames(clip, start=2, every_nth=2)] == [2, 4, 6]
    assert [i for i, _ in video.read_frames(clip, start=1, every_nth=3, max_frames=1)] == [1]
    assert list(video.read_frames(clip, start=9)) == []
    with pytest.raises(ValueError, match="start"):
        next(video.read_frames(clip, start=-1))


def test_to_bgr8_uses_the_library_rounding_and_write_png(tmp_path):
    from sr_lib.images import to_uint8

    image = np.random.default_rng(1).random((5, 6, 3)).astype(np.float32)
    image[0, 0] = [0.5, 1.2, -0.3]  # 127.5 -> 128; overshoots clipped
    bgr = video.to_bgr8(image)
    assert bgr.dtype == np.uint8 and bgr.flags.c_contiguous
    assert bgr[0, 0].tolist() == [0, 255, 128]
    np.testing.assert_array_equal(bgr, to_uint8(np.clip(image, 0, 1))[..., ::-1])
    from sr_lib.data.io import write_image  # the one PNG writer, faceswap_lib's too

    path = write_image(tmp_path / "x.png", image)
    np.testing.assert_array_equal(cv2.imread(str(path)), bgr)
    uint8 = (image * 255).astype(np.uint8)
    np.testing.assert_array_equal(video.to_bgr8(uint8), uint8[..., ::-1])
    with pytest.raises(ValueError):
        video.to_bgr8(np.zeros((4, 4), np.float32))


def test_one_recipe_for_extract_train_and_the_command_line():
    from faceswap_lib.__main__ import _parser
    from faceswap_lib.extract import extract
    from faceswap_lib.recipe import RECIPE
    from faceswap_lib.training import train

    defaults = inspect.signature(train).parameters
    assert defaults["learning_rate"].default == RECIPE.learning_rate == 3e-4
    assert defaults["padding"].default == RECIPE.padding == 0.1
    assert (defaults["size"].default, defaults["batch_size"].default, defaults["steps"].default) == (
        RECIPE.size, RECIPE.batch_size, RECIPE.steps)
    args = _parser().parse_args(["train", "a", "b", "m"])
    assert (args.learning_rate, args.padding, args.size, args.batch_size, args.warp, args.priority_weight) == (
        RECIPE.learning_rate, RECIPE.padding, RECIPE.size, RECIPE.batch_size, RECIPE.warp, RECIPE.priority_weight)
    extract_defaults = inspect.signature(extract).parameters
    assert extract_defaults["size"].default == RECIPE.extract_size == _parser().parse_args(["extract", "v", "o"]).size
    assert extract_defaults["padding"].default == RECIPE.extract_padding == align.DEFAULT_PADDING
