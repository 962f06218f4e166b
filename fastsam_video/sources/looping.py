"""A video file played like a camera: at its own rate, from the start again at its end (the
server's demo camera, and a cluster camera with `loop=True`)."""

from __future__ import annotations

from pathlib import Path

from ..types import Frame, SourceError
from .base import FrameSource


class LoopingSource(FrameSource):
    """A video file played at its own rate, from the start again at its end, like a camera
    (the server's demo). Timestamps keep increasing across loops."""

    def __init__(self, path: str | Path, source_id: int = 0, realtime: bool = True):
        super().__init__(source_id)
        self.path = Path(path)
        self.realtime = self.live = realtime  # not realtime: as fast as the pipeline takes frames (benchmarks)
        self._inner = _open(str(self.path), realtime=realtime, source_id=source_id)
        self.name = f"{self.path.parent.name}/{self.path.name} (loop)"
        self.fps = self._inner.fps
        self._offset = 0.0
        self._last = 0.0

    def _read_image(self):
        frame: Frame | None = self._inner.read()
        if frame is None:  # the end: start again where the timeline left off
            self._inner.close()
            self._offset = self._last + 1.0 / (self.fps or 30.0)
            self._inner = _open(str(self.path), realtime=self.realtime, source_id=self.source_id)
            frame = self._inner.read()
            if frame is None:
                raise SourceError(f"{self.path} has no frames to loop over")
        self._last = self._offset + (frame.pts or 0.0)
        return frame.image, self._last

    def _release(self) -> None:
        self._inner.close()


def _open(path: str, **kwargs) -> FrameSource:
    from . import open_source  # the package's opener (it imports this module)

    return open_source(path, **kwargs)
