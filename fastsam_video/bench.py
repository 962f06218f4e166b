"""Benchmarks that print numbers, measured side by side in one run on the same frames.

    fastsam-video bench pipeline [SOURCE]   bare forward vs this pipeline vs ultralytics' stream loop
    fastsam-video bench prompts             selection + rendering vs FastSAM-style per-mask loops
    fastsam-video bench tracker             tracker cost with 10 objects beside the forward pass
    fastsam-video bench soak [SOURCE]       a live camera for --minutes: host and GPU memory stay flat

Speed targets are ratios from one run: the machine is shared and noisy, absolute times are not.
"""

from __future__ import annotations

import contextlib
import gc
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np

from .prompts import masks_to_boxes, select_by_boxes, select_by_points
from .render import Annotator
from .sources import FrameSource
from .types import Segmentation

if TYPE_CHECKING:
    from .engines import SegmentationEngine as Segmenter

ARCHITECTURES = {"fastsam-s": "yolov8s-seg.yaml", "fastsam-x": "yolov8x-seg.yaml"}


def loaded_torch():
    """torch when the engine has loaded it, else None: a benchmark never imports it just to report."""
    return sys.modules.get("torch")


def machine() -> str:
    torch = loaded_torch()
    if torch is None:
        return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; no PyTorch in the process"
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {gpu}; torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads")


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def architecture_checkpoint(name: str, folder: Path) -> Path:
    """FastSAM-s / FastSAM-x architecture with random weights, saved in FastSAM's format (timing only)."""
    import torch
    from ultralytics.nn.tasks import SegmentationModel

    path = folder / f"{name}-random.pt"
    if not path.exists():
        torch.manual_seed(0)
        model = SegmentationModel(ARCHITECTURES[name], nc=1, verbose=False)
        torch.save({"model": model.half(), "train_args": {"task": "segment"}}, path)
    return path


def timed(fn: Callable[[], object], repeat: int, sync: Callable[[], None] = lambda: None) -> float:
    """Median milliseconds of `repeat` calls after one warm-up call."""
    fn()
    sync()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        sync()
        samples.append(time.perf_counter() - start)
    return float(np.median(samples) * 1e3)


# ---------------------------------------------------------------- pipeline

def decode_all(source: str, limit: int) -> tuple[list[np.ndarray], float, float]:
    """Frames of `source` in memory, the decode cost per frame (ms), and the source's frame rate."""
    from .sources import open_source

    frames = []
    start = time.perf_counter()
    with open_source(source) as src:
        fps = src.fps or 30.0
        for frame in src:
            frames.append(frame.image)
            if len(frames) >= limit:
                break
    return frames, (time.perf_counter() - start) / max(len(frames), 1) * 1e3, fps


class ReplaySource(FrameSource):
    """Frames from memory as a live camera: frame i is ready at start + i / fps on the wall
    clock (the pipeline drops what it cannot keep up with), looping for `seconds` if given."""

    live = True

    def __init__(self, frames: list[np.ndarray], fps: float, seconds: float | None = None):
        super().__init__()
        self.frames, self.fps = frames, fps
        self.name = f"live replay at {fps:g} fps"
        self._count = round(seconds * fps) if seconds else len(frames)
        self._start: float | None = None

    def _read_image(self) -> tuple[np.ndarray, float] | None:
        i = self._next_index
        if i >= self._count:
            return None
        if self._start is None:
            self._start = time.monotonic()
        time.sleep(max(self._start + i / self.fps - time.monotonic(), 0.0))
        return self.frames[i % len(self.frames)], i / self.fps


def gpu_memory_mb() -> str:
    torch = loaded_torch()
    if torch is None or not torch.cuda.is_available():
        return "no GPU"
    return (f"{torch.cuda.memory_allocated() / 2**20:.0f} MB allocated, "
            f"{torch.cuda.memory_reserved() / 2**20:.0f} MB reserved")


def box_prompts(segmenter: Segmenter, image: np.ndarray, objects: int):
    """Box prompts on the `objects` highest-scoring masks of `image`."""
    from .tracking import ObjectPrompt, PromptSet

    first = segmenter.segment(image)
    order = np.argsort(-first.scores, kind="stable")[:objects]
    return PromptSet(tuple(ObjectPrompt(i + 1, box=tuple(first.boxes[k].tolist()))
                           for i, k in enumerate(order.tolist())))


