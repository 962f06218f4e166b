"""Zone analysis cost per frame at 1080p: 10 zones and 5 lines against 20 tracked objects
(ellipses of 3-15 % of the frame, moving between 4 poses so that they enter, leave and cross),
presence by mask share (the default) and by bottom-centre, and drawing the zones; median and
p95 of 200 frames.

    uv run python benchmarks/zones_bench.py
"""
import time

import numpy as np

from fastsam_video.analytics import Line, Zone, ZoneSet
from fastsam_video.analytics.analyser import ZoneAnalyser
from fastsam_video.bench import synthetic_segmentation
from fastsam_video.render import draw_zones
from fastsam_video.types import Segmentation

H, W, FRAMES = 1080, 1920, 200
rng = np.random.default_rng(3)
base = synthetic_segmentation(H, W, 20)
poses = []
for dx in (0, 90, 180, 90):  # objects move right and back: entries, exits and crossings every few frames
    masks = np.roll(base.masks, dx, axis=2)
    boxes = base.boxes + np.array([dx, 0, dx, 0], np.float32)
    poses.append(Segmentation(masks, np.clip(boxes, 0, W), base.scores, np.arange(1, 21)))


def zones(presence: str) -> ZoneSet:
    regions = []
    for i in range(10):
        x, y = rng.uniform(0.05, 0.6), rng.uniform(0.05, 0.6)
        w, h = rng.uniform(0.15, 0.35), rng.uniform(0.15, 0.35)
        regions.append(Zone(f"zone{i}", ((x, y), (x + w, y), (x + w * 1.1, y + h), (x - w * 0.1 + 0.1, y + h)),
                            presence=presence, loiter_seconds=2.0))
    for i in range(5):
        x = 0.15 + 0.15 * i
        regions.append(Line(f"line{i}", (x, 0.05), (x + 0.05, 0.95)))
    return ZoneSet(tuple(regions))


def timed(presence: str) -> tuple[np.ndarray, np.ndarray, int]:
    analyser = ZoneAnalyser(zones(presence))
    image = np.zeros((H, W, 3), np.uint8)
    analyse, draw, events = [], [], 0
    alive = set(range(1, 21))
    for f in range(FRAMES):
        seg = poses[(f // 5) % len(poses)]
        start = time.perf_counter()
        update = analyser.update(seg, alive, f, f / 30)
        middle = time.perf_counter()
        draw_zones(image, analyser.zones, update.counts, [])
        analyse.append(middle - start)
        draw.append(time.perf_counter() - middle)
        events += len(update.events)
    return np.array(analyse) * 1e3, np.array(draw) * 1e3, events


if __name__ == "__main__":
    for presence in ("mask", "bottom_center", "mask", "bottom_center"):  # alternated: the machine is shared
        analyse, draw, events = timed(presence)
        print(f"presence {presence:13s}: analyse {np.median(analyse):.2f} ms (p95 {np.percentile(analyse, 95):.2f}), "
              f"draw {np.median(draw):.2f} ms (p95 {np.percentile(draw, 95):.2f}), {events} events in {FRAMES} frames")
