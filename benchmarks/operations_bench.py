"""Operations figures (issue 23): prints numbers, asserts nothing.

    uv run python -m benchmarks.operations_bench [--scrapes 200]

1. set-up errors of `serve`: wall time from the process's start to its exit (status, lines);
2. `GET /api/metrics` with 8 cameras running (the bundled model, looping clips): scrape time
   p50 / p95 / max over N scrapes, and the body size;
3. the state file: mean atomic save time (write, fsync, rename, fsync of the folder) for 8
   cameras with 5 objects each.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np


def setup_errors(tmp: Path) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    broken = tmp / "site.yaml"
    broken.write_text("cameras:\n  door:\n    source: /data/door.mp4\n    realtime: maybe\n")
    cases = {"--port 80000": ["--port", "80000"], "port in use": ["--port", str(busy.getsockname()[1])],
             "foreign --host 192.0.2.1": ["--host", "192.0.2.1"], "unresolvable --host": ["--host", "nosuch.invalid"],
             "broken config": ["--config", str(broken)]}
    print("1. serve set-up errors (wall time of the whole process, 3 runs each)")
    for name, args in cases.items():
        times, last = [], None
        for _ in range(3):
            started = time.perf_counter()
            last = subprocess.run([sys.executable, "-m", "fastsam_video", "serve", *args], capture_output=True,
                                  text=True, timeout=60)
            times.append(time.perf_counter() - started)
        lines = len(last.stderr.strip().splitlines())
        print(f"   {name:26s} status {last.returncode}, {lines} line, {min(times):.2f} / {max(times):.2f} s "
              "(min / max)")
    busy.close()


def scrape(tmp: Path, scrapes: int) -> None:
    from fastsam_video.engines import open_engine
    from fastsam_video.options import ModelOptions
    from fastsam_video.pipeline import Pipeline
    from fastsam_video.web.app import create_app
    from fastsam_video.web.imaging import ImageSegmenter
    from fastsam_video.web.service import LiveService
    from tests.web.conftest import Server, opener, still_clip

    segmenter = open_engine(ModelOptions(device="cpu", imgsz=160))
    clip = still_clip(tmp)
    pipeline = Pipeline([], segmenter, queue_size=2, stay_open=True)
    live = LiveService(pipeline, opener, output_dir=tmp)
    for _ in range(8):
        live.add_camera(str(clip))
    server = Server(create_app(live, ImageSegmenter(segmenter, None)), live)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            deadline = time.monotonic() + 60
            while not all(c["state"] == "running" for c in client.get("/api/cameras").json()):
                assert time.monotonic() < deadline
                time.sleep(0.2)
            client.get("/api/metrics")
            times, size = [], 0
            for _ in range(scrapes):
                started = time.perf_counter()
                body = client.get("/api/metrics").content
                times.append((time.perf_counter() - started) * 1e3)
                size = len(body)
                time.sleep(0.01)
            fps = sum(live.status(c.id).stats.inference_fps for c in live.cameras())
        t = np.array(times)
        print(f"2. GET /api/metrics, 8 cameras running ({fps:.1f} results/s in all), {scrapes} scrapes: "
              f"p50 {np.percentile(t, 50):.1f} ms, p95 {np.percentile(t, 95):.1f} ms, max {t.max():.1f} ms, "
              f"{size} bytes")
    finally:
        server.close()


def state_saves(tmp: Path) -> None:
    from fastsam_video.config import PromptConfig
    from fastsam_video.state import SavedCamera, SavedState, StateFile

    state = SavedState(cameras=[SavedCamera(id=i, source=f"rtsp://cam/{i}",
                                            objects=[PromptConfig(id=j, box=[0, 0, 10, 10]) for j in range(1, 6)])
                                for i in range(8)])
    file = StateFile(tmp / "state.json")
    started = time.perf_counter()
    for _ in range(100):
        file.save(state)
    print(f"3. state file save (8 cameras x 5 objects, {file.path.stat().st_size} bytes): "
          f"{(time.perf_counter() - started) * 10:.2f} ms each (100 saves)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scrapes", type=int, default=200)
    args = parser.parse_args()
    print(f"operations bench ({time.strftime('%Y-%m-%d %H:%M')})")
    with tempfile.TemporaryDirectory() as tmp:
        setup_errors(Path(tmp))
        scrape(Path(tmp), args.scrapes)
        state_saves(Path(tmp))


if __name__ == "__main__":
    main()