def run_pipeline(source: FrameSource, segmenter: Segmenter, prompts, folder: Path, frames: int | None = None):
    """(seconds per frame, mean stage ms, stats snapshot, encode ms) for one pipeline run that
    tracks, renders and records."""
    from .pipeline import Pipeline

    pipeline = Pipeline(source, segmenter, prompts, record=folder / f"bench-{time.monotonic_ns()}.mp4",
                        max_frames=frames)
    sums: dict[str, float] = {}

    def collect(result) -> None:
        for key, value in pipeline.stats.stage_ms.items():
            sums[key] = sums.get(key, 0.0) + value

    pipeline.on_result = collect
    start = time.perf_counter()
    with pipeline:
        pipeline.wait()
        snap = pipeline.snapshot()
    seconds = (time.perf_counter() - start) / max(snap.frames, 1)
    return seconds, {k: v / max(snap.frames, 1) for k, v in sums.items()}, snap, pipeline.stats.encode_ms


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def bare_forward(forward: Callable[[np.ndarray], object], inputs: list[np.ndarray],
                 sync: Callable[[], None]) -> float:
    """Seconds per frame of the network alone on prepared inputs (after one warm-up call)."""
    forward(inputs[0])
    sync()
    start = time.perf_counter()
    for x in inputs:
        forward(x)
    sync()
    return (time.perf_counter() - start) / len(inputs)


def torch_forward(model) -> Callable[[np.ndarray], object]:
    """A PyTorch model's forward pass on numpy inputs, without autograd."""
    import torch

    def forward(x: np.ndarray):
        with torch.inference_mode():
            return model(torch.from_numpy(x))
    return forward


def ultralytics_loop(source: str, segmenter: Segmenter, frames: list[np.ndarray]) -> float:
    """Seconds per frame of ultralytics' `FastSAM(...)(source, stream=True)` with the same settings,
    its PyTorch on every core (as a user runs it)."""
    from ultralytics import FastSAM

    with torch_threads(os.cpu_count() or 1):
        model = FastSAM(str(segmenter.weights))
        kwargs = dict(stream=True, imgsz=segmenter.imgsz, conf=segmenter.conf, iou=segmenter.iou,
                      max_det=segmenter.max_det, retina_masks=segmenter.retina, device=str(segmenter.device),
                      verbose=False, **({"half": True} if segmenter.half else {}))
        for _ in model(frames[0], **{**kwargs, "stream": False}):
            pass  # warm-up
        start = time.perf_counter()
        count = 0
        for _ in model(source, **kwargs):
            count += 1
            if count >= len(frames):
                break
        return (time.perf_counter() - start) / max(count, 1)


