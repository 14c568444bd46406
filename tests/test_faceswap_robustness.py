"""Issue 18: image forms in face detection, writes that never destroy, damaged clips, one error contract."""

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from faceswap_lib import identity, landmarks
from faceswap_lib.__main__ import main
from faceswap_lib.alignments import ALIGNMENTS_FILE, read_alignments
from faceswap_lib.extract import extract
from sr_lib.files import SameFileError, atomic_path, refuse_same_file, same_file
from faceswap_lib.video import ReadReport, VideoError, read_frames
from sr_lib.images import ImageRangeError, ImageTypeError

ROOT = Path(__file__).resolve().parents[1]


# --- 1. one image, many forms: the same boxes, landmarks and descriptors ---------------------------

LAYOUTS = ("hw", "hw1", "hw3", "hw4")
DTYPES = ("uint8", "uint16", "float32", "float64")


def as_form(gray8: np.ndarray, layout: str, dtype: str) -> np.ndarray:
    """The uint8 gray picture in another layout and dtype that means exactly the same values."""
    x = {"hw": gray8, "hw1": gray8[..., None], "hw3": np.repeat(gray8[..., None], 3, -1),
         "hw4": np.concatenate([np.repeat(gray8[..., None], 3, -1), np.full_like(gray8[..., None], 7)], -1)}[layout]
    if dtype == "uint16":
        return x.astype(np.uint16) * 257  # 255 -> 65535
    if dtype.startswith("float"):
        return x.astype(dtype) / 255
    return x


@pytest.fixture(scope="module", params=["astronaut", "dlib_faces"])
def photo(request):
    """A uint8 gray face photo and dlib's answer on it, computed with dlib directly (the reference)."""
    if request.param == "astronaut":
        rgb = skdata.astronaut()
    else:
        root = os.environ.get("SRFS_DATA_DIR")
        path = Path(root or "/nonexistent") / "faces" / "dlib_landmarks" / "2008_001322.jpg"
        if not path.is_file():
            pytest.skip("needs the offline data mirror (set SRFS_DATA_DIR)")
        rgb = cv2.imread(str(path))[..., ::-1]
    gray8 = np.round(rgb.astype(np.float64).mean(-1)).astype(np.uint8)
    pixels = np.ascontiguousarray(np.repeat(gray8[..., None], 3, -1))  # what dlib should see
    rects, scores, _ = landmarks._detector().run(pixels, 0, 0.0)
    boxes = sorted(((r.left(), r.top(), r.right(), r.bottom()) for r in rects),
                   key=lambda b: -(b[2] - b[0] + 1) * (b[3] - b[1] + 1))
    assert boxes, "the reference photo must show a face"
    import dlib

    predictor = landmarks._predictor(str(landmarks.default_model_path()))
    shape = predictor(pixels, dlib.rectangle(*boxes[0]))
    points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
    descriptor = np.asarray(identity.load_model().compute_face_descriptor(pixels, shape, 0))
    # embed_frame detects on a shrunk copy; its answer for the plain uint8 RGB array is the reference.
    frame = identity.embed_frame(pixels, fallback_landmarks=points)
    return {"gray8": gray8, "pixels": pixels, "boxes": boxes, "landmarks": points, "descriptor": descriptor,
            "embed_frame": frame}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_image_function_gives_the_same_answer_for_every_form(photo, layout, dtype):
    image = as_form(photo["gray8"], layout, dtype)
    np.testing.assert_array_equal(landmarks.to_uint8(image), photo["pixels"])
    assert [b for b, _ in landmarks.detect_boxes(image)] == photo["boxes"]
    faces = landmarks.detect(image)
    assert [f.box for f in faces] == photo["boxes"]
    np.testing.assert_array_equal(faces[0].landmarks, photo["landmarks"])
    np.testing.assert_array_equal(landmarks.predict_landmarks(image, photo["boxes"][0]), photo["landmarks"])
    np.testing.assert_allclose(identity.embed(image, photo["landmarks"]), photo["descriptor"], atol=1e-6)
    descriptor, found = identity.embed_frame(image, fallback_landmarks=photo["landmarks"])
    reference, reference_found = photo["embed_frame"]
    assert found == reference_found
    np.testing.assert_allclose(descriptor, reference, atol=1e-6)


