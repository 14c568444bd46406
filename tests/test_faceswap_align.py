"""faceswap_lib.align: the mean-face template, alignment matrices, crops, inversion."""

import cv2
import numpy as np
import pytest

from faceswap_lib import align
from faceswap_lib.landmarks import FLIP_PERMUTATION, read_imglab_xml


def similarity(scale, degrees, tx, ty):
    a = np.radians(degrees)
    return np.array([[scale * np.cos(a), -scale * np.sin(a), tx], [scale * np.sin(a), scale * np.cos(a), ty]])


def face_with_matrix(matrix, size=256, padding=align.DEFAULT_PADDING):
    """68 landmarks in an 'image' such that the aligning matrix is exactly ``matrix``."""
    landmarks = np.zeros((68, 2))
    landmarks[17:] = align.transform_points(align.template_points(size, padding), matrix, inverse=True)
    landmarks[:17] = landmarks[17]  # the jaw must not matter
    return landmarks


def test_mean_face_fills_the_unit_square_and_is_symmetric():
    face = align.MEAN_FACE
    assert face.shape == (51, 2)
    assert face.min() >= 0 and face.max() <= 1
    np.testing.assert_allclose(np.ptp(face, axis=0).max(), 1.0, atol=1e-6)
    # Mirrored (x -> 1 - x) and relabelled, the template is itself.
    mirrored = np.column_stack([1 - face[:, 0], face[:, 1]])[FLIP_PERMUTATION[17:] - 17]
    np.testing.assert_allclose(mirrored, face, atol=2e-6)
    eye_r, eye_l = face[36 - 17 : 42 - 17].mean(0), face[42 - 17 : 48 - 17].mean(0)
    assert eye_r[1] == pytest.approx(eye_l[1], abs=1e-6) and eye_r[0] < eye_l[0]
    brows, mouth = face[:10, 1].mean(), face[48 - 17 :, 1].mean()
    assert brows < eye_r[1] < mouth  # upright: y grows downwards


def test_mean_face_is_reproducible_from_the_dlib_annotations(mirror):
    folder = mirror / "faces" / "dlib_landmarks"
    shapes = [points for name in ("training", "testing")
              for _, _, points in read_imglab_xml(folder / f"{name}_with_face_landmarks.xml")]
    assert len(shapes) == 43
    np.testing.assert_allclose(align.mean_face(shapes), align.MEAN_FACE, atol=2e-6)


def test_generalised_procrustes_undoes_similarities():
    rng = np.random.default_rng(0)
    shape = rng.uniform(0, 1, size=(20, 2))
    copies = [align.transform_points(shape, similarity(rng.uniform(0.5, 2), rng.uniform(-90, 90), *rng.uniform(-5, 5, 2)))
              for _ in range(6)]
    mean, aligned = align.generalised_procrustes(copies)
    assert aligned.shape == (6, 20, 2)
    np.testing.assert_allclose(aligned, np.broadcast_to(mean, aligned.shape), atol=1e-9)
    np.testing.assert_allclose(np.sqrt(np.mean(np.sum(mean**2, axis=1))), 1.0)  # unit RMS size


def test_template_points_place_the_unit_square_inside_the_padding():
    size, padding = 200, 0.25
    points = align.template_points(size, padding)
    assert points.shape == (51, 2)
    # Continuous coordinates 50..150 are pixel-centre coordinates 49.5..149.5.
    np.testing.assert_allclose(points.min(0)[0], 49.5)
    np.testing.assert_allclose(points.max(0)[0], 149.5)
    with pytest.raises(ValueError, match="padding"):
        align.template_points(size, 0.5)


@pytest.mark.parametrize("matrix", [similarity(1, 0, 0, 0), similarity(0.4, 25, -30, 12), similarity(2.5, -170, 300, -80)])
def test_align_matrix_recovers_the_transform(matrix):
    landmarks = face_with_matrix(matrix)
    np.testing.assert_allclose(align.align_matrix(landmarks, 256), matrix, atol=1e-9)
    np.testing.assert_allclose(align.align_matrix(landmarks[17:], 256), matrix, atol=1e-9)  # the 51 points alone
    with pytest.raises(ValueError, match="landmarks"):
        align.align_matrix(landmarks[:20], 256)


def test_aligned_crop_puts_image_points_where_transform_points_says():
    # A small bright blob at one landmark: after the crop it must sit at the transformed point.
    matrix = similarity(0.8, 17, 0, 0)
    matrix[:, 2] = 63.5 - matrix[:, :2] @ [170.0, 150.0]  # the crop's centre is image point (170, 150)
    landmarks = face_with_matrix(matrix, size=128)
    image = np.zeros((300, 340, 3), np.float32)
    yy, xx = np.mgrid[:300, :340]
    tip = landmarks[30]  # nose tip
    image[..., 1] = np.exp(-((xx - tip[0]) ** 2 + (yy - tip[1]) ** 2) / (2 * 3.0**2))
    crop, used = align.aligned_crop(image, landmarks, 128)
    assert crop.shape == (128, 128, 3) and crop.dtype == np.float32
    np.testing.assert_allclose(used, matrix, atol=1e-9)
    weight = crop[..., 1]
    cy, cx = np.mgrid[:128, :128]
    centroid = np.array([(weight * cx).sum(), (weight * cy).sum()]) / weight.sum()
    np.testing.assert_allclose(centroid, align.transform_points(tip[None], used)[0], atol=0.05)


def test_invert_and_transform_points_both_ways():
    rng = np.random.default_rng(4)
    matrix = similarity(1.7, 33, 12, -40)
    matrix[0, 1] += 0.1  # any invertible affine, not only similarities
    inverse = align.invert(matrix)
    np.testing.assert_allclose(inverse, cv2.invertAffineTransform(matrix), atol=1e-12)
    np.testing.assert_allclose(align.invert(inverse), matrix, atol=1e-12)
    points = rng.uniform(0, 500, size=(10, 2))
    there = align.transform_points(points, matrix)
    np.testing.assert_allclose(there, cv2.transform(points[None], matrix)[0], atol=1e-9)
    np.testing.assert_allclose(align.transform_points(there, matrix, inverse=True), points, atol=1e-9)
    with pytest.raises(ValueError, match="2 x 3"):
        align.invert(np.eye(3))


def test_matrix_parameters_reads_scale_rotation_and_shift():
    params = align.matrix_parameters(similarity(0.5, 30, 7, -2))
    assert params == pytest.approx({"scale": 0.5, "rotation_deg": 30.0, "tx": 7.0, "ty": -2.0})
