"""python -m faceswap_lib train: totals (--steps, --minutes), held-out faces, previews named by the
global step, the progress bar after a resume, and checks made before TensorFlow is imported."""

import json
import subprocess
import sys

import numpy as np
import pytest

from faceswap_lib.__main__ import main
from faceswap_lib.extract import extract
from faceswap_lib.model_folder import RECOMMENDED_FACES, held_out_frames, holdout_split
from faceswap_lib.synthetic import astronaut_head, make_moving_clip

TINY = ["--size", "32", "--batch-size", "2", "--chunk", "1"]


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    """Two extract folders of 3 faces each (64 px crops), clips a.avi and b.avi."""
    root = tmp_path_factory.mktemp("faces")
    head = astronaut_head(256)
    for name, photo, seed in (("a", head, 0), ("b", head[:, ::-1], 1)):
        clip = make_moving_clip(photo, root / f"{name}.avi", 3, np.random.default_rng(seed), degrees=8, zoom=0, shift=0)
        extract(clip, root / f"f{name}", size=64, progress=False)
    return root / "fa", root / "fb"


def settings_of(model):
    return json.loads((model / "faceswap.json").read_text())


def test_holdout_split_keeps_the_end_of_every_clip():
    entries = [{"video": "x", "frame": f} for f in (5, 0, 9, 3, 7, 1, 2, 4, 6, 8)] + \
              [{"video": "y", "frame": f} for f in range(5)]
    train, held, record = holdout_split(entries, 0.2, {"x": {"video_path": "/v/x.mp4"}})
    held_frames = sorted((entries[i]["video"], entries[i]["frame"]) for i in held)
    assert held_frames == [("x", 8), ("x", 9), ("y", 4)]  # ceil(0.2 * 10) = 2, ceil(0.2 * 5) = 1
    assert sorted(train + held) == list(range(15)) and not set(train) & set(held)
    assert record == {"x": {"first_frame": 8, "faces": 2, "video_path": "/v/x.mp4"},
                      "y": {"first_frame": 4, "faces": 1, "video_path": None}}
    assert holdout_split(entries, 0.0)[1] == [] and holdout_split([{"video": "z", "frame": 0}], 0.5)[1] == []
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        holdout_split(entries, 1.0)


