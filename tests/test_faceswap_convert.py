"""faceswap_lib.convert (colour, blending, label, paste back, video), faceswap_lib.masks and faceswap_lib.identity."""

import cv2
import numpy as np
import pytest
from skimage import color as skcolor
from skimage import data as skdata
from skimage import exposure

from faceswap_lib import align, convert, identity, masks


def test_hull_mask_of_a_square_and_a_triangle():
    square = np.array([[10, 10], [29, 10], [29, 29], [10, 29], [20, 20]])  # inner point ignored
    mask = masks.hull_mask(square, (40, 50))
    assert mask.shape == (40, 50) and mask.dtype == np.float32
    expected = np.zeros((40, 50), np.float32)
    expected[10:30, 10:30] = 1
    np.testing.assert_array_equal(mask, expected)
    triangle = np.array([[0.0, 0.0], [99.0, 0.0], [0.0, 99.0]])
    area = masks.hull_mask(triangle, (100, 100)).sum()
    assert area == pytest.approx(100 * 101 / 2, rel=0.02)  # pixels on or below the diagonal
    with pytest.raises(ValueError, match="3"):
        masks.hull_mask(square[:2], (40, 40))


def test_erode_and_feather():
    mask = np.zeros((60, 60), np.float32)
    mask[10:50, 10:50] = 1
    eroded = masks.erode_and_feather(mask, erode=3)
    expected = np.zeros_like(mask)
    expected[13:47, 13:47] = 1  # a square eroded by a disc is the square shrunk on every side
    np.testing.assert_array_equal(eroded, expected)
    soft = masks.erode_and_feather(mask, feather=2.0)
    assert soft.min() >= 0 and soft.max() <= 1
    assert soft.sum() == pytest.approx(mask.sum(), rel=1e-3)  # a blur moves mass, keeps it
    assert 0.4 < soft[30, 10] < 0.6 and soft[30, 30] == pytest.approx(1, abs=1e-4)  # the edge is a ramp
    with pytest.raises(ValueError):
        masks.erode_and_feather(mask, erode=-1)


def test_transfer_color_lab_matches_reference_statistics():
    rng = np.random.default_rng(0)
    source = (0.3 + 0.3 * rng.random((40, 40, 3))).astype(np.float32)
    reference = skdata.astronaut()[100:140, 200:240].astype(np.float32) / 255
    mask = np.zeros((40, 40), np.float32)
    mask[5:35, 5:35] = 1
    out = convert.transfer_color_lab(source, reference, mask)
    region = mask > 0.5
    lab_out, lab_ref = skcolor.rgb2lab(out)[region], skcolor.rgb2lab(reference)[region]  # independent conversion
    np.testing.assert_allclose(lab_out.mean(0), lab_ref.mean(0), atol=0.6)
    np.testing.assert_allclose(lab_out.std(0), lab_ref.std(0), atol=0.6, rtol=0.05)
    with pytest.raises(ValueError, match="differ"):
        convert.transfer_color_lab(source, reference[:20])
    with pytest.raises(ValueError, match="no pixel"):
        convert.transfer_color_lab(source, reference, np.zeros((40, 40)))


def test_match_histograms_agrees_with_skimage():
    source = skdata.chelsea()[:120, :120].astype(np.float32) / 255
    reference = skdata.astronaut()[:120, :120].astype(np.float32) / 255
    ours = convert.match_histograms(source, reference)
    theirs = exposure.match_histograms(source, reference, channel_axis=-1)
    np.testing.assert_allclose(ours, theirs, atol=2e-3)
    # With a mask, the masked pixels' histogram matches the reference's masked pixels.
    mask = np.zeros((120, 120), np.float32)
    mask[30:90, 30:90] = 1
    masked = convert.match_histograms(source, reference, mask)
    r = mask > 0.5
    # skimage on the masked pixels alone (as a 1 x n image) is the independent reference.
    theirs_masked = exposure.match_histograms(source[r][None], reference[r][None], channel_axis=-1)[0]
    np.testing.assert_allclose(masked[r], theirs_masked, atol=2e-3)
    np.testing.assert_array_equal(masked[~r] >= 0, True)  # the map applies to every pixel


def test_alpha_blend_closed_form():
    rng = np.random.default_rng(1)
    bg, fg = rng.random((2, 8, 9, 3), dtype=np.float32)
    alpha = rng.random((8, 9), dtype=np.float32)
    np.testing.assert_allclose(convert.alpha_blend(bg, fg, alpha), alpha[..., None] * fg + (1 - alpha[..., None]) * bg, atol=1e-6)
    with pytest.raises(ValueError, match="does not match"):
        convert.alpha_blend(bg, fg, alpha[:4])