def bench_pipeline(source: str, segmenter: Segmenter, frames_limit: int, objects: int,
                   run_ultralytics: bool = True) -> str:
    from .sources import open_source

    frames, decode_ms, fps = decode_all(source, frames_limit)
    n = len(frames)
    lines = [f"machine: {machine()}", f"model: {segmenter!r}",
             f"source: {source} ({n} frames, {frames[0].shape[1]}x{frames[0].shape[0]}, {fps:g} fps)", ""]
    rss_start, gpu_start = rss_mb(), gpu_memory_mb()

    # (a) the bare forward pass on the same frames, inputs prepared beforehand
    sync = segmenter._sync
    inputs = [np.asarray(segmenter.preprocess([f])[0]) for f in frames]
    forward_s = bare_forward(segmenter.forward, inputs, sync)
    # the reference, at its best: PyTorch on every core (when the engine has a PyTorch model)
    torch_reference = segmenter.backend != "torch" and hasattr(segmenter, "model")
    torch_forward_s = forward_s
    if torch_reference:
        with torch_threads(os.cpu_count() or 1):
            torch_forward_s = bare_forward(torch_forward(segmenter.model), inputs, sync)
    del inputs

    # (b) this pipeline end to end: decode thread, model thread, results thread (NMS, masks,
    # tracking, rendering), encode thread; then (d) the same as a live camera at the clip's rate
    prompts = box_prompts(segmenter, frames[0], objects)
    with tempfile.TemporaryDirectory() as tmp:
        pipeline_s, stages, _, encode_ms = run_pipeline(open_source(source), segmenter, prompts, Path(tmp), n)
        _, _, live, _ = run_pipeline(ReplaySource(frames, fps), segmenter, prompts, Path(tmp))

    # (c) ultralytics' own FastSAM stream loop, equivalent settings
    ultra_s = ultralytics_loop(source, segmenter, frames) if run_ultralytics else None
    gc.collect()

    def row(name: str, seconds: float) -> str:
        return f"{name:<40}{1 / seconds:>8.1f}{seconds * 1e3:>10.1f}"

    lines += [f"{'run':<40}{'fps':>8}{'ms/frame':>10}", row(f"(a) bare forward pass ({segmenter.backend})", forward_s)]
    if torch_reference:
        lines.append(row("(a) bare forward pass (PyTorch)", torch_forward_s))
    lines.append(row("(b) this pipeline, end to end", pipeline_s))
    if ultra_s:
        lines.append(row("(c) ultralytics FastSAM stream", ultra_s))
    stage_text = ", ".join(f"{k} {v:.1f}" for k, v in stages.items())
    ratios = [f"pipeline / bare forward = {forward_s / pipeline_s:.2f}"]
    if torch_reference:
        ratios.append(f"pipeline / bare PyTorch forward = {torch_forward_s / pipeline_s:.2f}")
    if ultra_s:
        ratios.append(f"pipeline vs ultralytics = {ultra_s / pipeline_s:.2f}x")
    lines += ["", f"pipeline stages (ms/frame): decode {decode_ms:.1f} (capture thread), {stage_text}, "
                  f"encode {encode_ms:.1f} (recorder thread)",
              f"(d) live camera at {fps:g} fps: capture->result latency p50 {live.latency_p50 * 1e3:.0f} ms, "
              f"p99 {live.latency_p99 * 1e3:.0f} ms (= {live.latency_p99 / forward_s:.1f} bare forward passes); "
              f"{live.frames} frames shown, {live.dropped} dropped as stale",
              f"tracked objects: {len(prompts.objects)}",
              "ratios: " + ", ".join(ratios),
              f"host RSS: {rss_start:.0f} MB at start, {rss_mb():.0f} MB at end"]
    torch = loaded_torch()
    if torch is not None and torch.cuda.is_available():
        lines.append(f"GPU memory: {gpu_start} at start, {gpu_memory_mb()} at end, "
                     f"peak {torch.cuda.max_memory_allocated() / 2**20:.0f} MB allocated")
    return "\n".join(lines)


def bench_soak(source: str, segmenter: Segmenter, minutes: float, objects: int,
               report: Callable[[str], None] = print) -> str:
    """The pipeline on a live replay of `source` (looped, at its frame rate) for `minutes`, tracking
    and recording, with host RSS and GPU memory reported every minute: memory must stay flat."""
    from .pipeline import Pipeline

    frames, _, fps = decode_all(source, 300)
    prompts = box_prompts(segmenter, frames[0], objects)
    report(f"machine: {machine()}\nmodel: {segmenter!r}\nsource: {source} looped as a live camera at {fps:g} fps "
           f"for {minutes:g} min, {len(prompts.objects)} tracked objects, recording")
    rss_start, gpu_start = rss_mb(), gpu_memory_mb()
    report(f"start: host RSS {rss_start:.0f} MB, GPU {gpu_start}")
    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Pipeline(ReplaySource(frames, fps, seconds=minutes * 60), segmenter, prompts,
                            record=Path(tmp) / "soak.mp4", segment_seconds=60)
        start = time.monotonic()
        with pipeline:
            while not pipeline.wait(timeout=min(60.0, minutes * 60)):
                snap = pipeline.snapshot()
                samples.append(rss_mb())
                report(f"{(time.monotonic() - start) / 60:5.1f} min: {snap.frames} frames, "
                       f"host RSS {samples[-1]:.0f} MB, GPU {gpu_memory_mb()}, latency p99 "
                       f"{snap.latency_p99 * 1e3:.0f} ms, dropped {snap.dropped}")
            snap = pipeline.snapshot()
    rss_end = rss_mb()
    warm = (f", {samples[0]:.0f} MB after the first minute, {rss_end - samples[0]:+.0f} MB since then"
            if samples else "")
    return (f"after {(time.monotonic() - start) / 60:.1f} min: {snap.frames} frames, {snap.dropped} dropped; "
            f"host RSS {rss_start:.0f} MB at start, {rss_end:.0f} MB at the end{warm}; "
            f"GPU {gpu_start} at start, {gpu_memory_mb()} at the end")


