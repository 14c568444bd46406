"""Face extraction speed on the two provided clips (detect, 68 landmarks, align, save PNG + JSON).

Extracts d6.mp4 and d14.mp4 (dataset ``face_clips``) into a temporary folder with
``faceswap_lib.extract.extract`` at its defaults (256 px crops, detection on a 256 px copy of the
frame), prints a table and writes results/extract_faces.json. The models are loaded before the
clock starts; their loading time is reported on its own line. Target: >= 10 frames/s on 2 CPU cores.

Needs the clips (SRFS_DATA_DIR pointing at the mirror, or the download cache / internet).
Usage: python benchmarks/extract_faces.py [--max-frames N] [--detect-size PX] [--out results/extract_faces.json]
"""

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from faceswap_lib.extract import extract
from faceswap_lib.landmarks import DEFAULT_DETECT_SIZE, load_models
from sr_lib.data import registry

CLIPS = ("d6.mp4", "d14.mp4")
TARGET_FPS = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-frames", type=int, default=None, help="frames per clip (default: all)")
    parser.add_argument("--detect-size", type=int, default=DEFAULT_DETECT_SIZE,
                        help="long side of the frame copy the detector sees; 0 = full resolution")
    parser.add_argument("--size", type=int, default=256, help="aligned crop size")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "results" / "extract_faces.json"))
    args = parser.parse_args()

    root = registry.fetch("face_clips") / registry.DATASETS["face_clips"].prefix
    started = time.perf_counter()
    load_models()
    model_seconds = time.perf_counter() - started

    rows = []
    with tempfile.TemporaryDirectory(prefix="extract_faces_") as tmp:
        for clip in CLIPS:
            summary = extract(root / clip, Path(tmp) / Path(clip).stem, size=args.size,
                              max_frames=args.max_frames, progress=False,
                              detect_size=args.detect_size or None)
            rows.append({"clip": clip, **{k: v for k, v in summary.as_dict().items() if k not in ("video", "out_dir")}})

    print(f"\nmodels loaded in {model_seconds:.1f} s (once per process, not counted below)")
    print(f"{'clip':<10}{'frames':>8}{'faces':>8}{'no face':>9}{'seconds':>9}{'frames/s':>10}")
    for r in rows:
        print(f"{r['clip']:<10}{r['frames_read']:>8}{r['faces_saved']:>8}{r['frames_without_face']:>9}"
              f"{r['seconds']:>9.1f}{r['frames_per_second']:>10.1f}")
    frames = sum(r["frames_read"] for r in rows)
    seconds = sum(r["seconds"] for r in rows)
    overall = frames / seconds
    print(f"{'total':<10}{frames:>8}{sum(r['faces_saved'] for r in rows):>8}"
          f"{sum(r['frames_without_face'] for r in rows):>9}{seconds:>9.1f}{overall:>10.1f}"
          f"   (target >= {TARGET_FPS:.0f} frames/s: {'met' if overall >= TARGET_FPS else 'NOT met'})")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "benchmark": "extract_faces",
        "machine": {"python": platform.python_version(), "processor": platform.machine(),
                    "cpu_count": os.cpu_count()},
        "settings": {"size": args.size, "detect_size": args.detect_size or None, "max_frames": args.max_frames},
        "model_load_seconds": round(model_seconds, 2),
        "clips": rows,
        "total": {"frames_read": frames, "seconds": seconds, "frames_per_second": overall},
        "target_frames_per_second": TARGET_FPS,
    }, indent=1) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