def test_steps_is_a_total_and_the_holdout_is_recorded(faces, tmp_path, capsys):
    fa, fb = faces
    model = tmp_path / "m"
    args = ["train", str(fa), str(fb), str(model), *TINY, "--holdout", "0.3", "--preview-every", "1"]
    assert main(args + ["--steps", "2"]) == 0
    out, err = capsys.readouterr()
    assert "trained to step 2" in out and "1 + 1 faces held out" in out
    # The few-faces warning: the count, the held-out share and the recommended minimum.
    assert f"only 2 faces of person A to train on (1 more held out); at least {RECOMMENDED_FACES}" in err
    s = settings_of(model)
    assert s["steps"] == 2 and s["seconds"] > 0 and s["holdout"]["fraction"] == 0.3
    assert s["holdout"]["a"] == {"a": {"first_frame": 2, "faces": 1, "video_path": str((fa.parent / "a.avi").resolve())}}
    assert held_out_frames(s, "a", fa.parent / "a.avi") == (2, "held out")
    assert held_out_frames(s, "b", fa.parent / "a.avi") == (0, "unseen clip")
    # Continue to a larger total: previews are named by the global step (3), not the run's own count (1).
    assert main(args[:-4] + ["--steps", "3", "--preview-every", "1"]) == 0  # --holdout left out: kept
    assert sorted(p.name for p in (model / "previews").iterdir()) == [
        "preview_0000001.png", "preview_0000002.png", "preview_0000003.png"]
    assert settings_of(model)["steps"] == 3 and settings_of(model)["holdout"]["fraction"] == 0.3
    capsys.readouterr()
    # Finished: one line on stdout, nothing trained, nothing written.
    before = (model / "faceswap.weights.h5").read_bytes()
    assert main(args + ["--steps", "3"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == f"{model}: already trained to step 3 (--steps 3 is the total); nothing to do: give a larger --steps to train on"
    assert err == "" and (model / "faceswap.weights.h5").read_bytes() == before
    # Another holdout would train on held-out faces: refused.
    assert main(args[:-4] + ["--holdout", "0.5", "--steps", "4"]) == 2
    assert "holdout mismatch" in capsys.readouterr().err


def test_minutes_is_a_time_total(faces, tmp_path, capsys):
    fa, fb = faces
    model = tmp_path / "m"
    args = ["train", str(fa), str(fb), str(model), *TINY, "--minutes", "0.001"]  # 0.06 s: one step or a few
    assert main(args) == 0
    s = settings_of(model)
    assert s["steps"] >= 1 and s["seconds"] >= 0.06
    capsys.readouterr()
    assert main(args) == 0
    assert "already trained for" in capsys.readouterr().out
    # With --steps too, whichever total comes first: step s["steps"] + 1 comes before 10 more minutes.
    assert main(args[:-1] + ["10", "--steps", str(s["steps"] + 1)]) == 0
    assert settings_of(model)["steps"] == s["steps"] + 1


def test_progress_bar_shows_the_global_step_and_a_smoothed_loss():
    from faceswap_lib.training import ProgressBar

    step = [40]  # a run resumed at step 40 (e.g. restored from a backup)
    bar = ProgressBar(100, 0, step=lambda: step[0], smoothing=1)  # smoothing 1: the last step's loss
    bar.on_epoch_begin(0)
    assert bar.bar.n == 40
    for k, mean in enumerate([1.0, 0.75, 0.5], start=1):  # Keras logs: the mean since the chunk began
        step[0] += 1
        bar.on_train_batch_end(k - 1, {"loss_a": mean, "loss_b": mean})
    assert bar.bar.n == 43
    # Step losses 1.0, 0.5, 0.0 are recovered from the running means; smoothing 1 shows the last.
    assert bar.average["loss_a"] / bar.weight == pytest.approx(0.0, abs=1e-12)
    bar.on_train_end()


def _cli_without_tensorflow(*args):
    """Run the command in a fresh interpreter; return (status, stdout, stderr, TensorFlow imported?)."""
    code = ("import sys; from faceswap_lib.__main__ import main; status = main(sys.argv[1:]); "
            "print('TF' if 'tensorflow' in sys.modules else 'noTF'); sys.exit(status)")
    result = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, timeout=120)
    *out, marker = result.stdout.splitlines()
    return result.returncode, "\n".join(out), result.stderr, marker == "TF"


def test_folders_and_finished_models_are_checked_before_tensorflow(faces, tmp_path):
    fa, fb = faces
    status, _, err, tf = _cli_without_tensorflow("train", tmp_path / "missing", fb, tmp_path / "m")
    assert (status, tf) == (2, False) and "extract folder not found" in err
    status, _, err, tf = _cli_without_tensorflow("convert", "clip.mp4", tmp_path / "no_model", tmp_path / "o.mp4")
    assert (status, tf) == (2, False) and "model folder not found" in err
    model = tmp_path / "done"
    model.mkdir()
    (model / "faceswap.json").write_text(json.dumps({"format": "faceswap_lib.model/1", "model": {"size": 32},
                                                     "steps": 5, "seconds": 90.0}))
    status, out, err, tf = _cli_without_tensorflow("train", fa, fb, model, "--size", "32", "--steps", "5")
    assert (status, tf, err) == (0, False, "") and "already trained to step 5" in out
    status, out, _, tf = _cli_without_tensorflow("train", fa, fb, model, "--size", "32", "--minutes", "1.5")
    assert (status, tf) == (0, False) and "already trained for 1.5 minutes" in out
    status, _, err, tf = _cli_without_tensorflow("train", fa, fb, model, "--size", "64")
    assert (status, tf) == (2, False) and "size mismatch" in err
    for option, value in (("--minutes", "0"), ("--holdout", "1"), ("--holdout", "-0.1"), ("--preview-minutes", "-1")):
        status, _, err, tf = _cli_without_tensorflow("train", fa, fb, model, option, value)
        assert (status, tf) == (2, False) and option in err, (option, err)


def test_train_refuses_the_face_folders_swapped(faces, tmp_path):
    """A model trained as ``train A B MODEL`` continued as ``train B A MODEL`` would teach each
    decoder the other face: refused in one line naming the model folder and its folders."""
    fa, fb = faces
    model = tmp_path / "m1"
    model.mkdir()
    (model / "faceswap.json").write_text(json.dumps({
        "format": "faceswap_lib.model/1", "model": {"size": 32}, "steps": 5, "seconds": 1.0,
        "a": str(fa.resolve()), "b": str(fb.resolve())}))
    status, out, err, tf = _cli_without_tensorflow("train", fb, fa, model, "--size", "32", "--steps", "9")
    assert (status, tf, out) == (2, False, ""), err
    assert len(err.splitlines()) == 1 and err.startswith(f"error: {model}: "), err
    assert f"A = {fa.resolve()}" in err and f"B = {fb.resolve()}" in err and "swapped" in err
    # Another spelling of the same folders is the same folders: accepted (here: already finished).
    status, out, err, _ = _cli_without_tensorflow("train", fa / ".." / fa.name, fb, model, "--size", "32", "--steps", "5")
    assert status == 0 and "already trained to step 5" in out, err


def test_a_resumed_run_continues_adams_state(faces, tmp_path):
    """Adam's step count and moments are saved beside the weights and restored on resume: after 2 + 2
    steps the optimizer has counted 4 steps (a cold restart would count 2), and the restored moments
    are the saved ones."""
    import keras

    from faceswap_lib.model_folder import OPTIMIZER_FILE
    from faceswap_lib.training import load_model, restore_optimizer

    fa, fb = faces
    model_dir = tmp_path / "m"
    base = ["train", str(fa), str(fb), str(model_dir), *TINY, "--preview-minutes", "0"]
    assert main(base + ["--steps", "2"]) == 0
    assert (model_dir / OPTIMIZER_FILE).is_file()

    def restored():
        model, _ = load_model(model_dir)
        model.compile(optimizer=keras.optimizers.Adam(1e-4))
        assert restore_optimizer(model, model_dir)
        return model.optimizer

    after_two = restored()
    assert int(after_two.iterations.numpy()) == 2
    moments = [np.asarray(v) for v in after_two.variables[1:]]
    assert any(np.abs(m).max() > 0 for m in moments)  # trained moments, not the zeros of a fresh Adam
    assert main(base + ["--steps", "4"]) == 0
    after_four = restored()
    assert int(after_four.iterations.numpy()) == 4
    assert not all(np.array_equal(a, np.asarray(b)) for a, b in zip(moments, after_four.variables[1:]))

    # A folder from before the file existed (or a damaged file) still resumes, with a fresh Adam.
    (model_dir / OPTIMIZER_FILE).write_bytes(b"not an npz")
    model, _ = load_model(model_dir)
    model.compile(optimizer=keras.optimizers.Adam(1e-4))
    assert not restore_optimizer(model, model_dir)
    (model_dir / OPTIMIZER_FILE).unlink()
    assert not restore_optimizer(model, model_dir)
    assert main(base + ["--steps", "5"]) == 0 and (model_dir / OPTIMIZER_FILE).is_file()


def test_train_warns_when_the_target_never_shows_the_sources_expressions(faces, tmp_path, capsys):
    """Person B's mouth shut in every face, person A's wide open in 2 of 3: B's decoder cannot learn an open
    mouth, so A->B will not follow A; one warning line about B's folder, none the other way (A also shuts it)."""
    import shutil

    from faceswap_lib.__main__ import _warn_expression_coverage
    from faceswap_lib.expression import interocular_distance, mouth_opening

    folders = {}
    for name, folder in zip("ab", faces):
        folders[name] = tmp_path / folder.name
        shutil.copytree(folder, folders[name])
        path = folders[name] / "alignments.json"
        sidecar = json.loads(path.read_text())
        assert len(sidecar["faces"]) == 3
        for k, face in enumerate(sidecar["faces"]):
            points = np.array(face["landmarks"], float)
            points[[65, 66, 67]] = points[[63, 62, 61]]  # lower inner lip onto the upper: shut
            if name == "a" and k > 0:
                points[[65, 66, 67], 1] += 0.5 * interocular_distance(points)  # laughing
            face["landmarks"] = points.tolist()
        path.write_text(json.dumps(sidecar))
    assert mouth_opening(json.loads((folders["a"] / "alignments.json").read_text())["faces"][1]["landmarks"]) > 0.4
    capsys.readouterr()
    _warn_expression_coverage(folders["a"], folders["b"], 0.0)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"warning: {folders['b']}: person B shows only 33% of person A's")
    _warn_expression_coverage(folders["b"], folders["b"], 0.0)  # the same expressions: no warning
    assert capsys.readouterr().err == ""