# ---------------------------------------------------------------- prompts and rendering

def synthetic_segmentation(height: int, width: int, count: int) -> Segmentation:
    rng = np.random.default_rng(0)
    masks = np.zeros((count, height, width), dtype=bool)
    yy, xx = np.mgrid[0:height, 0:width]
    for i in range(count):
        cx, cy = rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.9) * height
        rx, ry = rng.uniform(0.03, 0.15) * width, rng.uniform(0.03, 0.15) * height
        masks[i] = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1
    return Segmentation.of(masks, masks_to_boxes(masks), rng.random(count))


def fastsam_point_loop(masks: np.ndarray, points, labels) -> np.ndarray:
    """FastSAM's point_prompt as written: a Python loop over the masks."""
    annotations = list(masks)
    annotations = sorted(annotations, key=lambda m: m.sum(), reverse=True)
    onemask = np.zeros(annotations[0].shape)
    for mask in annotations:
        for (x, y), label in zip(points, labels):
            if mask[y, x] == 1 and label == 1:
                onemask[mask] = 1
            if mask[y, x] == 1 and label == 0:
                onemask[mask] = 0
    return onemask >= 1


def fastsam_box_loop(masks: np.ndarray, box) -> int:
    """FastSAM's box_prompt as written: a Python loop computing each mask's IoU with the box."""
    x1, y1, x2, y2 = (int(v) for v in box)
    host = masks
    box_area = (y2 - y1) * (x2 - x1)
    best, best_iou = 0, -1.0
    for i, mask in enumerate(host):
        inside = mask[y1:y2, x1:x2].sum()
        iou = inside / (box_area + mask.sum() - inside)
        if iou > best_iou:
            best, best_iou = i, iou
    return best


