"""One camera inside the pipeline (`Channel`: its capture, tracker, prompt snapshot, zones,
schedule, sinks and stats), with what it needs: `FrameRenderer` (what a camera shows of a frame),
`rescaled_prompts` (prompts after a change of frame size) and `every_nth` (--export-every)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np

from .analytics.analyser import ZoneAnalyser
from .analytics.geometry import ZoneSet
from .camera_status import Result, Stats
from .events import Event, EventKind
from .render import Annotator
from .sinks import SegmentedRecorder, SinkThread, VideoRecorder
from .schedule import CameraSchedule, ScheduleOptions
from .sources import CaptureThread, FrameSource
from .sources.playback import PlaybackPosition, PlaybackSource
from .tracker import ObjectStatus, PromptSet, PromptTracker, TrackResult
from .types import Segmentation
from .workers import reason


log = logging.getLogger("fastsam_video.pipeline")  # a camera's faults log as the pipeline's, as before the split

def rescaled_prompts(prompts: PromptSet, tracker: PromptTracker, old: tuple[int, int],
                     new: tuple[int, int]) -> PromptSet:
    """`prompts` moved to a frame of size `new` (width, height) from one of size `old`: each
    point or box prompt goes where the tracker last saw its object (else where it was given),
    scaled to the new size, so that a fresh tracker re-selects the same objects."""
    scale = np.array([new[0] / old[0], new[1] / old[1]])
    limit = np.array([new[0] - 1, new[1] - 1], float)
    objects = []
    for prompt in prompts.objects:
        obj = tracker.objects.get(prompt.object_id)
        if prompt.points:
            points = obj.prompt_points(obj.box) if obj is not None else np.empty((0, 2))
            if len(points) != len(prompt.points):
                points = np.asarray(prompt.points, float)
            points = np.clip(points * scale, 0, limit)
            prompt = replace(prompt, points=tuple((float(x), float(y)) for x, y in points))
        elif prompt.box is not None:
            box = obj.prompt_box(obj.box) if obj is not None else None
            box = np.asarray(prompt.box if box is None else box, float).reshape(2, 2)
            box = np.clip(box * scale, 0, limit).ravel()
            if box[2] > box[0] and box[3] > box[1]:
                prompt = replace(prompt, box=tuple(float(v) for v in box))
        objects.append(prompt)
    return replace(prompts, objects=tuple(objects))


def every_nth(every: int, write: Callable[[Result], None]) -> Callable[[Result], None]:
    """`write` for frames 0, N, 2N ... only (--export-every N)."""
    if every == 1:
        return write
    return lambda result: None if result.frame.index % every else write(result)


class FrameRenderer:
    """What a camera shows of a frame: the tracked objects (over every mask, faint, when
    `everything` is on too), or every mask when nothing is prompted. Used by the local and the
    cluster pipeline alike."""

    def __init__(self, annotator: Annotator | None = None):
        self.annotator = annotator or Annotator()
        self._faint = Annotator(alpha=0.25, contours=False, labels=False)

    def render(self, image, prompts: PromptSet, everything: Segmentation,
               track: TrackResult) -> tuple[Segmentation, np.ndarray]:
        """(shown, annotated) for one frame of BGR `image`."""
        if prompts.objects:
            shown = track.segmentation
            # every mask, faint: drawn on the one copy of the frame the objects are drawn on too
            out = self._faint.overlay(image, everything) if prompts.everything else image.copy()
        else:
            shown = everything if prompts.everything else track.segmentation
            out = image.copy()
        states = {o.object_id: o.state for o in track.objects}
        return shown, self.annotator.annotate_in_place(out, shown, lost=track.lost, states=states)


class Channel:
    """One camera: its capture thread, tracker, prompt snapshot, sinks and stats. The capture
    side (`capture`, `submitted`, `done`, `error`) belongs to the inference thread; the tracker,
    sinks and stats to the results thread (under `lock`, which `Pipeline.remove_camera` takes
    to close them); `prompts` and the recording request are set from any thread."""

    def __init__(self, camera: int, source: FrameSource, prompts: PromptSet, tracker: PromptTracker,
                 segment_seconds: float | None = None, emit: Callable[[Event], None] | None = None,
                 zones: ZoneSet | None = None, schedule: ScheduleOptions | None = None):
        self.camera = camera
        self.source = source
        if hasattr(source, "source_id"):
            source.source_id = camera  # frames carry the camera id (Result.camera)
        self.prompts = prompts
        self.tracker = tracker
        self.stats = Stats()
        self.capture: CaptureThread | None = None
        self.capture_stop = threading.Event()  # its own: removing one camera stops only its capture
        self.sinks: list[tuple[SinkThread, object]] = []
        self.record_path: Path | None = None
        self.recording_request: tuple[Path | None] | None = None
        self.submitted = 0  # frames sent through the model
        self.done = False  # the source ended, failed, gave max_frames, or the camera was removed
        self.error: BaseException | None = None
        self.removed = False
        self.block = not source.live  # files: completeness wins; live: never stall inference
        self.segment_seconds = segment_seconds
        self.recorded: list[Path] = []  # every file written, for the final report
        self.sink_errors: list[str] = []
        self.objects: tuple[ObjectStatus, ...] = ()
        self.frame_size: tuple[int, int] | None = None
        self.connection_state: str | None = None  # the last one reported as an event
        self.lock = threading.RLock()  # re-entrant: an event subscriber may remove its camera
        self.analyser = ZoneAnalyser(zones)  # results thread; `zones` is set from any thread
        self.zones = zones or ZoneSet()
        self._emit = emit or (lambda event: None)
        # inference thread: which frames go through the model; results thread: the last model output
        self.schedule = CameraSchedule(schedule or ScheduleOptions(skip_still=False), live=source.live)
        self.scheduled_prompts = prompts
        self.last_everything: Segmentation | None = None

    # -------------------------------------------------------------- playback (a file under control)
    @property
    def playback(self) -> PlaybackSource | None:
        """The camera's playback control: a file camera opened as a `PlaybackSource`, else None."""
        return self.source if isinstance(self.source, PlaybackSource) else None

    def playback_position(self) -> PlaybackPosition | None:
        return self.playback.position() if self.playback is not None else None

    def admit(self, frame) -> bool:
        """Inference thread: False for a frame read before the last playback command (dropped);
        a frame a command asked for (step, seek, a paused frame again) goes through the model."""
        if self.playback is None:
            return True
        if not self.playback.is_current(frame):
            return False
        if getattr(frame, "commanded", False):
            self.schedule.request()
        return True

    def set_prompts(self, prompts: PromptSet) -> None:
        """Any thread: the prompt snapshot, applied from the next frame on; paused, the paused frame
        comes again, so that what changed shows at once."""
        self.prompts = prompts  # one reference assignment: atomic
        self._refresh_paused()

    def set_zones(self, zones) -> None:
        """Any thread: the zones and lines (unchanged ones keep their state), as `set_prompts`."""
        self.zones = zones
        self.analyser.set_zones(zones)
        self._refresh_paused()

    def _refresh_paused(self) -> None:
        if self.playback is not None:
            self.playback.refresh()

    def event(self, kind: EventKind, detail: str = "", pts: float | None = None) -> None:
        self._emit(Event(kind, self.camera, pts=pts, detail=detail))

    def add_sink(self, name: str, sink, write: Callable[[Result], None]) -> None:
        self.sinks.append((SinkThread(write, name=name, block=self.block), sink))

    def start_recording(self, path: str | Path) -> None:
        fps, live = self.source.fps or 30, self.source.live  # live: no frame waits in the encoder
        recorder = (SegmentedRecorder(path, self.segment_seconds, fps_hint=fps, low_latency=live)
                    if self.segment_seconds else VideoRecorder(path, fps_hint=fps, low_latency=live))
        use_pts = not self.source.live  # live: true capture times (variable rate); files: their own timestamps
        stats = self.stats

        def write(r: Result) -> None:
            t = r.frame.pts if use_pts and r.frame.pts is not None else r.frame.t_capture
            start = time.perf_counter()
            files = len(recorder.paths)
            recorder.write(r.annotated, t)
            if len(recorder.paths) != files:  # a new file began at this frame: where the event store finds clips
                self._emit(Event(EventKind.RECORDING_SEGMENT, self.camera, pts=r.frame.pts, detail=str(recorder.path),
                                 wall_time=time.time() - (time.monotonic() - r.t_done)))
            stats.encode_ms += ((time.perf_counter() - start) * 1e3 - stats.encode_ms) / (stats.encoded + 1)
            stats.encoded += 1

        self.add_sink("recorder", recorder, write)
        self.record_path = Path(path)
        self.event(EventKind.RECORDING_STARTED, str(path))

    def _finish_recorder(self, recorder) -> None:
        paths = getattr(recorder, "paths", [recorder.path] if hasattr(recorder, "path") else [])
        self.recorded += paths
        self.record_path = None
        self.event(EventKind.RECORDING_STOPPED, ", ".join(map(str, paths)))

    def stop_recording(self) -> None:
        for entry in [e for e in self.sinks if e[0].name == "recorder"]:
            self.sinks.remove(entry)
            thread, recorder = entry
            try:
                thread.close()  # drains what is queued, so nothing already captured is lost
            finally:
                try:
                    recorder.close()
                finally:
                    self._finish_recorder(recorder)

    def apply_recording_request(self) -> None:
        request, self.recording_request = self.recording_request, None
        if request is not None:
            self.stop_recording()
            if request[0] is not None:
                self.start_recording(request[0])

    def write_sinks(self, result: Result) -> None:
        """Queues `result` for every output; one that failed is closed, reported (an event and a
        log line) and dropped, and the camera goes on without it."""
        for entry in list(self.sinks):
            try:
                entry[0].put(result)
            except Exception as err:
                self._sink_failed(entry, err)

    def _sink_failed(self, entry: tuple[SinkThread, object], err: BaseException) -> None:
        self.sinks.remove(entry)
        thread, sink = entry
        for close in (thread.close, sink.close):
            try:
                close()
            except Exception as other:  # the file is already broken: the first error says why
                log.debug("closing the failed %s: %s", thread.name, reason(other))
        if thread.name == "recorder":
            self._finish_recorder(sink)
        message = reason(err)
        if not message.startswith(thread.name):
            message = f"{thread.name}: {message}"
        self.sink_errors.append(message)
        log.error("camera %d (%s): %s; the camera goes on without it", self.camera + 1, self.source.name, message)
        self.event(EventKind.SINK_FAILED, message)

    def close_sinks(self) -> list[BaseException]:
        errors = []
        try:
            self.stop_recording()
        except Exception as err:
            errors.append(err)
        for thread, sink in self.sinks:
            for close in (thread.close, sink.close):
                try:
                    close()
                except Exception as err:  # keep closing the others: nothing already written is lost
                    errors.append(err)
        self.sinks = []
        return errors
