"""A real server for the web tests: the app on the bundled model, served by uvicorn on a free
loopback port, with a static camera (a clip made from a bundled still image, played in a loop)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import cv2
import httpx
import pytest

from tests.conftest import SAMPLES

STILL = SAMPLES / "images" / "scene1.jpg"
OBJECT_POINT = (279, 178)  # the purple disc of scene1 (ground-truth object 6)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def still_clip(folder: Path, frames: int = 30, fps: int = 15) -> Path:
    """A video of the still image: a camera looking at a scene that does not move."""
    path = folder / "still.mp4"
    image = cv2.imread(str(STILL))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (image.shape[1], image.shape[0]))
    for _ in range(frames):
        writer.write(image)
    writer.release()
    return path


def tiny_text_encoder():
    """A small CLIP with random weights: the real text path, without the 340 MB download."""
    from fastsam_video.prompts import ClipEncoder
    from tests.test_prompts import tiny_clip

    return ClipEncoder(module=tiny_clip())


def opener(spec: str):
    from fastsam_video.sources import open_source
    from fastsam_video.sources import LoopingSource

    if spec.endswith(".mp4"):
        return LoopingSource(spec)
    return open_source(spec, open_timeout=1.0, read_timeout=1.0)


class Server:
    """uvicorn in a thread; `close()` stops it and the cameras."""

    def __init__(self, app, live):
        import uvicorn

        self.live = live
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                   timeout_graceful_shutdown=2))
        self.thread = threading.Thread(target=self.server.run, name="uvicorn")
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start within 20 s"
            time.sleep(0.05)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.live.close()


def make_server(segmenter, tmp_path: Path, *, token: str | None = None, max_upload: int | None = None,
                sources=(), bus=None, review=None, segment_seconds: float | None = None,
                open_source=None) -> Server:
    """`review`: an event store (`fastsam_video.history.Review`); `segment_seconds`: every camera
    recorded from its start in segments of that length (the review's clips); `open_source`: the
    cameras' opener (default: .mp4 files in a loop, like the demo camera)."""
    from fastsam_video.web.app import MAX_UPLOAD, create_app
    from fastsam_video.web.imaging import ImageSegmenter
    from fastsam_video.pipeline import Pipeline
    from fastsam_video.web.service import LiveService

    pipeline = Pipeline([], segmenter, queue_size=2, stay_open=True, text_encoder=tiny_text_encoder,
                        segment_seconds=segment_seconds)
    live = LiveService(pipeline, open_source or opener, output_dir=tmp_path / "recordings", bus=bus, review=review,
                       record_cameras=segment_seconds is not None)
    for spec in sources:
        live.add_camera(str(spec))
    app = create_app(live, ImageSegmenter(segmenter, tiny_text_encoder), token=token,
                     max_upload=max_upload or MAX_UPLOAD)
    return Server(app, live)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return still_clip(tmp_path_factory.mktemp("clip"))


@pytest.fixture(scope="module")
def server(segmenter, clip, tmp_path_factory):
    """The app with one camera (0) on the still clip."""
    srv = make_server(segmenter, tmp_path_factory.mktemp("web"), sources=[clip])
    yield srv
    srv.close()


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def wait_for(predicate, timeout: float = 20.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value is not None and value is not False:
            return value
        assert time.monotonic() < deadline, f"{what} not met within {timeout:.0f} s"
        time.sleep(0.1)