def fastsam_plot_loop(image: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """FastSAM's fast_show_mask blending, per mask (its matplotlib figure costs more)."""
    host = masks
    areas = host.sum((1, 2))
    host = host[np.argsort(areas)]
    rng = np.random.default_rng()
    out = image.astype(np.float32) / 255
    for mask in host[::-1]:
        color = np.concatenate([rng.random(3), [0.6]])
        out[mask] = out[mask] * (1 - color[3]) + color[:3] * color[3]
    return (out * 255).astype(np.uint8)


def bench_prompts(segmenter: Segmenter, repeat: int = 10) -> str:
    sync = segmenter._sync
    h, w, count = 1080, 1920, 20
    seg = synthetic_segmentation(h, w, count)
    image = np.random.default_rng(1).integers(0, 255, (h, w, 3), dtype=np.uint8)
    scene = image
    box = seg.boxes[3].tolist()
    x, y = int((box[0] + box[2]) / 2), int((box[1] + box[3]) / 2)
    points, labels = [(x, y), (10, 10)], [1, 0]
    annotator = Annotator()
    ours = {
        "points (FastSAM semantics)": timed(lambda: select_by_points(seg, points, labels), repeat, sync),
        "box": timed(lambda: select_by_boxes(seg, [box]), repeat, sync),
        "render 20 masks": timed(lambda: annotator.annotate(scene, seg), repeat, sync),
    }
    theirs = {
        "points (FastSAM semantics)": timed(lambda: fastsam_point_loop(seg.masks, points, labels), repeat),
        "box": timed(lambda: fastsam_box_loop(seg.masks, box), repeat),
        "render 20 masks": timed(lambda: fastsam_plot_loop(image, seg.masks), repeat),
    }
    forward = timed(lambda: segmenter.segment(image), max(3, repeat // 3), sync)
    lines = [f"machine: {machine()}", f"model: {segmenter!r}",
             f"frame 1920x1080, {count} masks (numpy, CPU); median of {repeat} runs", "",
             f"{'step':<30}{'this project ms':>16}{'FastSAM-style ms':>18}{'speed-up':>10}"]
    for key in ours:
        lines.append(f"{key:<30}{ours[key]:>16.2f}{theirs[key]:>18.2f}{theirs[key] / ours[key]:>9.1f}x")
    total = sum(ours.values())
    lines += ["", f"selection + rendering per frame: {total:.1f} ms; the engine's whole segment() on the "
                  f"same frame: {forward:.1f} ms ({total / forward * 100:.0f}% of it)"]
    return "\n".join(lines)


# ---------------------------------------------------------------- tracker

def tracker_frames(frames: int = 60, count: int = 30, seed: int = 2) -> list[tuple[Segmentation, np.ndarray]]:
    """`count` discs drifting on a 1280x720 frame, with their oracle segmentation."""
    h, w = 720, 1280
    rng = np.random.default_rng(seed)
    centers = rng.uniform([100, 100], [w - 100, h - 100], (count, 2))
    velocity = rng.uniform(-4, 4, (count, 2))
    radius = rng.uniform(25, 60, count)
    colors = rng.integers(0, 255, (count, 3))
    yy, xx = np.mgrid[:h, :w].astype(np.float32)

    def frame(t: int) -> tuple[Segmentation, np.ndarray]:
        c = (centers + velocity * t).astype(np.float32)
        masks = np.stack([(xx - cx) ** 2 + (yy - cy) ** 2 <= r ** 2 for (cx, cy), r in zip(c, radius)])
        image = np.zeros((h, w, 3), dtype=np.uint8)
        for i in range(count):
            image[masks[i]] = colors[i]
        boxes = np.c_[c - radius[:, None], c + radius[:, None]]
        return Segmentation.of(masks, boxes, np.ones(count)), image

    return [frame(t) for t in range(frames)]


def time_tracker(tracker, data: list[tuple[Segmentation, np.ndarray]], objects: int = 10,
                 missed: int = 0) -> tuple[list[float], int]:
    """Seconds per `update` after the first frame, and how many objects are shown at the end.
    `missed`: that many of the objects have no mask from the model in every other frame, so
    they are carried by propagation there."""
    from .tracking import ObjectPrompt, PromptSet

    first = data[0][0]
    tracker.set_prompts(PromptSet(tuple(ObjectPrompt(i + 1, box=tuple(first.boxes[i].tolist()))
                                        for i in range(objects))))
    tracker.update(*data[0], 0, 0.0)
    times = []
    for t in range(1, len(data)):
        seg, image = data[t]
        if missed and t % 2:
            seg = seg.select(np.arange(len(seg)) >= missed)
        start = time.perf_counter()
        result = tracker.update(seg, image, t, t / 30)
        times.append(time.perf_counter() - start)
    return times, sum(o.state.shown for o in result.objects)


def bench_tracker(segmenter: Segmenter, frames: int = 60, objects: int = 10) -> str:
    """10 objects drifting among 30 masks on a 1280x720 frame; then with half of them missed by the
    model in every other frame (carried by propagation there)."""
    from .tracking import PromptTracker

    h, w, count = 720, 1280, 30
    data = tracker_frames(frames, count)
    times, tracked = time_tracker(PromptTracker(), data, objects)
    missed_times, missed_tracked = time_tracker(PromptTracker(), data, objects, missed=objects // 2)
    image = np.random.default_rng(3).integers(0, 255, (h, w, 3), dtype=np.uint8)
    forward = timed(lambda: segmenter.segment(image), 3, segmenter._sync)
    ms = float(np.median(times) * 1e3)
    return "\n".join([f"machine: {machine()}", f"model: {segmenter!r}",
                      f"tracker: {objects} objects among {count} masks, 1280x720, {frames} frames (numpy, CPU)",
                      f"tracker update: median {ms:.2f} ms, p95 {np.percentile(times, 95) * 1e3:.2f} ms per frame "
                      f"({tracked}/{objects} still shown at the end)",
                      f"with {objects // 2} of them missed by the model every other frame (propagation): median "
                      f"{np.median(missed_times) * 1e3:.2f} ms, p95 {np.percentile(missed_times, 95) * 1e3:.2f} ms "
                      f"({missed_tracked}/{objects} still shown at the end)",
                      f"engine segment() on a 1280x720 frame: {forward:.1f} ms -> tracker = {ms / forward * 100:.1f}% "
                      "of inference"])
