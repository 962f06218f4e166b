"""Seek and step timings of `sources.seeking.SeekableVideo` (issue 26's targets: a seek to any
frame < 300 ms, one frame back < 100 ms, at 1080p).

    python -m fastsam_video.bench_seek [FILE ...] [--seconds 20] [--gop 60]

Without FILE, a 1080p H.264 file of --seconds is generated (moving texture, libx264
ultrafast, a keyframe every --gop frames) in a temporary folder.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from .sources.seeking import SeekableVideo


def generated_file(folder: Path, seconds: float, gop: int, size: tuple[int, int] = (1920, 1080)) -> Path:
    path = folder / f"bench-{size[1]}p-g{gop}.mp4"
    width, height = size
    texture = np.random.default_rng(0).integers(0, 255, (height, width * 2, 3), dtype=np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": str(gop), "crf": "28"}
        for n in range(int(seconds * 30)):
            shift = (n * 7) % width
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(texture[:, shift:shift + width]), format="bgr24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def percentiles(values: list[float]) -> str:
    ms = np.asarray(values) * 1e3
    return f"median {np.median(ms):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms, max {ms.max():.0f} ms"


def bench(path: Path, seeks: int = 30, steps: int = 60) -> str:
    started = time.perf_counter()
    video = SeekableVideo(path)
    index = time.perf_counter() - started
    try:
        rng = np.random.default_rng(1)
        seek_times = []
        for n in rng.integers(0, len(video), seeks).tolist():
            t = time.perf_counter()
            video.frame(n)
            seek_times.append(time.perf_counter() - t)
        start = len(video) // 2
        video.frame(start)
        back = []
        for n in range(start - 1, max(start - 1 - steps, -1), -1):
            t = time.perf_counter()
            video.frame(n)
            back.append(time.perf_counter() - t)
        forward = []
        for n in range(start, min(start + steps, len(video))):
            t = time.perf_counter()
            video.frame(n)
            forward.append(time.perf_counter() - t)
        return (f"{path.name}: {len(video)} frames, index {index * 1e3:.0f} ms\n"
                f"  random seek ({seeks}): {percentiles(seek_times)}\n"
                f"  one frame back ({len(back)}): {percentiles(back)}\n"
                f"  one frame forward ({len(forward)}): {percentiles(forward)}")
    finally:
        video.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fastsam_video.bench_seek", description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="*", type=Path)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--gop", type=int, action="append", help="keyframe interval(s) of the generated file (default 60)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        files = args.files or [generated_file(Path(folder), args.seconds, gop) for gop in (args.gop or [60])]
        for path in files:
            print(bench(path), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
