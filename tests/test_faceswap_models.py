"""faceswap_lib.models and faceswap_lib.training: shapes, losses, one train step, save/load, pairs."""

import json

import keras
import numpy as np
import pytest

from faceswap_lib import masks, training
from faceswap_lib.augment import augment
from faceswap_lib.models import FaceSwapAutoencoder, faceswap_autoencoder

SMALL = dict(size=32, encoder_filters=(8, 8, 16, 16), latent=16, decoder_filters=(8, 8, 4))


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return faceswap_autoencoder(**SMALL)


def test_shapes_and_pixel_shuffle(model):
    x = np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32)
    assert model.encoder.output_shape == (None, 4, 4, 8)  # 32 / 16 * 2, filters[-1] // 2
    a, b = model(x)
    assert a.shape == b.shape == (2, 32, 32, 3)
    assert 0 <= float(np.min(a)) and float(np.max(a)) <= 1  # sigmoid
    shuffles = [l for d in (model.decoder_a, model.decoder_b) for l in d.layers if type(l).__name__ == "PixelShuffle"]
    assert len(shuffles) == 6  # three upscale blocks per decoder
    # The encoder is shared: one set of weights, the decoders have their own.
    assert model.count_params() == model.encoder.count_params() + 2 * model.decoder_a.count_params()
    np.testing.assert_allclose(model.swap(x, "b"), np.asarray(b), atol=1e-6)
    with pytest.raises(ValueError, match="side"):
        model.decode(x, "c")


def test_mask_channel():
    m = faceswap_autoencoder(**SMALL, mask=True)
    out = m.reconstruct(np.zeros((1, 32, 32, 3), np.float32), "a")
    assert out.shape == (1, 32, 32, 4) and m.has_mask


