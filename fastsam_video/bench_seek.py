"""Seek and step timings of `sources.seeking.SeekableVideo` (issue 26's targets: a seek to any
frame < 300 ms, one frame back < 100 ms, at 1080p).

    python -m fastsam_video.bench_seek [FILE ...] [--seconds 20] [--gop 30 --gop 250]
                                       [--preset veryfast] [--bframes 0]

Without FILE, 1080p H.264 files of --seconds are generated in a temporary folder (a panning
smooth texture with moving discs, libx264 --preset, a keyframe every --gop frames, --bframes
B-frames; `--gop 250 --preset medium --bframes 3` is x264's default). For each file it prints
the sequential decode rate and the keyframe intervals, hence the physical floor of a seek (the
frame before a keyframe needs the whole interval decoded), random seeks, the worst seeks (the
frame before each keyframe), and stepping back and forward one frame, paced like a held arrow
key (--pace seconds between steps) and back to back.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

from .sources.seeking import SeekableVideo


def generated_file(folder: Path, seconds: float, gop: int, preset: str = "veryfast", bframes: int = 0,
                   size: tuple[int, int] = (1920, 1080)) -> Path:
    path = folder / f"bench-{size[1]}p-g{gop}-{preset}-b{bframes}.mp4"
    width, height = size
    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 255, (height // 16, width * 2 // 16, 3), dtype=np.uint8)
    texture = cv2.resize(coarse, (width * 2, height), interpolation=cv2.INTER_CUBIC)
    grain = rng.integers(-6, 6, texture.shape, dtype=np.int16)  # sensor-like noise: a real bitrate
    texture = np.clip(texture.astype(np.int16) + grain, 0, 255).astype(np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": preset, "g": str(gop), "bf": str(bframes), "crf": "23"}
        for n in range(int(seconds * 30)):
            shift = (n * 5) % width
            image = np.ascontiguousarray(texture[:, shift:shift + width])
            for k in range(5):
                centre = (int((200 + k * 350 + n * 3 * (k + 1)) % width), int(200 + k * 150 + 80 * np.sin(n / 20 + k)))
                cv2.circle(image, centre, 60 + 10 * k, (40 * k, 255 - 40 * k, 120), -1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def percentiles(values: list[float]) -> str:
    ms = np.asarray(values) * 1e3
    return f"median {np.median(ms):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms, max {ms.max():.0f} ms"


def decode_rate(path: Path, frames: int = 150) -> float:
    """Frames a second of plain sequential decoding (threaded, no conversion)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        started, count = time.perf_counter(), 0
        for _ in container.decode(stream):
            count += 1
            if count >= frames:
                break
        return count / (time.perf_counter() - started)


def timed(video: SeekableVideo, frames, pace: float = 0.0) -> list[float]:
    times = []
    for n in frames:
        t = time.perf_counter()
        video.frame(n)
        times.append(time.perf_counter() - t)
        if pace:
            time.sleep(pace)
    return times


def bench(path: Path, seeks: int = 40, steps: int = 90, pace: float = 1 / 30) -> str:
    load = os.getloadavg()[0]
    fps = decode_rate(path)
    started = time.perf_counter()
    video = SeekableVideo(path)
    index = time.perf_counter() - started
    try:
        keys = video.keyframe_numbers
        gops = np.diff(keys + [len(video)])
        floor = gops.max() / fps
        rng = np.random.default_rng(1)
        random_seeks = timed(video, rng.integers(0, len(video), seeks).tolist())
        worst = [k - 1 for k in keys[1:]][:: max(len(keys) // 15, 1)]
        worst_seeks = timed(video, rng.permutation(worst).tolist())
        start = keys[len(keys) // 2] + min(int(gops.max()), 60) // 2  # mid-file, into an interval
        lines = [f"{path.name}: {len(video)} frames, {path.stat().st_size * 8 / video.times[-1] / 1e6:.1f} Mbit/s, "
                 f"index {index * 1e3:.0f} ms, decode {fps:.0f} fps, keyframe interval {gops.min()}-{gops.max()} "
                 f"frames: a seek's floor {floor * 1e3:.0f} ms"
                 + ("  (over 300 ms: the target is out of reach for this file here)" if floor > 0.3 else ""),
                 f"  random seek ({len(random_seeks)}): {percentiles(random_seeks)}",
                 f"  seek to the frame before a keyframe ({len(worst_seeks)}): {percentiles(worst_seeks)}"]
        for label, gap in ((f"paced {pace * 1e3:.0f} ms", pace), ("back to back", 0.0)):
            video.frame(start)
            back = timed(video, range(start - 1, max(start - 1 - steps, -1), -1), gap)
            video.frame(start)
            forward = timed(video, range(start + 1, min(start + 1 + steps, len(video))), gap)
            lines += [f"  one frame back, {label} ({len(back)}): {percentiles(back)}",
                      f"  one frame forward, {label} ({len(forward)}): {percentiles(forward)}"]
        lines.append(f"  load average (1 min) {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")
        return "\n".join(lines)
    finally:
        video.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fastsam_video.bench_seek", description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="*", type=Path)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--gop", type=int, action="append", help="keyframe interval(s) of the generated files (default 30)")
    p.add_argument("--preset", default="veryfast", help="libx264 preset of the generated files")
    p.add_argument("--bframes", type=int, default=0, help="B-frames of the generated files")
    p.add_argument("--pace", type=float, default=1 / 30, help="seconds between paced steps (a key repeat)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        for path in args.files or [generated_file(Path(folder), args.seconds, gop, args.preset, args.bframes)
                                   for gop in (args.gop or [30])]:
            print(bench(path, pace=args.pace), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
