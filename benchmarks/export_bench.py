"""COCO export at length: time and memory of `CocoExporter` for many frames of small masks.

    uv run python benchmarks/export_bench.py                 # 100,000 frames, 160x120, 3 masks each
    uv run python benchmarks/export_bench.py --frames 20000 --baseline f485815

Prints the writing rate, resident memory (RSS) every tenth of the run and its peak growth, the
time and memory to write the final COCO JSON, and the file sizes. `--baseline COMMIT` also runs
the exporter of that commit (`fastsam_video/sinks.py` as it was) on the same frames, for a
side-by-side (the exporter before issue 12 rewrote its whole file every 100 frames).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from fastsam_video.sinks import CocoExporter
from fastsam_video.types import Segmentation

REPO = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


class PeakRss:
    """The highest RSS seen by a thread sampling every 5 ms, from `start()` on."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss sampler")

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_mb())

    def __enter__(self) -> PeakRss:
        self.peak = rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def frames(count: int, height: int, width: int, variants: int = 64) -> list[Segmentation]:
    """`variants` different frames of 3 small masks each (a moving box, a disc, a thin bar)."""
    y, x = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    out = []
    for i in range(min(count, variants)):
        masks = torch.zeros((3, height, width), dtype=torch.bool)
        masks[0, 10 + i % 20:40 + i % 20, 5 + i:45 + i] = True
        masks[1] = (y - height // 2) ** 2 + (x - width // 2 - i % 30) ** 2 < (12 + i % 8) ** 2
        masks[2, height - 12:height - 8, :width // 2 + i] = True
        boxes = torch.tensor([[0, 0, width, height]] * 3, dtype=torch.float32)
        out.append(Segmentation(masks, boxes, torch.tensor([0.9, 0.8, 0.7]), torch.tensor([1, 2, 3])))
    return out


def old_exporter(commit: str):
    """The CocoExporter class of `fastsam_video/sinks.py` at `commit`."""
    source = subprocess.run(["git", "show", f"{commit}:fastsam_video/sinks.py"], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "fastsam_video_old_sinks.py"
    path.write_text(source.replace("from .", "from fastsam_video."))
    spec = importlib.util.spec_from_file_location("fastsam_video_old_sinks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CocoExporter


def run(exporter_class, count: int, variants: list[Segmentation], folder: Path, label: str) -> None:
    path = folder / f"{label}.json"
    base = rss_mb()
    print(f"{label}: {count} frames, RSS at start {base:.0f} MB")
    with PeakRss() as writing:
        exporter = exporter_class(path)
        start = time.perf_counter()
        for i in range(count):
            exporter.write(i, variants[i % len(variants)])
            if (i + 1) % max(1, count // 10) == 0:
                print(f"  {i + 1:7d} frames  {time.perf_counter() - start:7.1f} s  RSS {rss_mb():6.0f} MB", flush=True)
        wrote = time.perf_counter() - start
    jsonl = getattr(exporter, "jsonl", None)
    lines_mb = jsonl.stat().st_size / 2**20 if jsonl is not None and jsonl.exists() else 0.0
    with PeakRss() as closing:
        start = time.perf_counter()
        exporter.close()
        closed = time.perf_counter() - start
    print(f"  writing: {wrote:.1f} s, {count / wrote:.0f} frames/s ({wrote / count * 1e6:.0f} us/frame), peak RSS "
          f"+{writing.peak - base:.1f} MB" + (f", JSON Lines {lines_mb:.1f} MB" if lines_mb else ""))
    print(f"  close (final COCO JSON): {closed:.1f} s, peak RSS +{closing.peak - base:.1f} MB, "
          f"JSON {path.stat().st_size / 2**20:.1f} MB")
    with open(path) as file:  # a check outside the measured part: the file is whole and complete
        data = json.load(file)
    assert len(data["images"]) == count and len(data["annotations"]) == 3 * count, "incomplete export"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--size", default="160x120", help="frame WIDTHxHEIGHT")
    parser.add_argument("--baseline", metavar="COMMIT", help="also run the exporter of this commit")
    parser.add_argument("--out", type=Path, help="folder for the files (default: a temporary one)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    torch.set_num_threads(1)
    print(f"export bench  ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)")
    print(f"machine: {platform.machine()}, {platform.python_version()}; frames {width}x{height}, 3 masks each")
    variants = frames(args.frames, height, width)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.out or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        run(CocoExporter, args.frames, variants, folder, "streamed")
        if args.baseline:
            run(old_exporter(args.baseline), args.frames, variants, folder, f"baseline-{args.baseline}")


if __name__ == "__main__":
    sys.exit(main())
