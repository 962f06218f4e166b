"""Opening and closing pipelines off the UI thread (no Qt).

Opening a source can block for seconds (an RTSP server that does not answer, the model's
first load and warm-up) and so can closing one (a capture thread blocked in a read, the
recorder flushing): both run on short-lived worker threads, and their outcome comes back
through callbacks (the window turns them into queued Qt signals). `shutdown()` closes the
current pipeline, waits for every worker and closes pipelines nobody started, so no
thread is left behind.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

from ..engines import open_engine
from ..factory import build_pipeline, open_camera
from ..pipeline import Pipeline, Result
from ..sources import FrameSource, _redact_text, redact_url
from ..sources.playback import PlaybackSource, is_video_file
from ..tracker import PromptSet
from ..types import FastSAMVideoError, SourceError
from ..workers import Worker

log = logging.getLogger(__name__)


def one_line(text: str) -> str:
    """`text` on one line, passwords hidden."""
    return _redact_text(" ".join(text.split()))


def describe_error(err: BaseException, what: str) -> str:
    """A one-line, password-free message for an error raised while `what`."""
    if isinstance(err, FastSAMVideoError):
        return one_line(str(err))
    return one_line(f"{what} failed: {type(err).__name__}: {err}")


class PipelineFactory:
    """Opens sources and builds pipelines (`factory`) with the window's options; the model is
    loaded once, for the first source, and shared by every pipeline the window runs (one at a
    time). `options`: a `ui.WindowOptions`."""

    def __init__(self, options, segmenter=None):
        self.options = options
        self._segmenter = segmenter
        self._lock = threading.Lock()

    def segmenter(self):
        with self._lock:
            if self._segmenter is None:
                self._segmenter = open_engine(self.options.model)
            return self._segmenter

    def open(self, spec: str, *, realtime: bool, source_id: int = 0, playback: bool = False) -> FrameSource:
        """`playback`: a video file opens as a `PlaybackSource` (pause, step, seek; at its end it
        pauses on the last frame instead of ending)."""
        if playback and is_video_file(spec):
            return PlaybackSource(Path(spec).expanduser(), realtime=realtime, source_id=source_id)
        return open_camera(spec, replace(self.options.stream, realtime=realtime), source_id)

    def build(self, source: FrameSource | list[FrameSource], prompts: PromptSet, on_result: Callable[[Result], None], *,
              record: str | Path | None = None, exports: bool = False) -> Pipeline:
        """A pipeline (not started) on opened sources; they are closed if this fails. `record`:
        the recording (--record, for the first source only); `exports`: with the --export-* outputs."""
        output = self.options.output
        output = replace(output, record=None if record is None else str(record),
                         export_masks=output.export_masks if exports else None,
                         export_coco=output.export_coco if exports else None)
        # a click refers to the frame on screen: keep capture close to it
        stream = replace(self.options.stream, queue_size=2)
        try:
            segmenter = self.segmenter()
        except BaseException:
            for item in source if isinstance(source, (list, tuple)) else [source]:
                item.close()
            raise
        return build_pipeline(source, self.options.model, stream, output, prompts, on_result=on_result,
                              segmenter=segmenter, zones=getattr(self.options, "zones", None))


class FailedSource(FrameSource):
    """Stands in for a camera of several that could not be opened: its first read raises the
    opening error, so the pipeline reports that camera as failed while the others play."""

    def __init__(self, spec: str, message: str, source_id: int = 0):
        super().__init__(source_id)
        self.name = redact_url(spec)
        self.message = message

    def _read_image(self):
        raise SourceError(self.message)


class Sessions:
    """Worker threads that open sources and open and close pipelines for the window.

    Opening is two steps, so that a source that fails leaves the running one alone:
    `open_source` -> `source_ready(request, source)` | `failed(request, message)`; then the
    window detaches its running pipeline and calls `start_pipeline(generation, source, ...,
    previous=old)`, which closes `old` first (two pipelines never share the model) ->
    `opened(generation, pipeline)` | `failed(generation, message)`. What `source_ready` and
    `opened` hand over must be `claim`ed (or `discard`ed) by the window."""

    def __init__(self, factory: PipelineFactory, *, source_ready: Callable[[int, FrameSource], None],
                 opened: Callable[[int, Pipeline], None], failed: Callable[[int, str], None],
                 message: Callable[[str], None], problem: Callable[[str], None] | None = None):
        self.factory = factory
        self._source_ready = source_ready
        self._opened = opened
        self._failed = failed
        self._message = message  # notes ("recording saved: ...")
        self._problem = problem or message  # errors met while closing (a recording that failed)
        self._lock = threading.Lock()
        self._workers: list[Worker] = []
        self._unclaimed: list[FrameSource | Pipeline] = []
        self._closing = False

    def _spawn(self, target: Callable[[], None], name: str) -> bool:
        with self._lock:
            if self._closing:
                return False
            self._workers = [w for w in self._workers if w.alive]
            self._workers.append(Worker(target, name=name, on_error=self._unexpected).start())
            return True

    def _unexpected(self, err: BaseException) -> None:
        """An error a worker did not handle (its target reports the expected ones itself)."""
        log.error("a window worker failed", exc_info=err)
        self._problem(describe_error(err, "a background task"))

    def _hand_over(self, item: FrameSource | Pipeline, deliver: Callable[[], None]) -> None:
        with self._lock:
            if not self._closing:
                self._unclaimed.append(item)
                deliver()
                return
        self._discard(item)

    def open_source(self, request: int, spec: str, *, realtime: bool, playback: bool = False) -> None:
        def run() -> None:
            try:
                source = self.factory.open(spec, realtime=realtime, playback=playback)
            except Exception as err:
                if not isinstance(err, FastSAMVideoError):
                    log.exception("opening %s failed", redact_url(spec))
                self._failed(request, describe_error(err, f"opening {redact_url(spec)}"))
                return
            self._hand_over(source, lambda: self._source_ready(request, source))

        self._spawn(run, "ui open source")

    def open_sources(self, request: int, specs: list[str], *, realtime: bool) -> None:
        """Several cameras: `source_ready(request, [sources])`; a camera that cannot be opened
        becomes a `FailedSource` (shown as failed, the others play); `failed` only if all fail."""
        def run() -> None:
            sources: list[FrameSource] = []
            errors: list[str] = []
            for index, spec in enumerate(specs):
                try:
                    source = self.factory.open(spec, realtime=realtime, source_id=index)
                except Exception as err:
                    if not isinstance(err, FastSAMVideoError):
                        log.exception("opening %s failed", redact_url(spec))
                    message = describe_error(err, f"opening {redact_url(spec)}")
                    errors.append(message)
                    source = FailedSource(spec, message, source_id=index)
                sources.append(source)
            if len(errors) == len(specs):
                self._failed(request, errors[0])
                return
            self._hand_over(sources, lambda: self._source_ready(request, sources))

        self._spawn(run, "ui open sources")

    def start_pipeline(self, generation: int, source: FrameSource, prompts: PromptSet,
                       on_result: Callable[[Result], None], *, record: str | Path | None = None,
                       exports: bool = False, previous: Pipeline | None = None,
                       previous_note: str | None = None) -> None:
        def run() -> None:
            if previous is not None:
                self._close(previous, previous_note)
            try:
                pipeline = self.factory.build(source, prompts, on_result, record=record, exports=exports)
            except Exception as err:
                if not isinstance(err, FastSAMVideoError):
                    log.exception("starting the pipeline failed")
                self._failed(generation, describe_error(err, "loading the model"))
                return
            self._hand_over(pipeline, lambda: self._opened(generation, pipeline))

        if not self._spawn(run, "ui start pipeline"):
            self._discard(source)

    def _index(self, item) -> int | None:
        return next((i for i, x in enumerate(self._unclaimed) if x is item), None)

    def claim(self, item) -> bool:
        """True (once) if `item` came from this object and the caller now owns it."""
        with self._lock:
            index = self._index(item)
            if index is not None and not self._closing:
                del self._unclaimed[index]
                return True
            return False

    def discard(self, item: FrameSource | Pipeline) -> None:
        """Close something handed over that will not be used (a stale open), on a worker."""
        with self._lock:
            index = self._index(item)
            if index is not None:
                del self._unclaimed[index]
        if not self._spawn(lambda: self._discard(item), "ui close source"):
            self._discard(item)

    def close_later(self, pipeline: Pipeline, note: str | None = None) -> None:
        """Close a started pipeline on a worker; `note` is reported once it closed cleanly."""
        if not self._spawn(lambda: self._close(pipeline, note), "ui close pipeline"):
            self._close(pipeline, note)

    def _discard(self, item) -> None:
        sources = item if isinstance(item, (list, tuple)) else [item]
        if isinstance(item, Pipeline):
            self._close(item, None)
            sources = [ch.source for ch in item.channels]  # never started: no capture thread owns (and closes) them
        for source in sources:
            try:
                source.close()
            except Exception as err:
                log.warning("closing %s failed: %s", source.name, err)

    def _close(self, pipeline: Pipeline, note: str | None) -> None:
        try:
            pipeline.close()
        except Exception as err:
            if not isinstance(err, FastSAMVideoError):
                log.exception("closing the pipeline failed")
            self._problem(describe_error(err, "closing the source"))
            return
        if note:
            self._message(note)

    def shutdown(self, current: Pipeline | None, timeout: float = 30.0) -> list[str]:
        """Close `current` here, wait for every worker (`timeout` seconds in all: a worker still
        loading the model is left to finish alone, and closes what it made), close what nobody
        claimed. Returns the error messages met on the way (the window is going away: nobody
        would see them)."""
        errors: list[str] = []
        deadline = time.monotonic() + timeout
        with self._lock:
            self._closing = True
            workers = list(self._workers)
        if current is not None:
            try:
                current.close()
            except Exception as err:
                errors.append(describe_error(err, "closing the source"))
        for worker in workers:
            worker.join(deadline=deadline)
        with self._lock:
            pending, self._unclaimed = self._unclaimed, []
        for item in pending:
            self._discard(item)
        return errors
