"""Opening and closing pipelines off the UI thread (no Qt): shutdown waits for its workers up to
a deadline, and what a late worker makes afterwards is closed, not leaked."""

from __future__ import annotations

import threading
import time

from fastsam_video.sources import FrameSource
from fastsam_video.ui.session import Sessions


class Source(FrameSource):
    def __init__(self):
        super().__init__(0)
        self.name = "test"
        self.closed = threading.Event()

    def _read_image(self):
        raise AssertionError("never read")

    def close(self) -> None:
        self.closed.set()


class SlowFactory:
    """Opens a source at once; building the pipeline blocks like a model loading, until released,
    then fails (no model here): the source it was given must be closed either way."""

    def __init__(self):
        self.release = threading.Event()
        self.source = Source()

    def open(self, spec, *, realtime, source_id=0, playback=False):
        return self.source

    def build(self, source, prompts, on_result, **kw):
        self.release.wait(30)
        source.close()
        raise RuntimeError("no model")


def test_shutdown_waits_for_a_loading_model_only_until_its_deadline():
    factory = SlowFactory()
    ready, failed = [], []
    sessions = Sessions(factory, source_ready=lambda r, s: ready.append(s), opened=lambda g, p: None,
                        failed=lambda n, m: failed.append(m), message=lambda m: None)
    sessions.open_source(1, "x.mp4", realtime=False)
    deadline = time.monotonic() + 5
    while not ready and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ready == [factory.source] and sessions.claim(factory.source)
    sessions.start_pipeline(2, factory.source, None, lambda r: None)
    started = time.monotonic()
    assert sessions.shutdown(None, timeout=0.5) == []
    assert 0.4 < time.monotonic() - started < 2.0  # not the 30 s default: the worker is still loading
    loader = [t for t in threading.enumerate() if t.name == "ui start pipeline"]
    assert loader and not factory.source.closed.is_set()
    factory.release.set()
    loader[0].join(5)
    assert factory.source.closed.is_set() and failed == ["loading the model failed: RuntimeError: no model"]
