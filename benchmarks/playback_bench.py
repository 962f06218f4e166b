"""Playback of a file camera (issue 26, item 5): how long from a command (step back, seek) to
its frame shown by the pipeline (decoded exactly, through the model and the tracker, rendered),
and from a prompt on the paused frame to its mask shown. Prints numbers, asserts nothing.

    uv run python benchmarks/playback_bench.py [--frames 120] [--size 1920x1080] [--repeats 10]

The clip is made here (H.264, a keyframe every 60 frames, B-frames); the bundled model on the CPU
(ONNX Runtime). The decode part alone is sources/seeking.py's (see its benchmark, bench_seek).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import av
import numpy as np


def make_clip(path: Path, frames: int, size: tuple[int, int]) -> Path:
    w, h = size
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (h // 8, w // 8, 3), np.uint8).repeat(8, 0).repeat(8, 1)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": "23", "g": "60", "bf": "2", "preset": "veryfast"}
        for k in range(frames):
            image = np.roll(base, 4 * k, axis=1).copy()
            cv = (w // 2 + int(w / 4 * np.sin(k / 10)), h // 2)
            image[cv[1] - h // 8:cv[1] + h // 8, cv[0] - h // 8:cv[0] + h // 8] = (40, 40, 220)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


class Shown:
    def __init__(self):
        self.latest, self.cond = None, threading.Condition()

    def __call__(self, result):
        with self.cond:
            self.latest = result
            self.cond.notify_all()

    def wait(self, predicate, timeout=60.0):
        with self.cond:
            if not self.cond.wait_for(lambda: self.latest is not None and predicate(self.latest), timeout):
                raise TimeoutError("nothing shown")
            return self.latest


def ms(values):
    values = sorted(values)
    return f"median {statistics.median(values) * 1e3:.0f} ms, max {values[-1] * 1e3:.0f} ms (n={len(values)})"


def main() -> None:
    from fastsam_video.engines import open_engine
    from fastsam_video.options import ModelOptions
    from fastsam_video.pipeline import Pipeline
    from fastsam_video.sources.playback import PlaybackSource
    from fastsam_video.tracker import ObjectPrompt, PromptSet

    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    segmenter = open_engine(ModelOptions(device="cpu", backend="onnx"))
    with tempfile.TemporaryDirectory() as folder:
        clip = make_clip(Path(folder) / "clip.mp4", args.frames, size)
        shown = Shown()
        pipeline = Pipeline(PlaybackSource(clip), segmenter, PromptSet(everything=False), on_result=shown,
                            stay_open=True)
        with pipeline:
            playback = pipeline.playback(0)
            shown.wait(lambda r: r.frame.index >= 5)
            start = time.perf_counter()
            playback.pause()
            time.sleep(1.0)
            steps, seeks, prompts = [], [], []
            rng = np.random.default_rng(1)
            for _ in range(args.repeats):
                target = int(rng.integers(0, args.frames))
                start = time.perf_counter()
                playback.seek(target)
                shown.wait(lambda r: r.frame.index == target)
                seeks.append(time.perf_counter() - start)
                if target > 0:
                    start = time.perf_counter()
                    playback.step(-1)
                    shown.wait(lambda r: r.frame.index == target - 1)
                    steps.append(time.perf_counter() - start)
            for oid in range(1, 1 + min(args.repeats, 5)):
                shown_now = shown.latest
                x, y = (shown_now.frame.image.shape[1] // 2 + int(size[0] / 4 * np.sin(shown_now.frame.index / 10)),
                        size[1] // 2)
                start = time.perf_counter()
                pipeline.set_prompts(pipeline.prompts_of(0).add(
                    ObjectPrompt(oid, points=((x, y),), labels=(1,), pts=shown_now.frame.pts)), 0)
                result = shown.wait(lambda r: oid in r.segmentation.object_ids.tolist(), timeout=10)
                prompts.append(time.perf_counter() - start)
                assert result.frame.index == shown_now.frame.index  # on the paused frame, not played on
                pipeline.set_prompts(pipeline.prompts_of(0).remove(oid), 0)
                shown.wait(lambda r: oid not in r.segmentation.object_ids.tolist())
            stages = pipeline.status(0).stats.stage_ms
        print(f"{args.size}, {args.frames} frames, bundled model on the CPU (ONNX Runtime)")
        print(f"  seek to a random frame -> shown: {ms(seeks)}")
        print(f"  step back one frame   -> shown: {ms(steps)}")
        print(f"  prompt on the paused frame -> its mask shown: {ms(prompts)}")
        print("  last frame's stages (ms): " + ", ".join(f"{k} {v:.0f}" for k, v in stages.items()))


if __name__ == "__main__":
    main()
