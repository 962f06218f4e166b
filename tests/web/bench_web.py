"""Web load benchmark (issue 14, item 8): prints numbers, asserts nothing.

    uv run python -m tests.web.bench_web [--seconds 20] [--load-seconds 60]

1. pipeline FPS with 0 vs 5 MJPEG viewers: the bundled still-scene clip read as fast as the
   model takes frames (not paced), one camera, the bundled model on this machine's CPU;
2. 20 MJPEG viewers (one of them stalled: it never reads) + 50 API requests/s for N s on
   loopback: errors, request latency, and the process's memory at start and end.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

import httpx


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def fps_over(server, seconds: float) -> float:
    stats = server.live.pipeline.status(0).stats
    start_frames, start = stats.frames, time.monotonic()
    time.sleep(seconds)
    return (server.live.pipeline.status(0).stats.frames - start_frames) / (time.monotonic() - start)


def viewer(url: str, stop: threading.Event, counts: list, index: int, stalled: bool = False) -> None:
    with httpx.stream("GET", url, timeout=30) as response:
        if stalled:  # connected, never reads: the server must drop frames for it, not queue them
            stop.wait()
            return
        for chunk in response.iter_bytes():
            counts[index] += chunk.count(b"--frame")
            if stop.is_set():
                return


def main() -> None:
    from fastsam_video.engines.pytorch import Segmenter
    from fastsam_video.pipeline import Pipeline
    from fastsam_video.web.app import create_app
    from fastsam_video.web.imaging import ImageSegmenter
    from fastsam_video.sources import LoopingSource
    from fastsam_video.web.service import LiveService
    from tests.web.conftest import Server, still_clip

    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--load-seconds", type=float, default=60.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    clip = still_clip(tmp, frames=60)
    segmenter = Segmenter(device="cpu", backend="auto")
    pipeline = Pipeline([], segmenter, queue_size=2, stay_open=True)
    live = LiveService(pipeline, lambda spec: LoopingSource(spec, realtime=False), output_dir=tmp)
    server = Server(create_app(live, ImageSegmenter(segmenter)), live)
    stream_url = f"{server.url}/api/cameras/0/stream.mjpg"
    try:
        live.add_camera(str(clip))
        time.sleep(5)  # warm up
        print(f"machine: {os.cpu_count()} cores, {segmenter!r}")
        idle = fps_over(server, args.seconds)
        stop, counts = threading.Event(), [0] * 5
        threads = [threading.Thread(target=viewer, args=(stream_url, stop, counts, i)) for i in range(5)]
        for t in threads:
            t.start()
        time.sleep(2)
        watched = fps_over(server, args.seconds)
        stop.set()
        for t in threads:
            t.join(10)
        encoded = live.camera(0).stream.encoded
        print(f"pipeline fps: 0 viewers {idle:.1f}, 5 viewers {watched:.1f} (ratio {watched / idle:.2f}); "
              f"JPEGs per viewer {min(counts)}-{max(counts)}, encoded in all {encoded}")

        # 20 viewers (one stalled) + 50 API requests/s
        stop, counts = threading.Event(), [0] * 20
        threads = [threading.Thread(target=viewer, args=(stream_url, stop, counts, i, i == 0)) for i in range(20)]
        for t in threads:
            t.start()
        time.sleep(2)
        mem_start, errors, latencies, sent = rss_mb(), 0, [], 0
        paths = ["/api/health", "/api/cameras", "/api/cameras/0/objects", "/api/cameras/0/snapshot.jpg",
                 "/api/cameras/0"]
        start = time.monotonic()
        mem_mid = None
        with httpx.Client(base_url=server.url, timeout=10) as client:
            while (elapsed := time.monotonic() - start) < args.load_seconds:
                due = start + sent / 50.0
                if due > time.monotonic():
                    time.sleep(due - time.monotonic())
                t0 = time.perf_counter()
                try:
                    ok = client.get(paths[sent % len(paths)]).status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - t0)
                errors += not ok
                sent += 1
                if mem_mid is None and elapsed > args.load_seconds / 2:
                    mem_mid = rss_mb()
        duration = time.monotonic() - start
        fps_load = server.live.pipeline.status(0).stats.inference_fps
        stop.set()
        for t in threads:
            t.join(10)
        latencies.sort()
        print(f"load: 20 viewers (1 stalled) + {sent / duration:.1f} API req/s for {duration:.0f} s: "
              f"{sent} requests, {errors} errors, p50 {latencies[len(latencies) // 2] * 1e3:.0f} ms, "
              f"p99 {latencies[int(len(latencies) * 0.99)] * 1e3:.0f} ms; pipeline {fps_load:.1f} fps; "
              f"JPEGs per live viewer {min(counts[1:])}-{max(counts[1:])}; "
              f"RSS {mem_start:.0f} -> {mem_mid:.0f} -> {rss_mb():.0f} MB (start, middle, end)")
    finally:
        server.close()


if __name__ == "__main__":
    main()