def test_colour_dtypes_agree_and_rgba_drops_alpha():
    rgb8 = skdata.astronaut()
    reference = landmarks.detect(rgb8)
    assert len(reference) >= 1
    for image in (rgb8.astype(np.uint16) * 257, rgb8.astype(np.float32) / 255,
                  np.concatenate([rgb8, np.zeros_like(rgb8[..., :1])], -1)):  # alpha 0: still dropped
        faces = landmarks.detect(image)
        assert [f.box for f in faces] == [f.box for f in reference]
        np.testing.assert_array_equal(faces[0].landmarks, reference[0].landmarks)


@pytest.mark.parametrize("function", ["to_uint8", "detect_boxes", "detect", "predict_landmarks", "embed", "embed_frame"])
def test_images_that_are_not_images_raise_clear_errors(function):
    call = {
        "to_uint8": landmarks.to_uint8,
        "detect_boxes": landmarks.detect_boxes,
        "detect": landmarks.detect,
        "predict_landmarks": lambda im: landmarks.predict_landmarks(im, (10, 10, 50, 50)),
        "embed": lambda im: identity.embed(im, np.full((68, 2), 20.0)),
        "embed_frame": identity.embed_frame,
    }[function]
    frame_0_255 = skdata.astronaut()[:64, :64].astype(np.float32)  # 0..255 data in a float array
    with pytest.raises(ImageRangeError, match=r"0\.\.2|outside \[0, 1\]"):
        call(frame_0_255)
    with pytest.raises(ImageTypeError, match="int64"):
        call(np.zeros((64, 64, 3), np.int64))
    with pytest.raises(ValueError, match="shape"):
        call(np.zeros((64, 64, 2), np.uint8))


# --- 2. writes that never destroy --------------------------------------------------------------------

def test_same_file_sees_through_relative_paths_symlinks_and_hard_links(tmp_path, monkeypatch):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"x" * 10)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "link.mp4").symlink_to(clip)
    os.link(clip, tmp_path / "hard.mp4")
    for other in ("clip.mp4", "./sub/../clip.mp4", "link.mp4", "hard.mp4", str(clip)):
        assert same_file(other, clip), other
        with pytest.raises(SameFileError, match="refusing"):
            refuse_same_file(other, clip)
    assert not same_file("other.mp4", clip)
    refuse_same_file("other.mp4", clip)  # no error


def test_atomic_path_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "result.png"
    target.write_bytes(b"earlier result")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            assert temporary.parent == tmp_path and temporary.name.endswith("result.png")
            temporary.write_bytes(b"half")
            raise RuntimeError("disk full")
    assert target.read_bytes() == b"earlier result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.png"]  # no temporary left behind
    with atomic_path(target) as temporary:
        temporary.write_bytes(b"new")
    assert target.read_bytes() == b"new"


def moving_clip(path, n=8, fourcc="mp4v", size=256, flip=False, seed=0):
    """A clip of the astronaut's face, turned a little per frame (a real face for the detector)."""
    rng = np.random.default_rng(seed)
    photo = cv2.resize(skdata.astronaut()[:260, 92:352], (size, size))[..., ::-1]
    if flip:
        photo = photo[:, ::-1]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10, (size, size))
    assert writer.isOpened()
    for _ in range(n):
        m = cv2.getRotationMatrix2D((size / 2, size / 2), rng.uniform(-8, 8), 1.0)
        writer.write(cv2.warpAffine(np.ascontiguousarray(photo), m, (size, size), borderMode=cv2.BORDER_REFLECT))
    writer.release()
    return Path(path)


