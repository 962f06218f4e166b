"""Whole-process start-up: how long `fastsam-video` takes to answer, median of N runs.

    python benchmarks/startup.py [--runs 5] [--checkout DIR ...]

Times, for the code in this checkout and for each other DIR (e.g. an older commit unpacked with
`git archive <commit> | tar -x -C DIR`), run with this interpreter and its packages:
`--help`, an argument error, a missing file and `image` on a bundled picture (the bundled model,
the default backend). Each process starts cold apart from the OS file cache (a first unmeasured
run warms it). Prints one table; the numbers go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGE = ROOT / "samples" / "images" / "scene0.jpg"
CASES = {
    "--help": ["--help"],
    "argument error (run --imgsz -5)": ["run", "clip.mp4", "--imgsz", "-5"],
    "missing file (image missing.jpg)": ["image", "missing.jpg"],
    "image (bundled model, scene0.jpg)": ["image", str(IMAGE), "--output", "{out}"],
}


def time_once(checkout: Path, argv: list[str], out: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(checkout), "DISPLAY": "", "WAYLAND_DISPLAY": ""}
    started = time.perf_counter()  # cwd: not a checkout, whose fastsam_video would come first on sys.path
    subprocess.run([sys.executable, "-m", "fastsam_video", *(a.format(out=out) for a in argv)], env=env, cwd=out,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=300)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--checkout", type=Path, action="append", default=[], help="another source tree to time")
    args = parser.parse_args()
    checkouts = [ROOT, *args.checkout]
    print(f"whole-process time, median of {args.runs} runs ({time.strftime('%Y-%m-%d %H:%M')}, "
          f"{os.cpu_count()} cores, Python {sys.version.split()[0]})")
    print(f"{'case':<36}" + "".join(f"{c.name[:18]:>20}" for c in checkouts))
    with tempfile.TemporaryDirectory() as out:
        for name, argv in CASES.items():
            row = []
            for checkout in checkouts:
                time_once(checkout, argv, out)  # warm the file cache (and the ONNX export cache)
                row.append(statistics.median(time_once(checkout, argv, out) for _ in range(args.runs)))
            print(f"{name:<36}" + "".join(f"{t:>19.2f}s" for t in row), flush=True)


if __name__ == "__main__":
    main()