def test_seamless_clone_keeps_outside_and_removes_an_offset():
    bg = skdata.astronaut()[:200, :200].astype(np.float32) / 255
    fg = np.clip(bg + 0.15, 0, 1)  # the same picture, brighter: identical gradients inside
    mask = np.zeros((200, 200), np.float32)
    mask[60:140, 50:150] = 1
    out = convert.seamless_clone(bg, fg, mask)
    outside = mask == 0
    np.testing.assert_allclose(out[outside], bg[outside], atol=1 / 255 + 1e-6)
    inner = np.zeros_like(outside)
    inner[70:130, 60:140] = True
    # Poisson blending takes the boundary from the background: the offset disappears.
    assert np.abs(out[inner] - bg[inner]).mean() < 0.02 < np.abs(fg[inner] - bg[inner]).mean()
    np.testing.assert_array_equal(convert.seamless_clone(bg, fg, np.zeros_like(mask)), bg)


@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_synthetic_label_is_small_visible_and_in_the_corner(dtype):
    frame = np.full((480, 640, 3), 0.5 if dtype == np.float32 else 128, dtype)
    out = convert.add_synthetic_label(frame)
    assert out.dtype == dtype and out.shape == frame.shape
    changed = np.any(out != frame, axis=2)
    ys, xs = np.nonzero(changed)
    assert ys.min() > 480 * 0.85 and xs.max() < 640 * 0.3  # bottom-left corner only
    assert changed.mean() < 0.02  # small
    white = 1.0 if dtype == np.float32 else 255
    assert (out == white).all(axis=2).sum() > 50  # visible white text on the black box
    np.testing.assert_array_equal(frame, np.full_like(frame, frame.flat[0]))  # input untouched


def test_paste_back_inverts_aligned_crop():
    # A smooth frame (a few slow waves): shrinking to 64 px and back loses nothing visible, so any
    # difference is a geometry error of the inverse warp.
    yy, xx = np.mgrid[0:512, 0:512] / 512
    frame = np.stack([0.5 + 0.4 * np.sin(2 * np.pi * xx), 0.5 + 0.4 * np.cos(3 * np.pi * yy),
                      0.5 + 0.3 * np.sin(2 * np.pi * (xx + yy))], axis=-1).astype(np.float32)
    points = align.template_points(200, 0.0) * 0.9 + [150, 120]  # a fake face, 180 px wide; crop inside
    landmarks = np.zeros((68, 2))
    landmarks[align.ALIGN_POINTS] = points
    crop, matrix = align.aligned_crop(frame, landmarks, 64)
    back = convert.paste_back(crop, matrix, frame.shape, interpolation=cv2.INTER_LINEAR)
    footprint = convert.paste_back(np.ones((64, 64, 1), np.float32), matrix, frame.shape)[..., 0]
    scale = align.matrix_parameters(matrix)["scale"]
    assert footprint.sum() == pytest.approx((64 / scale) ** 2, rel=0.03)
    inside = cv2.erode((footprint > 0.99).astype(np.uint8), np.ones((9, 9))) > 0
    assert np.abs(back[inside] - frame[inside]).max() < 0.002
    # The default (cubic) agrees too, away from the footprint's edge where it rings against the 0 border.
    inner = cv2.erode(inside.astype(np.uint8), np.ones((33, 33))) > 0
    assert np.abs(convert.paste_back(crop, matrix, frame.shape)[inner] - frame[inner]).max() < 0.005
    assert (back[footprint == 0] == 0).all()


def test_open_writer_writes_a_readable_mp4(tmp_path):
    writer, path = convert.open_writer(tmp_path / "clip.mp4", 10, 64, 48)
    for i in range(7):
        writer.write(np.full((48, 64, 3), 30 * i, np.uint8))
    writer.release()
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    assert len(frames) == 7 and frames[0].shape == (48, 64, 3)


@pytest.fixture(scope="module")
def astronaut_face():
    from faceswap_lib import landmarks

    frame = skdata.astronaut().astype(np.float32) / 255
    return frame, landmarks.detect(frame)[0].landmarks


@pytest.mark.parametrize("blend", convert.BLENDS)
def test_swap_face_changes_only_the_face(astronaut_face, blend):
    import keras

    from faceswap_lib.models import faceswap_autoencoder

    keras.utils.set_random_seed(0)
    model = faceswap_autoencoder(32, encoder_filters=(8, 8, 16, 16), latent=16, decoder_filters=(8, 8, 4))
    frame, points = astronaut_face
    out, details = convert.swap_face(frame, points, model, "b", blend=blend, color="lab")
    assert out.shape == frame.shape and out.dtype == np.float32
    footprint = convert.paste_back(np.ones((32, 32, 1), np.float32), details["matrix"], frame.shape)[..., 0]
    changed = np.any(np.abs(out - frame) > 1.5 / 255, axis=2)
    assert changed.any()
    assert not changed[footprint == 0].any(), "pixels outside the face crop changed"
    if blend != "none":  # the hull is smaller than the crop square
        assert changed.sum() < 0.9 * (footprint > 0.5).sum()
    with pytest.raises(ValueError, match="blend"):
        convert.swap_face(frame, points, model, "b", blend="poisson")
    with pytest.raises(ValueError, match="mask=True"):
        convert.swap_face(frame, points, model, "b", mask="predicted")