def test_extract_merges_clips_into_one_folder(tmp_path):
    a = moving_clip(tmp_path / "a.avi", n=3, fourcc="MJPG")
    (tmp_path / "other").mkdir()
    b = moving_clip(tmp_path / "other" / "a.avi", n=2, fourcc="MJPG", flip=True)  # same stem, another clip
    out = tmp_path / "faces"
    first = extract(a, out, size=64, progress=False)
    second = extract(b, out, size=64, progress=False)
    assert (first.clip, second.clip) == ("a", "a-2")
    sidecar = read_alignments(out)
    assert sorted(sidecar["clips"]) == ["a", "a-2"]
    files = [f["file"] for f in sidecar["faces"]]
    assert len(files) == len(set(files)) == 5  # no frame of one clip replaced one of the other
    assert sorted(p.name for p in out.glob("*.png")) == sorted(files)
    assert {f["video"] for f in sidecar["faces"]} == {"a", "a-2"}
    # Extracting the first clip again replaces its own entries only, and removes its stale crops.
    again = extract(a, out, size=64, max_frames=1, progress=False)
    assert again.clip == "a"
    sidecar = read_alignments(out)
    assert sorted(f["file"] for f in sidecar["faces"]) == ["a-2_000000.png", "a-2_000001.png", "a_000000.png"]
    assert sorted(p.name for p in out.glob("*.png")) == ["a-2_000000.png", "a-2_000001.png", "a_000000.png"]
    # Another crop size cannot join the folder: refused, the sidecar unchanged.
    before = (out / ALIGNMENTS_FILE).read_bytes()
    with pytest.raises(ValueError, match="size 64"):
        extract(moving_clip(tmp_path / "c.avi", n=1, fourcc="MJPG"), out, size=32, progress=False)
    assert (out / ALIGNMENTS_FILE).read_bytes() == before


def test_extract_reads_and_upgrades_the_one_clip_format(tmp_path):
    out = tmp_path / "faces"
    extract(moving_clip(tmp_path / "old.avi", n=2, fourcc="MJPG"), out, size=64, progress=False)
    new = json.loads((out / ALIGNMENTS_FILE).read_text())
    clip = new["clips"]["old"]
    old = {"format": "faceswap_lib.alignments/1", **{k: v for k, v in clip.items() if k not in ("frame_count", "undecodable_frames")},
           "size": 64, "padding": new["padding"], "faces": [{k: v for k, v in f.items() if k != "video"} for f in new["faces"]]}
    (out / ALIGNMENTS_FILE).write_text(json.dumps(old))
    sidecar = read_alignments(out)
    assert sidecar["video"] == "old.avi" and [f["video"] for f in sidecar["faces"]] == ["old", "old"]
    extract(moving_clip(tmp_path / "new.avi", n=1, fourcc="MJPG"), out, size=64, progress=False)
    merged = read_alignments(out)
    assert sorted(merged["clips"]) == ["new", "old"] and len(merged["faces"]) == 3


def test_extract_refuses_a_broken_sidecar_and_leaves_it(tmp_path):
    out = tmp_path / "faces"
    out.mkdir()
    (out / ALIGNMENTS_FILE).write_text("{not json")
    with pytest.raises(ValueError, match="alignments.json"):
        extract(moving_clip(tmp_path / "a.avi", n=1, fourcc="MJPG"), out, size=64, progress=False)
    assert (out / ALIGNMENTS_FILE).read_text() == "{not json"


# --- 3. damaged clips: read past the damage, say what was lost ----------------------------------

