"""Prometheus metrics for `GET /api/metrics` (prometheus_client text format), names prefixed
`fastsam_video_`, a `camera` label (the config's camera name, else the camera's id) where per camera.

Two kinds: histograms observed on the results thread as each result comes (capture-to-result
latency, the model's forward seconds: one `observe` each, a few microseconds), and everything
else read at scrape time from the pipeline's own counters by a collector (frames, drops, fps,
camera up, objects, reconnects, recording bytes, retention). A scrape touches no lock the
cameras wait on; recording sizes are re-read at most every `SIZES_EVERY` seconds.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .events import Event, EventKind

PREFIX = "fastsam_video"
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0)
FORWARD_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 1.0, 2.0)
SIZES_EVERY = 5.0
SHOWN = ("tracked", "occluded", "predicted")


class Metrics:
    """Metrics of a `web.service.LiveService` (and its `retention.Retention`, if any)."""

    def __init__(self, live, retention=None):
        self.live, self.retention = live, retention
        self.registry = CollectorRegistry(auto_describe=False)
        self.latency = Histogram(f"{PREFIX}_latency_seconds", "Capture-to-result latency", ["camera"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.forward = Histogram(f"{PREFIX}_model_forward_seconds", "The model's forward pass per batch",
                                 ["camera"], buckets=FORWARD_BUCKETS, registry=self.registry)
        self.reconnects: dict[int, int] = {}
        self._sizes: dict[int, int] = {}
        self._sizes_at = 0.0
        self._lock = threading.Lock()
        self.registry.register(_Collector(self))
        live.bus.subscribe(self._on_event)
        live.observe_results(self._on_result)

    def label(self, cid: int) -> str:
        try:
            camera = self.live.camera(cid)
        except Exception:  # removed meanwhile
            return str(cid)
        return camera.name or str(cid)

    def _on_result(self, result) -> None:  # the results thread: two observations, nothing waits
        label = self.label(result.camera)
        self.latency.labels(label).observe(result.latency)
        forward = result.segmentation.timings.get("forward")
        if forward is not None:
            self.forward.labels(label).observe(forward / 1e3)

    def _on_event(self, event: Event) -> None:
        if event.kind is EventKind.CAMERA_RECONNECTING:
            self.reconnects[event.camera] = self.reconnects.get(event.camera, 0) + 1

    def recording_bytes(self) -> dict[int, int]:
        with self._lock:
            if time.monotonic() - self._sizes_at >= SIZES_EVERY:
                self._sizes = {c.id: _size_of(c, self.live.pipeline) for c in self.live.cameras()}
                self._sizes_at = time.monotonic()
            return dict(self._sizes)

    def scrape(self) -> bytes:
        return generate_latest(self.registry)


def _size_of(camera, pipeline) -> int:
    """Bytes of the camera's finished and open recordings (and of its folder, for a config camera)."""
    try:
        files = set(pipeline.status(camera.id).recorded) | pipeline.files_being_written(camera.id)
    except Exception:  # removed meanwhile
        return 0
    if camera.record_folder is not None and camera.record_folder.is_dir():
        files |= set(camera.record_folder.glob("*.mp4"))
    total = 0
    for path in {Path(p).resolve() for p in files}:
        try:
            total += path.stat().st_size
        except OSError:  # deleted by retention meanwhile
            pass
    return total


class _Collector:
    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    def collect(self):
        live = self.metrics.live
        frames = CounterMetricFamily(f"{PREFIX}_frames_processed", "Frames through the model and tracker",
                                     labels=["camera"])
        dropped = CounterMetricFamily(f"{PREFIX}_frames_dropped", "Frames a live camera replaced before the "
                                      "model could take them", labels=["camera"])
        capture = GaugeMetricFamily(f"{PREFIX}_capture_fps", "Frames per second read from the camera",
                                    labels=["camera"])
        inference = GaugeMetricFamily(f"{PREFIX}_inference_fps", "Results per second", labels=["camera"])
        up = GaugeMetricFamily(f"{PREFIX}_camera_up", "1 while the camera delivers frames", labels=["camera"])
        objects = GaugeMetricFamily(f"{PREFIX}_objects_tracked", "Prompted objects shown in the last frame",
                                    labels=["camera"])
        reconnects = CounterMetricFamily(f"{PREFIX}_reconnects", "Times the camera's stream was lost and retried",
                                         labels=["camera"])
        recording = GaugeMetricFamily(f"{PREFIX}_recording_bytes", "Bytes of the camera's recordings on disk",
                                      labels=["camera"])
        modelled = CounterMetricFamily(f"{PREFIX}_frames_modelled", "Frames that went through the model (the "
                                       "others reused or carried a result: --skip-still, --detect-every)",
                                       labels=["camera"])
        sizes = self.metrics.recording_bytes()
        for camera in live.cameras():
            try:
                status = live.pipeline.status(camera.id)
            except Exception:  # removed meanwhile
                continue
            label = [camera.name or str(camera.id)]
            stats = status.stats
            frames.add_metric(label, stats.frames)
            modelled.add_metric(label, stats.frames if stats.model_frames is None else stats.model_frames)
            dropped.add_metric(label, stats.dropped)
            capture.add_metric(label, stats.capture_fps)
            inference.add_metric(label, stats.inference_fps)
            up.add_metric(label, 1.0 if status.state.value == "running" else 0.0)
            objects.add_metric(label, sum(o.state.value in SHOWN for o in status.objects))
            reconnects.add_metric(label, self.metrics.reconnects.get(camera.id, 0))
            recording.add_metric(label, sizes.get(camera.id, 0))
        yield from (frames, modelled, dropped, capture, inference, up, objects, reconnects, recording)
        retention = self.metrics.retention
        if retention is not None:
            yield CounterMetricFamily(f"{PREFIX}_retention_deleted_files", "Recording segments deleted by retention",
                                      value=retention.deleted_files)
            yield CounterMetricFamily(f"{PREFIX}_retention_deleted_bytes", "Bytes deleted by retention",
                                      value=retention.deleted_bytes)
        review = getattr(self.metrics.live, "review", None)
        if review is not None:  # the event history: what it wrote and what a slow disk made it drop
            yield CounterMetricFamily(f"{PREFIX}_events_stored", "Events committed to the event history",
                                      value=review.store.written)
            yield CounterMetricFamily(f"{PREFIX}_events_dropped", "Events the event history could not keep up with",
                                      value=review.store.dropped)
            yield CounterMetricFamily(f"{PREFIX}_event_snapshots_dropped", "Event snapshots skipped (writer busy)",
                                      value=review.snapshots.dropped)