def test_a_resumed_model_keeps_its_expression_balance(faces, tmp_path, capsys):
    """--balance-expressions is recorded; resuming with the other choice is refused in one line, leaving the
    option out continues with the model's own."""
    model = tmp_path / "m"
    assert main(["train", str(faces[0]), str(faces[1]), str(model), *TINY, "--steps", "1", "--balance-expressions"]) == 0
    assert settings_of(model)["balance"] is True
    capsys.readouterr()
    assert main(["train", str(faces[0]), str(faces[1]), str(model), *TINY, "--steps", "2",
                 "--no-balance-expressions"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("warning:")]  # 3 faces
    assert len(err) == 1 and err[0].startswith(f"error: {model}: ") and "trained with balanced expressions" in err[0]
    assert settings_of(model)["steps"] == 1
    assert main(["train", str(faces[0]), str(faces[1]), str(model), *TINY, "--steps", "2"]) == 0
    assert settings_of(model)["balance"] is True and settings_of(model)["steps"] == 2


def test_the_expression_warning_skips_a_folder_without_faces(faces, tmp_path, capsys):
    """An empty face folder is train()'s error to report, naming that folder, not the warning's."""
    import shutil

    from faceswap_lib.__main__ import _warn_expression_coverage

    empty = tmp_path / "empty"
    shutil.copytree(faces[1], empty)
    sidecar = json.loads((empty / "alignments.json").read_text())
    sidecar["faces"] = []
    (empty / "alignments.json").write_text(json.dumps(sidecar))
    _warn_expression_coverage(faces[0], empty, 0.0)
    assert capsys.readouterr().err == ""
