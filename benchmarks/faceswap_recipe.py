"""Face-swap recipe trial: train with the CLI to 10, 20, 30 minutes and score held-out swaps each time.

Runs the command line exactly as a user would (``python -m faceswap_lib train/convert/score``), on
the course pair (A = d6, B = d14) extracted with ``extract``'s defaults, and writes one trial's
record (settings, steps, load average, both directions' scores at every checkpoint) to
``results/faceswap_trials/<name>.json``. ``results/faceswap_recipe.json`` summarises the trials.

Scores are on frames the model never trained on (``train --holdout 0.15``; ``convert``/``score``
start at the first held-out frame). Speed depends on the machine's load: the load average is
recorded at every checkpoint, so read step counts with it.

Needs the clips (SRFS_DATA_DIR pointing at the mirror). Usage:
    python benchmarks/faceswap_recipe.py NAME WORKDIR [--minutes 10 20 30] [--changed TEXT] [--train "FLAGS"]
    python benchmarks/faceswap_recipe.py NAME WORKDIR --rescore   # score the stored clips again

A trial name is used once: a second run with a name whose record or model exists is refused
(its checkpoints would be overwritten).
"""

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the commands' TensorFlow start-up lines, not the record

ROOT = Path(__file__).resolve().parents[1]
HOLDOUT = 0.15
# every-nth per direction: about 40 held-out frames of each clip (d6: 152 held out, d14: 81)
EVERY_NTH = {"a2b": 4, "b2a": 2}


def _run(cmd: list[str], log) -> None:
    log.write("$ " + " ".join(cmd) + "\n")
    log.flush()
    subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "faceswap_lib", *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="trial name (the JSON's file name)")
    parser.add_argument("workdir", help="scratch folder: faces, models and swapped clips go here")
    parser.add_argument("--minutes", type=float, nargs="+", default=[10, 20, 30],
                        help="score after this many minutes of training in total")
    parser.add_argument("--changed", default="", help="what this trial changes, for the record")
    parser.add_argument("--rescore", action="store_true",
                        help="train nothing: score the trial's stored clips again with the current `score`")
    parser.add_argument("--train", default="", metavar="FLAGS",
                        help="extra `train` flags of the trial, one quoted string (e.g. --train '--warp 0.05')")
    args = parser.parse_args()
    flags = shlex.split(args.train)
    for flag in ("--holdout", "--minutes", "--steps"):
        if any(f == flag or f.startswith(flag + "=") for f in flags):
            parser.error(f"--train: {flag} is the trial's own (holdout {HOLDOUT}, --minutes)")
    if args.rescore and flags:
        parser.error("--rescore trains nothing: drop --train")
    minutes = sorted(set(args.minutes))
    if not minutes or minutes[0] <= 0:
        parser.error("--minutes: give positive totals")

    from sr_lib.data import registry

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    try:
        clip_dir = registry.fetch("face_clips") / registry.DATASETS["face_clips"].prefix
    except registry.DatasetUnavailableError as error:
        parser.error(f"face_clips: {error}")
    clips = {"a": clip_dir / "d6.mp4", "b": clip_dir / "d14.mp4"}
    out_json = ROOT / "results" / "faceswap_trials" / f"{args.name}.json"
    out_json.parent.mkdir(parents=True, exist_ok=True)
    if args.rescore and not out_json.is_file():
        parser.error(f"--rescore: no record {out_json} to score again")
    if not args.rescore and (out_json.exists() or (work / args.name).exists()):
        parser.error(f"{args.name}: a trial of this name exists ({out_json} or {work / args.name}); pick a new name")
    with open(work / f"{args.name}.log", "a", encoding="utf-8") as log:
        try:
            run_trial(args, flags, minutes, work, clips, out_json, log)
        except subprocess.CalledProcessError as error:
            print(f"error: {error.cmd[3] if len(error.cmd) > 3 else error.cmd}: exit status {error.returncode}; "
                  f"see {log.name}", file=sys.stderr)
            sys.exit(2)


