"""Per-frame render and DAVIS export cost at 1080p (5 objects over 20 faint masks), median of 80 calls.

    uv run python benchmarks/render_bench.py
"""
import time, numpy as np
from fastsam_video.bench import synthetic_segmentation
from fastsam_video.pipeline import FrameRenderer
from fastsam_video.tracker import PromptSet, ObjectPrompt, TrackResult
from fastsam_video.sinks import DavisExporter
import tempfile
seg = synthetic_segmentation(1080, 1920, 20)
image = np.random.default_rng(1).integers(0, 255, (1080, 1920, 3), dtype=np.uint8)
shown = seg.select(np.arange(5))
track = TrackResult(shown, (), (), ())
prompts = PromptSet((ObjectPrompt(1, box=(0, 0, 10, 10)),), everything=True)
r = FrameRenderer()
def med(f, n=80):
    f(); t = []
    for _ in range(n):
        s = time.perf_counter(); f(); t.append(time.perf_counter() - s)
    return np.median(t) * 1e3
print(f"render (5 objects over 20 faint masks, 1080p): {med(lambda: r.render(image, prompts, seg, track)):.2f} ms")
with tempfile.TemporaryDirectory() as d:
    ex = DavisExporter(d)
    print(f"DAVIS write (5 objects, 1080p): {med(lambda: ex.write(0, shown)):.2f} ms")
