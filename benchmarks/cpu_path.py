"""Issue 16's whole-process targets on the CPU, side by side in one run (medians of N, alternated).

    python benchmarks/cpu_path.py [--runs 5] [--clip ../shared/clips/blackswan.mp4]

Each row is a fresh process, timed from spawn to exit, its peak memory from wait4 (ru_maxrss):
- image: `fastsam-video image` (default: no PyTorch when the ONNX file is there), the same with
  `--backend torch`, and the job written the way FastSAM's README does it (ultralytics
  `FastSAM(model)(image, ...)`, then plot and save), same model, image and settings;
- run: `fastsam-video run CLIP --imgsz 640` (50 frames), the same with `--backend torch`, and
  ultralytics' `FastSAM(model)(clip, stream=True, imgsz=640)` loop; and `run`'s own
  "first frame X s after start" line (plus the interpreter's start-up before the CLI's clock).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGE = ROOT / "samples" / "images" / "scene0.jpg"
MODEL = ROOT / "weights" / "fastsam-video-n.pt"

README_IMAGE = """
import sys
from ultralytics import FastSAM
model = FastSAM(sys.argv[1])
results = model(sys.argv[2], device="cpu", retina_masks=True, imgsz=320, conf=0.4, iou=0.7, verbose=False)
results[0].save(filename=sys.argv[3])  # plot and save, as FastSAM's README does with FastSAMPrompt.plot
"""
README_STREAM = """
import sys
from ultralytics import FastSAM
frames = 0
for result in FastSAM(sys.argv[1])(sys.argv[2], stream=True, device="cpu", retina_masks=True, imgsz=640,
                                    conf=0.4, iou=0.7, verbose=False):
    frames += 1
assert frames == 50, frames
"""


def timed(argv: list[str], cwd: str) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB, stderr) of one process."""
    env = {**os.environ, "DISPLAY": "", "WAYLAND_DISPLAY": "", "YOLO_OFFLINE": "1"}
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({process.returncode}): {err[-500:]}")
    return elapsed, usage.ru_maxrss / 1024, err


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--clip", type=Path, default=ROOT.parent / "shared" / "clips" / "blackswan.mp4")
    args = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as out:
        cli = [py, "-m", "fastsam_video"]
        cases = {
            "image: fastsam-video image": [*cli, "image", str(IMAGE), "--output", out],
            "image: fastsam-video image --backend torch": [*cli, "image", str(IMAGE), "--output", out,
                                                           "--backend", "torch"],
            "image: FastSAM README way (ultralytics)": [py, "-c", README_IMAGE, str(MODEL), str(IMAGE),
                                                        f"{out}/readme.png"],
            "run: fastsam-video run --imgsz 640": [*cli, "run", str(args.clip), "--imgsz", "640"],
            "run: fastsam-video run --imgsz 640 --backend torch": [*cli, "run", str(args.clip), "--imgsz", "640",
                                                                   "--backend", "torch"],
            "run: ultralytics stream=True loop": [py, "-c", README_STREAM, str(MODEL), str(args.clip)],
        }
        interpreter = statistics.median(timed([py, "-c", "pass"], out)[0] for _ in range(5))
        samples: dict[str, list[tuple[float, float, float | None]]] = {name: [] for name in cases}
        for argv in cases.values():  # warm the file cache and the ONNX export cache, unmeasured
            timed(argv, out)
        for _ in range(args.runs):  # alternated: the machine's load falls on every case alike
            for name, argv in cases.items():
                seconds, peak, err = timed(argv, out)
                first = re.search(r"first frame ([\d.]+) s after start", err)
                samples[name].append((seconds, peak, float(first.group(1)) + interpreter if first else None))
    print(f"whole process, median of {args.runs} ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}; interpreter start-up {interpreter * 1e3:.0f} ms)")
    print(f"{'case':<52}{'time':>9}{'peak RSS':>11}{'first frame':>13}")
    medians = {}
    for name, rows in samples.items():
        seconds = statistics.median(r[0] for r in rows)
        peak = statistics.median(r[1] for r in rows)
        firsts = [r[2] for r in rows if r[2] is not None]
        first = f"{statistics.median(firsts):.2f} s" if firsts else "-"
        medians[name] = seconds
        print(f"{name:<52}{seconds:>8.2f}s{peak:>8.0f} MB{first:>13}")
    names = list(cases)
    print(f"image: README way / fastsam-video = {medians[names[2]] / medians[names[0]]:.2f}x (target >= 4)")
    print(f"run: ultralytics loop / fastsam-video = {medians[names[5]] / medians[names[3]]:.2f}x (target >= 1.5)")


if __name__ == "__main__":
    main()