def damage(path: Path, n_bytes: int = 4000, seed: int = 0) -> Path:
    """Overwrite ``n_bytes`` in the middle of the file with random bytes (a damaged download)."""
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2
    raw[middle - n_bytes // 2: middle + n_bytes // 2] = np.random.default_rng(seed).integers(0, 256, n_bytes, dtype=np.uint8).tobytes()
    damaged = path.with_name("damaged_" + path.name)
    damaged.write_bytes(bytes(raw))
    return damaged


@pytest.fixture
def damaged_clip(tmp_path):
    clean = moving_clip(tmp_path / "clip.mp4", n=8)
    return clean, damage(clean)


def test_read_frames_goes_past_damage_and_reports_it(damaged_clip):
    clean, damaged = damaged_clip
    capture = cv2.VideoCapture(str(damaged))
    naive = 0
    while capture.read()[0]:  # what a plain read loop gets: it stops at the first bad frame
        naive += 1
    capture.release()
    report = ReadReport()
    indices = [i for i, _ in read_frames(damaged, report=report)]
    assert report.frame_count == 8
    assert report.decoded == len(indices) and report.decoded > naive
    assert 0 < len(report.undecodable) and report.decoded + len(report.undecodable) == 8
    assert sorted(indices + report.undecodable) == list(range(8))  # each frame is read or named as lost
    assert f"read {report.decoded} of 8 frames: {len(report.undecodable)} could not be decoded" in report.message()
    # Well before the damage the frames are the clean clip's, exactly (the frame just before the
    # first lost one may hold some of the damaged bytes itself).
    clean_frames = dict(read_frames(clean))
    assert report.undecodable[0] >= 2
    for index, frame in read_frames(damaged):
        if index < report.undecodable[0] - 1:
            np.testing.assert_array_equal(frame, clean_frames[index])
    clean_report = ReadReport()
    assert len(list(read_frames(clean, report=clean_report))) == 8 and clean_report.complete


def run_cli(*args, cwd=None):
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "faceswap_lib", *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=env)


def test_extract_of_a_damaged_clip_reports_lost_frames(damaged_clip, tmp_path):
    _, damaged = damaged_clip
    result = run_cli("extract", damaged, tmp_path / "out", "--size", "64")
    assert result.returncode == 0, result.stderr
    lost = read_alignments(tmp_path / "out")["undecodable_frames"]
    read = read_alignments(tmp_path / "out")["frames_read"]
    assert lost and read + len(lost) == 8
    assert f"{len(lost)} undecodable frames skipped" in result.stdout
    assert result.stderr.strip() == (f"warning: {damaged}: read {read} of 8 frames: {len(lost)} could not be decoded "
                                      f"(frames {', '.join(map(str, lost))}) and were skipped")


def test_a_clip_with_no_decodable_frame_is_an_error(tmp_path):
    clip = moving_clip(tmp_path / "clip.mp4", n=8)
    raw = bytearray(clip.read_bytes())
    # Keep the container's header and index (up to the "mdat" tag, the last 1,000 bytes), zero every frame.
    start = raw.index(b"mdat") + 4
    raw[start:-1000] = bytes(len(raw) - 1000 - start)
    clip.write_bytes(bytes(raw))
    with pytest.raises(VideoError, match="clip.mp4"):
        list(read_frames(clip))
    result = run_cli("extract", clip, tmp_path / "out")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.strip()] and result.stderr.startswith(f"error: {clip}: ")


# --- 4. one error contract, and convert never destroys -----------------------------------------------

@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from faceswap_lib.models import faceswap_autoencoder
    from faceswap_lib.training import save_model

    folder = tmp_path_factory.mktemp("model")
    save_model(faceswap_autoencoder(32), folder, {"model": {"size": 32}, "steps": 0, "padding": 0.3, "crop_size": 64})
    return folder


def assert_one_error_line(result, file):
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {file}: "), lines[0]


def test_convert_refuses_to_overwrite_its_input_however_it_is_named(tmp_path, tiny_model):
    clip = moving_clip(tmp_path / "clip.mp4", n=2)
    before = clip.read_bytes()
    (tmp_path / "link.mp4").symlink_to(clip)
    os.link(clip, tmp_path / "hard.mp4")
    for out in ("clip.mp4", str(clip), "./x/../clip.mp4", "link.mp4", "hard.mp4", tiny_model / "faceswap.weights.h5"):
        result = run_cli("convert", "clip.mp4", tiny_model, out, cwd=tmp_path)
        assert_one_error_line(result, out)
        assert "refusing to overwrite" in result.stderr
        assert clip.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "hard.mp4", "link.mp4"]  # nothing else written