def test_identity_scores_closed_form():
    swapped = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    scores = identity.identity_scores(swapped, target_ref=np.array([0.0, 0.0]), source_ref=np.array([2.0, 0.0]))
    # distances to target 0, 1, 3; to source 2, 1, 1 -> closer: yes, no (tie), no
    assert scores == {"closer_to_target": pytest.approx(1 / 3), "distance_target": pytest.approx(4 / 3),
                      "distance_source": pytest.approx(4 / 3), "n": 3}
    np.testing.assert_allclose(identity.reference([[1, 2], [3, 4]]), [2, 3])
    with pytest.raises(ValueError):
        identity.identity_scores(np.zeros((0, 2)), np.zeros(2), np.zeros(2))


def test_embed_same_person_is_close(astronaut_face):
    frame, points = astronaut_face
    e1 = identity.embed(frame, points)
    assert e1.shape == (128,) and np.isfinite(e1).all()
    np.testing.assert_array_equal(e1, identity.embed(frame, points))  # deterministic
    # The same face, shifted and slightly brighter, is the same person (dlib's threshold: 0.6).
    moved = np.clip(np.roll(frame, (7, -5), axis=(0, 1)) * 1.1, 0, 1)
    assert np.linalg.norm(e1 - identity.embed(moved, points + [-5, 7])) < 0.3
    # A blank image is nobody in particular: far from her.
    assert np.linalg.norm(e1 - identity.embed(np.full_like(frame, 0.5), points)) > 0.6
    with pytest.raises(ValueError, match="68"):
        identity.embed(frame, points[:5])


def test_extended_points_cover_the_forehead_along_the_face_axis():
    points = np.zeros((68, 2))
    points[17:] = align.template_points(100, 0.0)  # points 17-67 of an upright face, 100 px
    angles = np.linspace(0, np.pi, 17)
    centre = points[17:27, 0].mean()  # the face's vertical axis (the template is symmetric)
    points[:17] = np.stack([centre - 50 * np.cos(angles), 30 + 90 * np.sin(angles)], axis=1)  # a jaw, chin (8) at the bottom
    ext = masks.extended_points(points, forehead=0.5)
    assert ext.shape == (78, 2)
    up = points[17:27].mean(0) - points[8]
    np.testing.assert_allclose(ext[68:], points[17:27] + 0.5 * up)
    assert up[1] < 0 and abs(up[0]) < 1e-9  # straight up for an upright face
    # Rotate the face: the extension rotates with it (the same points, the same matrix).
    m = cv2.getRotationMatrix2D((50, 60), 30, 1.0)
    np.testing.assert_allclose(masks.extended_points(align.transform_points(points, m), 0.5),
                               align.transform_points(ext, m), atol=1e-9)
    small, big = masks.hull_mask(points, (160, 160)).sum(), masks.hull_mask(ext, (160, 160)).sum()
    assert big > small
    with pytest.raises(ValueError, match="68"):
        masks.extended_points(points[:51])


def test_convert_start_past_the_end_says_how_many_frames(tmp_path):
    from faceswap_lib.synthetic import astronaut_head, make_moving_clip

    clip = make_moving_clip(astronaut_head(96), tmp_path / "a.avi", 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="has only 3 frames") as caught:
        convert.convert_video(clip, None, tmp_path / "out.mp4", start=7, progress=False)
    assert "start frame 7" in str(caught.value) and "--start" in str(caught.value)
    assert list(tmp_path.iterdir()) == [clip]


def test_convert_mask_predicted_without_a_mask_names_the_model_folder(tmp_path, capsys):
    import json

    from faceswap_lib.__main__ import main

    clip = tmp_path / "clip.avi"
    clip.write_bytes(b"not read: the model folder is checked first")
    model = tmp_path / "model"
    model.mkdir()
    (model / "faceswap.json").write_text(json.dumps({"format": "faceswap_lib.model/1", "model": {"size": 32}}))
    assert main(["convert", str(clip), str(model), str(tmp_path / "out.mp4"), "--mask", "predicted"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {model}: ") and "without a mask" in err and len(err.splitlines()) == 1, err