def run_trial(args, flags, minutes_list, work, clips, out_json, log) -> None:
    for side, clip in clips.items():
        faces = work / f"faces_{side}"
        if not (faces / "alignments.json").is_file():
            _run(_cli("extract", str(clip), str(faces)), log)
    if args.rescore:
        rescore(args.name, work, clips, log)
        return
    model = work / args.name
    record = {"name": args.name, "changed": args.changed, "train_flags": flags, "holdout": HOLDOUT,
              "cpu_count": os.cpu_count(), "checkpoints": {}}
    for minutes in minutes_list:
        started = time.time()
        load_before = os.getloadavg()[0]
        _run(_cli("train", str(work / "faces_a"), str(work / "faces_b"), str(model), "--minutes", str(minutes),
                  "--holdout", str(HOLDOUT), "--preview-minutes", "0", *flags), log)
        settings = json.loads((model / "faceswap.json").read_text())
        point = {"steps": settings.get("steps"), "train_wall_s": round(time.time() - started, 1),
                 "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2)}
        # a copy of the model at this checkpoint, so that its clips can be scored again later (--rescore)
        shutil.copytree(model, work / f"{args.name}_{minutes:g}", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("backup", "previews"))
        for direction, source in (("a2b", "a"), ("b2a", "b")):
            first = int(next(iter(settings["holdout"][source].values()))["first_frame"])
            swapped = work / f"{args.name}_{minutes:g}_{direction}.mp4"
            report = work / f"{args.name}_{minutes:g}_{direction}.json"
            common = ["--direction", direction, "--start", str(first), "--every-nth", str(EVERY_NTH[direction])]
            _run(_cli("convert", str(clips[source]), str(model), str(swapped), *common), log)
            _run(_cli("score", str(clips[source]), str(swapped), str(model), *common, "--json", str(report)), log)
            point[direction] = _summary(json.loads(report.read_text()))
        record["checkpoints"][f"{minutes:g}"] = point
        _write(out_json, record)
        print(f"{args.name}: {minutes:g} min, {point['steps']} steps -> {out_json}", flush=True)


def _summary(report: dict) -> dict:
    """A score report without its per-frame lists: each row's summary, and the expression coverage."""
    out = {row: values["summary"] for row, values in report["rows"].items()}
    out["coverage"] = {k: v for k, v in report.get("coverage", {}).items() if k != "reachable_frames"}
    return out


def _write(path: Path, record: dict) -> None:
    from sr_lib.files import atomic_path

    with atomic_path(path) as tmp:  # a failed write leaves the earlier record whole
        tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


def rescore(name: str, work: Path, clips: dict, log) -> None:
    """Score every checkpoint's swapped clips again with the current `score` (its swapped row and
    coverage; the blur control and the real frames compare a person with themself, which a change
    of the expression measure between people leaves alone, so they are kept)."""
    out_json = ROOT / "results" / "faceswap_trials" / f"{name}.json"
    record = json.loads(out_json.read_text())
    for minutes, point in record["checkpoints"].items():
        model = work / f"{name}_{minutes}" if (work / f"{name}_{minutes}").is_dir() else work / name
        for direction, source in (("a2b", "a"), ("b2a", "b")):
            old = json.loads((work / f"{name}_{minutes}_{direction}.json").read_text())
            report = work / f"{name}_{minutes}_{direction}.rescored.json"
            report.unlink(missing_ok=True)
            _run(_cli("score", str(clips[source]), str(work / f"{name}_{minutes}_{direction}.mp4"), str(model),
                      "--direction", direction, "--start", str(old["start"]), "--every-nth", str(old["every_nth"]),
                      "--no-control", "--json", str(report)), log)
            new = _summary(json.loads(report.read_text()))
            point[direction] = {**_summary(old), "swapped": new["swapped"], "coverage": new["coverage"]}
        point["rescored"] = True
    _write(out_json, record)
    print(f"{name}: rescored {len(record['checkpoints'])} checkpoints -> {out_json}", flush=True)


if __name__ == "__main__":
    main()