def test_a_failed_convert_keeps_the_earlier_output(tmp_path, tiny_model, capsys):
    clip = moving_clip(tmp_path / "clip.mp4", n=3)
    out = tmp_path / "swapped.mp4"
    assert main(["convert", str(clip), str(tiny_model), str(out)]) == 0
    earlier, preview = out.read_bytes(), (tmp_path / "swapped_preview.png").read_bytes()
    # A broken model folder: refused before the output is touched.
    broken = tmp_path / "broken_model"
    broken.mkdir()
    (broken / "faceswap.json").write_text((tiny_model / "faceswap.json").read_text())
    (broken / "faceswap.weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(500))
    capsys.readouterr()
    assert main(["convert", str(clip), str(broken), str(out)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {broken / 'faceswap.weights.h5'}: cannot load the weights")
    # A clip without a face fails after the whole run: the earlier video and preview stay.
    blank = tmp_path / "blank.mp4"
    writer = cv2.VideoWriter(str(blank), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 64))
    for _ in range(3):
        writer.write(np.full((64, 64, 3), 90, np.uint8))
    writer.release()
    assert main(["convert", str(blank), str(tiny_model), str(out)]) == 2
    assert "no face found" in capsys.readouterr().err
    assert out.read_bytes() == earlier and (tmp_path / "swapped_preview.png").read_bytes() == preview
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".~tmp")) == []


def test_convert_of_a_damaged_clip_reports_lost_frames(damaged_clip, tmp_path, tiny_model, capsys):
    _, damaged = damaged_clip
    out = tmp_path / "swapped.mp4"
    assert main(["convert", str(damaged), str(tiny_model), str(out)]) == 0
    captured = capsys.readouterr()
    report = ReadReport()
    list(read_frames(damaged, report=report))
    n_lost = len(report.undecodable)
    assert n_lost > 0 and f"{n_lost} undecodable frames skipped" in captured.out
    assert captured.err.strip().startswith(f"warning: {damaged}: read {report.decoded} of 8 frames")
    assert len(list(read_frames(out))) == report.decoded


@pytest.mark.parametrize("case", ["text as video", "missing video", "output folder is a file", "corrupt weights",
                                  "model folder is a file", "corrupt alignments", "corrupt settings", "usage"])
def test_every_cli_error_is_one_line_naming_the_file(case, tmp_path, tiny_model):
    text = tmp_path / "notes.mp4"
    text.write_text("this is a text file, not a video\n" * 40)
    clip = moving_clip(tmp_path / "clip.mp4", n=2)
    if case == "text as video":
        file, args = text, ("extract", text, tmp_path / "out")
    elif case == "missing video":
        file, args = tmp_path / "missing.mp4", ("extract", tmp_path / "missing.mp4", tmp_path / "out")
    elif case == "output folder is a file":
        file, args = text, ("extract", clip, text)
    elif case == "corrupt weights":
        broken = tmp_path / "model"
        broken.mkdir()
        (broken / "faceswap.json").write_text((tiny_model / "faceswap.json").read_text())
        (broken / "faceswap.weights.h5").write_bytes(os.urandom(3000))
        file, args = broken / "faceswap.weights.h5", ("convert", clip, broken, tmp_path / "o.mp4")
    elif case == "corrupt settings":
        broken = tmp_path / "model"
        broken.mkdir()
        (broken / "faceswap.json").write_text("{\"format\": 3")
        file, args = broken / "faceswap.json", ("convert", clip, broken, tmp_path / "o.mp4")
    elif case in ("model folder is a file", "corrupt alignments"):
        faces, faces_b = tmp_path / "faces", tmp_path / "faces_b"
        extract(clip, faces, size=64, progress=False)
        extract(clip, faces_b, size=64, progress=False)  # one folder as both persons is refused
        if case == "model folder is a file":
            file, args = text, ("train", faces, faces_b, text, "--size", "32", "--steps", "1")
        else:
            (faces / ALIGNMENTS_FILE).write_text("[1, 2")
            file, args = faces / ALIGNMENTS_FILE, ("train", faces, faces_b, tmp_path / "m", "--size", "32", "--steps", "1")
    else:
        file, args = "python -m faceswap_lib extract", ("extract", clip)
    result = run_cli(*args)
    assert_one_error_line(result, file)
    if case == "text as video":
        assert text.read_text().startswith("this is a text file")