@pytest.mark.parametrize("kwargs, match", [
    (dict(size=40), "multiple of 16"),
    (dict(size=32, decoder_filters=(8, 8)), "len"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        faceswap_autoencoder(**{**SMALL, **kwargs})


def test_side_loss_matches_numpy():
    m = faceswap_autoencoder(**SMALL, mask=True, ssim_weight=0.0, mask_weight=0.5)
    rng = np.random.default_rng(1)
    t, p = rng.random((2, 2, 32, 32, 4), dtype=np.float32)
    expected = np.abs(t[..., :3] - p[..., :3]).mean() + 0.5 * np.abs(t[..., 3] - p[..., 3]).mean()
    assert float(m.side_loss(t, p)) == pytest.approx(expected, rel=1e-5)
    # With SSIM: identical images give MAE 0 and SSIM loss 0.
    m2 = faceswap_autoencoder(**SMALL)
    assert float(m2.side_loss(t[..., :3], t[..., :3])) == pytest.approx(0.0, abs=1e-5)


def test_train_step_updates_all_parts_and_tracks_losses():
    keras.utils.set_random_seed(1)
    m = faceswap_autoencoder(**SMALL)
    m.compile(optimizer=keras.optimizers.Adam(1e-3))
    rng = np.random.default_rng(2)
    wa, ta, wb, tb = rng.random((4, 4, 32, 32, 3), dtype=np.float32)
    before = {name: [w.copy() for w in part.get_weights()] for name, part in
              (("encoder", m.encoder), ("a", m.decoder_a), ("b", m.decoder_b))}
    logs = m.train_on_batch((wa, wb), (ta, tb), return_dict=True)
    assert set(logs) == {"loss", "loss_a", "loss_b"}
    assert all(np.isfinite(v) for v in logs.values())
    assert logs["loss"] == pytest.approx(logs["loss_a"] + logs["loss_b"], rel=1e-5)
    for name, part in (("encoder", m.encoder), ("a", m.decoder_a), ("b", m.decoder_b)):
        changed = any(not np.array_equal(w0, w1) for w0, w1 in zip(before[name], part.get_weights()))
        assert changed, f"{name} was not updated"


def test_each_loss_reaches_only_its_own_decoder(model):
    """loss_a trains the encoder and decoder A, never decoder B (and vice versa)."""
    import tensorflow as tf

    rng = np.random.default_rng(3)
    x, t = rng.random((2, 2, 32, 32, 3), dtype=np.float32)
    for side, own, other in (("a", model.decoder_a, model.decoder_b), ("b", model.decoder_b, model.decoder_a)):
        with tf.GradientTape() as tape:
            loss = model.side_loss(t, model.decode(x, side, training=True))
        grads = tape.gradient(loss, model.encoder.trainable_variables + own.trainable_variables
                              + other.trainable_variables)
        n_enc, n_own = len(model.encoder.trainable_variables), len(own.trainable_variables)
        assert all(g is not None for g in grads[: n_enc + n_own])
        assert all(g is None for g in grads[n_enc + n_own:]), f"loss_{side} reached the other decoder"


def test_keras_save_and_weights_round_trip(tmp_path, model):
    x = np.random.default_rng(4).random((1, 32, 32, 3), dtype=np.float32)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, FaceSwapAutoencoder)
    np.testing.assert_allclose(loaded.swap(x, "a"), model.swap(x, "a"), atol=1e-6)
    training.save_model(model, tmp_path / "dir", {"model": SMALL, "steps": 0})
    again, settings = training.load_model(tmp_path / "dir")
    np.testing.assert_allclose(again.swap(x, "b"), model.swap(x, "b"), atol=1e-6)
    assert settings["model"]["size"] == 32


def test_load_model_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="model folder not found"):
        training.load_model(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="faceswap.json"):
        training.load_model(tmp_path / "empty")
    (tmp_path / "empty" / "faceswap.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="not a faceswap_lib model"):
        training.load_model(tmp_path / "empty")


def test_augment_with_mask_moves_mask_like_face():
    mask = np.zeros((48, 48, 1), np.float32)
    mask[10:30, 14:40] = 1
    face = np.repeat(mask, 3, axis=-1)
    no_colour = dict(brightness=0, contrast=0, saturation=0)
    warped, target = training.augment_with_mask(face, mask, np.random.default_rng(7), output_size=32, **no_colour)
    assert warped.shape == target.shape == (32, 32, 4)
    # The face *is* the mask here, so its augmented target must equal the augmented mask.
    np.testing.assert_allclose(target[..., 0], target[..., 3], atol=1e-6)
    # And the face pair is exactly what plain augment gives with the same generator state.
    plain = augment(face, np.random.default_rng(7), output_size=32, **no_colour)
    np.testing.assert_array_equal(warped[..., :3], plain[0])
    np.testing.assert_array_equal(target[..., :3], plain[1])


def test_pair_batches_shapes_determinism_and_errors():
    rng = np.random.default_rng(6)
    fa, fb = rng.random((5, 32, 32, 3), dtype=np.float32), rng.random((3, 32, 32, 3), dtype=np.float32)
    ma, mb = np.ones((5, 32, 32, 1), np.float32), np.ones((3, 32, 32, 1), np.float32)
    (wa, wb), (ta, tb) = next(training.pair_batches(fa, fb, 4, seed=1, masks_a=ma, masks_b=mb))
    assert wa.shape == wb.shape == (4, 32, 32, 3) and ta.shape == tb.shape == (4, 32, 32, 4)
    (wa2, _), _ = next(training.pair_batches(fa, fb, 4, seed=1, masks_a=ma, masks_b=mb))
    np.testing.assert_array_equal(wa, wa2)
    with pytest.raises(ValueError, match="size mismatch"):
        next(training.pair_batches(fa, rng.random((3, 16, 16, 3), dtype=np.float32), 2))
    with pytest.raises(ValueError, match="both people"):
        next(training.pair_batches(fa, fb, 2, masks_a=ma))


def _entries_with_mouths(openings):
    """Alignment entries of the mean face whose inner lips are opened by ``openings`` (inter-ocular units)."""
    from faceswap_lib.align import template_points
    from faceswap_lib.expression import interocular_distance, mouth_opening

    face = np.concatenate([np.zeros((17, 2)), template_points(200)])
    face[[65, 66, 67]] = face[[63, 62, 61]]  # shut
    entries = []
    for m in openings:
        points = face.copy()
        points[[65, 66, 67], 1] += m * interocular_distance(face)
        entries.append({"landmarks": points})
        assert mouth_opening(points) == pytest.approx(m, abs=1e-6)
    return entries


def test_expression_weights_draw_every_mouth_band_equally_often():
    # 18 shut mouths, 2 open ones: uniformly the open ones come up 10 % of the time; balanced, half.
    entries = _entries_with_mouths([0.0] * 18 + [0.15, 0.17])
    w = training.expression_weights(entries)
    assert w.shape == (20,) and w.sum() == pytest.approx(1.0)
    assert w[18:].sum() == pytest.approx(0.5) and np.allclose(w[:18], w[0])
    # A band of one face among 100 counts as 5 faces (5 %): drawn 0.2 / 2.2 = 1/11 of the time, not a third.
    w = training.expression_weights(_entries_with_mouths([0.0] * 60 + [0.15] * 39 + [0.45]))
    assert w[99] == pytest.approx(1 / 11) and w[60:99].sum() == pytest.approx(5 / 11)
    with pytest.raises(ValueError, match="no faces"):
        training.expression_weights([])


def test_pair_batches_draw_with_the_given_weights():
    faces = np.stack([np.full((32, 32, 3), k / 10, np.float32) for k in range(4)])  # face k is gray k/10
    only_last = np.array([0, 0, 0, 1.0])
    batches = training.pair_batches(faces, faces, 8, seed=3, weights_b=only_last, warp=0.0, rotation=0, scale=0,
                                    shift=0, flip=0, brightness=0, contrast=0, saturation=0)
    (_, _), (ta, tb) = next(batches)
    assert np.allclose(tb.mean(axis=(1, 2, 3)), 0.3, atol=0.02)  # every B face is face 3
    assert len(np.unique(ta.mean(axis=(1, 2, 3)).round(2))) > 1  # A stays uniform
    # No weights: the same draws as before weights existed (rng.integers), so old seeds reproduce.
    (_, _), (t1, _) = next(training.pair_batches(faces, faces, 8, seed=3))
    (_, _), (t2, _) = next(training.pair_batches(faces, faces, 8, seed=3, weights_a=None))
    np.testing.assert_array_equal(t1, t2)
    with pytest.raises(ValueError, match="weights_a must be 4 probabilities"):
        training.pair_batches(faces, faces, 2, weights_a=np.ones(3) / 3)  # checked at the call, not at next()
    with pytest.raises(ValueError, match="weights_b must be finite, >= 0 and sum to 1.*negative"):
        training.pair_batches(faces, faces, 2, weights_b=np.array([1.5, -0.5, 0, 0]))
    with pytest.raises(ValueError, match="weights_a must be finite"):
        training.make_dataset(faces, faces, 2, weights_a=np.array([np.nan, 0.5, 0.5, 0]))


def test_load_faces_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="extract"):
        training.load_faces(tmp_path, 64)


def test_priority_loss_weights_eyes_and_mouth():
    m = faceswap_autoencoder(**SMALL, ssim_weight=0.0, priority_weight=3.0)
    rng = np.random.default_rng(2)
    t, p = rng.random((2, 2, 32, 32, 3), dtype=np.float32)
    weight = np.zeros((2, 32, 32, 1), np.float32)
    weight[:, 10:20, 5:25] = 1
    error = np.abs(t - p)
    expected = error.mean() + 3.0 * (error * weight).mean()
    assert float(m.side_loss(np.concatenate([t, weight], -1), p)) == pytest.approx(expected, rel=1e-5)
    assert faceswap_autoencoder(**SMALL, priority_weight=3.0).get_config()["priority_weight"] == 3.0


def test_priority_masks_cover_eyes_and_mouth_only():
    from faceswap_lib.align import MEAN_FACE, template_points

    size = 64
    points = np.zeros((68, 2))
    points[17:] = template_points(size, 0.1)  # the mean face; the jaw is unused
    mask = masks.priority_masks(points[None], size)[0, ..., 0]
    eye, mouth = points[36:42].mean(0), points[48:68].mean(0)
    assert mask[int(eye[1]), int(eye[0])] == 1 and mask[int(mouth[1]), int(mouth[0])] == 1
    nose = points[30]
    assert mask[int(nose[1]), int(nose[0])] == 0 and mask[0, 0] == 0
    assert 0.03 < mask.mean() < 0.3
    assert MEAN_FACE.shape == (51, 2)


def test_tight_crop_is_the_aligned_crop_with_that_padding():
    from faceswap_lib.align import aligned_crop

    side, offset, padding = training.tight_crop(256, 0.25, 0.1)
    assert (side, offset) == (160, 48) and padding == pytest.approx(0.1)
    rng = np.random.default_rng(4)
    frame = np.kron(rng.random((30, 30, 3)), np.ones((16, 16, 1))).astype(np.float32)
    landmarks = np.zeros((68, 2))
    from faceswap_lib.align import template_points

    landmarks[17:] = template_points(200, 0.2) + 140  # a face somewhere in the frame
    big, _ = aligned_crop(frame, landmarks, 256, 0.25)
    tight, _ = aligned_crop(frame, landmarks, side, padding)
    np.testing.assert_allclose(big[offset:offset + side, offset:offset + side], tight, atol=1e-4)
    assert training.tight_crop(256, 0.25, None) == (256, 0, 0.25)
    assert training.tight_crop(256, 0.25, 0.3) == (256, 0, 0.25)
    s, o, p = training.tight_crop(256, 0.25, 0.125)  # side rounded so the border is even
    assert (256 - s) % 2 == 0 and o == (256 - s) // 2 and s * (1 - 2 * p) == pytest.approx(128)
