"""faceswap_lib.video and faceswap_lib.extract: reading clips, and extraction end to end."""

import json

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from faceswap_lib import align
from faceswap_lib.alignments import ALIGNMENTS_FILE, read_alignments
from faceswap_lib.extract import extract
from faceswap_lib.video import VideoError, read_frames, video_info


def clip(mirror, name="d6.mp4"):
    return mirror / "faces" / "videos" / name


@pytest.fixture
def faces_and_blanks(tmp_path):
    """A 6-frame MJPG clip: astronaut, blank, astronaut, blank, ... (no mirror needed)."""
    path = tmp_path / "mixed.avi"
    photo = cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (512, 512))
    assert writer.isOpened()
    for i in range(6):
        writer.write(photo if i % 2 == 0 else np.full_like(photo, 40))
    writer.release()
    return path


def test_video_info_and_frames(mirror):
    info = video_info(clip(mirror))
    assert (info.frame_count, info.width, info.height, info.fps) == (1008, 480, 480, 30.0)
    frames = list(read_frames(clip(mirror), every_nth=3, max_frames=4))
    assert [i for i, _ in frames] == [0, 3, 6, 9]
    frame = frames[0][1]
    assert frame.shape == (480, 480, 3) and frame.dtype == np.float32
    assert 0 <= frame.min() and frame.max() <= 1 and frame.max() > 0.5
    index, as_uint8 = next(read_frames(clip(mirror), as_uint8=True))
    np.testing.assert_allclose(as_uint8 / 255, frame, atol=1e-6)  # same frame, RGB both ways


def test_unreadable_files_give_errors_naming_the_file(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not a video" * 50)
    with pytest.raises(VideoError, match="broken.mp4"):
        next(read_frames(broken))
    with pytest.raises(VideoError, match="broken.mp4"):
        extract(broken, tmp_path / "out", progress=False)
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        extract(tmp_path / "missing.mp4", tmp_path / "out", progress=False)
    with pytest.raises(ValueError, match="every_nth"):
        next(read_frames(broken, every_nth=0))


def test_frames_without_a_face_are_counted_and_skipped(faces_and_blanks, tmp_path):
    summary = extract(faces_and_blanks, tmp_path / "out", size=64, progress=False)
    assert (summary.frames_read, summary.faces_saved, summary.frames_without_face) == (6, 3, 3)
    sidecar = read_alignments(tmp_path / "out")
    assert [f["frame"] for f in sidecar["faces"]] == [0, 2, 4]
    assert sidecar["frames_without_face"] == [1, 3, 5]
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == [f["file"] for f in sidecar["faces"]]


def test_extract_end_to_end(mirror, tmp_path):
    size, padding, n = 128, 0.25, 10
    out = tmp_path / "d6"
    summary = extract(clip(mirror), out, size=size, padding=padding, max_frames=n, progress=False)
    assert (summary.frames_read, summary.faces_saved, summary.frames_without_face) == (n, n, 0)
    assert summary.seconds > 0 and summary.frames_per_second > 0

    raw = json.loads((out / ALIGNMENTS_FILE).read_text())
    assert raw["clips"]["d6"]["video"] == "d6.mp4" and raw["size"] == size and raw["padding"] == padding
    assert raw["clips"]["d6"]["frame_count"] == 1008 and raw["clips"]["d6"]["undecodable_frames"] == []
    sidecar = read_alignments(out)
    assert len(sidecar["faces"]) == n
    frames = dict(read_frames(clip(mirror), max_frames=n))
    template = align.template_points(size, padding)
    for face in sidecar["faces"]:
        assert face["landmarks"].shape == (68, 2) and face["matrix"].shape == (2, 3)
        # The matrix takes the inner landmarks onto the template, up to the face's own shape
        # (a few pixels: about 2 at this size on these clips).
        moved = align.transform_points(face["landmarks"][17:], face["matrix"])
        distance = np.linalg.norm(moved - template, axis=1).mean()
        assert distance < 0.03 * size, distance
        # ... and it is the matrix that made the crop: warping the frame again reproduces it.
        crop = cv2.imread(str(out / face["file"]))[..., ::-1].astype(np.float32) / 255
        assert crop.shape == (size, size, 3)
        again = cv2.warpAffine(frames[face["frame"]], face["matrix"], (size, size), borderMode=cv2.BORDER_REPLICATE)
        assert np.abs(again - crop).mean() < 2 / 255


def test_extracting_a_clip_again_is_refused_without_overwrite(tmp_path, capsys):
    """Re-extracting the clip a folder already holds would replace its faces (with another
    --max-frames, drop some): the command refuses it in one line, the folder untouched, unless
    --overwrite. Another clip is still merged in (extract's multi-clip folders)."""
    from faceswap_lib.__main__ import main
    from faceswap_lib.synthetic import astronaut_head, make_moving_clip

    head = astronaut_head(256)
    a = make_moving_clip(head, tmp_path / "a.avi", 2, np.random.default_rng(0), degrees=8, zoom=0, shift=0)
    b = make_moving_clip(head[:, ::-1], tmp_path / "b.avi", 1, np.random.default_rng(1), degrees=8, zoom=0, shift=0)
    out = tmp_path / "faces"
    assert main(["extract", str(a), str(out), "--size", "64"]) == 0
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["extract", str(a), str(out), "--size", "64", "--max-frames", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {out}: already holds 2 faces") and "--overwrite" in err, err
    assert len(err.splitlines()) == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert main(["extract", str(b), str(out), "--size", "64"]) == 0  # another clip: merged
    assert main(["extract", str(a), str(out), "--size", "64", "--max-frames", "1", "--overwrite"]) == 0
    assert sorted(f["file"] for f in read_alignments(out)["faces"]) == ["a_000000.png", "b_000000.png"]
    # Crops named like the clip's but not listed in the folder's alignments.json are not replaced either.
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "a_000000.png").write_bytes(b"someone's own picture")
    capsys.readouterr()
    assert main(["extract", str(a), str(stray), "--size", "64"]) == 2
    assert "already holds 1 face named like" in capsys.readouterr().err
    assert (stray / "a_000000.png").read_bytes() == b"someone's own picture"
