"""Local sources: a webcam (OpenCV), a video file (PyAV), an image folder or glob."""

from __future__ import annotations

import glob
import logging
import re
from pathlib import Path
from typing import Any, Callable, Iterator

import av
import cv2
import numpy as np

from ..types import SourceError
from .base import FrameSource, _Pacer, _to_bgr
from .redaction import _reason

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".ppm", ".pgm"})


class WebcamSource(FrameSource):
    """A local camera through OpenCV. `capture_factory` is injectable for tests."""

    live = True

    def __init__(self, index: int, capture_factory: Callable[[int], Any] = cv2.VideoCapture, *,
                 source_id: int = 0) -> None:
        super().__init__(source_id)
        self.index = index
        self.name = f"webcam {index}"
        try:
            self._capture = capture_factory(index)
        except Exception as err:  # some backends raise instead of returning a closed capture
            raise SourceError(f"cannot open webcam {index}: {_reason(err)} (check the index, or that "
                              "another program is not using it)") from err
        if not self._capture.isOpened():
            self._capture.release()
            raise SourceError(f"cannot open webcam {index}: no camera at that index (check the index, "
                              "or that another program is not using it)")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and fps > 0 else None

    def _read_image(self) -> tuple[np.ndarray, float | None] | None:
        ok, image = self._capture.read()
        if not ok or image is None:
            raise SourceError(f"webcam {self.index} stopped delivering frames (was it unplugged, or "
                              "taken by another program? reconnect it and restart)")
        return _to_bgr(image), None

    def _release(self) -> None:
        self._capture.release()


class FileSource(FrameSource):
    """A video file decoded with PyAV. With `realtime=True` it plays at its own frame rate
    and counts as live, like a camera (a stand-in for testing live behaviour).

    `expected_frames`: the frame count its header gives (None when it gives none);
    `frames_read`: frames delivered so far. A file that ends before its header's count
    (copied or downloaded in part, a recorder that was killed) logs one warning at the end,
    "clip.mp4 ended after 45 of 150 frames (the file is cut short)", which `truncated` then
    returns. Frames of any size are delivered as they come (a file whose size changes midway
    gives frames of each size)."""

    def __init__(self, path: str | Path, *, realtime: bool = False, source_id: int = 0) -> None:
        super().__init__(source_id)
        self.path = Path(path)
        self.name = str(self.path)
        self.live = realtime
        if not self.path.exists():
            raise SourceError(f"no such file: {self.path} (check the path)")
        if self.path.is_dir():
            raise SourceError(f"{self.path} is a directory, not a video file (pass it as an image folder)")
        try:
            self._container = av.open(str(self.path))
        except (av.error.FFmpegError, OSError, ValueError) as err:
            raise SourceError(f"cannot read video {self.path}: {_reason(err)} (is it a video file? check "
                              "that it plays in a video player)") from err
        if not self._container.streams.video:
            self._container.close()
            raise SourceError(f"{self.path} has no video stream (is it an audio file?)")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.fps = float(rate) if rate else None
        self.frame_count = self._stream.frames or None
        self.expected_frames = self.frame_count
        self._truncated: str | None = None
        self._frames = self._decode()
        self._pacer = _Pacer() if realtime else None

    def _decode(self) -> Iterator[av.VideoFrame]:
        """Frames in order; a packet that fails to decode is skipped and counted."""
        try:
            for packet in self._container.demux(self._stream):
                try:
                    frames = packet.decode()
                except av.error.FFmpegError as err:
                    self.skipped += 1
                    log.warning("%s: skipped a corrupt frame after frame %d: %s", self.name,
                                self._next_index, _reason(err))
                    continue
                yield from frames
        except (av.error.FFmpegError, OSError) as err:
            raise SourceError(f"corrupt video {self.path} after frame {self._next_index}: {_reason(err)} "
                              "(re-encode or repair the file)") from err

    def _read_image(self) -> tuple[np.ndarray, float | None] | None:
        frame = next(self._frames, None)
        if frame is None:
            if self._next_index == 0:
                raise SourceError(f"no decodable frames in {self.path} ({self.skipped} corrupt; re-encode "
                                  "or repair the file)")
            self._check_complete()
            return None
        if self._pacer is not None:
            media_time = frame.time if frame.time is not None else self._next_index / (self.fps or 30.0)
            self._pacer.wait(media_time)
        return frame.to_ndarray(format="bgr24"), frame.time

    @property
    def frames_read(self) -> int:
        return self._next_index

    @property
    def truncated(self) -> str | None:
        return self._truncated

    def _check_complete(self) -> None:
        """At the end: warns once when fewer frames came than the header promised (frames skipped as
        corrupt count as came: they were there)."""
        expected = self.expected_frames
        if self._truncated is None and expected and self._next_index + self.skipped < expected:
            self._truncated = f"{self.name} ended after {self._next_index} of {expected} frames (the file is cut short)"
            log.warning("%s", self._truncated)

    def _release(self) -> None:
        self._frames.close()
        self._container.close()


def _natural_key(path: Path) -> list[object]:
    """Sort key so that frame2.png comes before frame10.png."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", str(path))]


class FolderSource(FrameSource):
    """Images from a directory (common image extensions, natural order), a glob pattern,
    or a single image file. Unreadable images are skipped with a warning and counted.
    `fps` gives the frames timestamps; `realtime=True` also paces them at that rate."""

    def __init__(self, pattern: str | Path, *, fps: float | None = None, realtime: bool = False,
                 source_id: int = 0) -> None:
        super().__init__(source_id)
        pattern = str(pattern)
        self.name = pattern
        if Path(pattern).is_dir():
            paths = [p for p in Path(pattern).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
            missing = f"no images in folder {pattern} (expected {', '.join(sorted(IMAGE_EXTENSIONS))} files)"
        elif Path(pattern).is_file():
            paths = [Path(pattern)]
            missing = ""
        elif any(c in pattern for c in "*?["):
            paths = [Path(p) for p in glob.glob(pattern) if Path(p).is_file()]
            missing = f"no files match {pattern} (check the pattern; quote it so the shell does not expand it)"
        else:
            raise SourceError(f"no such folder: {pattern} (check the path)")
        if not paths:
            raise SourceError(missing)
        if realtime and not fps:
            raise SourceError(f"realtime playback of {pattern} needs a frame rate (pass fps=...)")
        self._paths = sorted(paths, key=_natural_key)
        self.fps = float(fps) if fps else None
        self.frame_count = len(self._paths)
        self.live = realtime
        self._position = 0
        self._pacer = _Pacer() if realtime else None

    def _read_image(self) -> tuple[np.ndarray, float | None] | None:
        while self._position < len(self._paths):
            path = self._paths[self._position]
            self._position += 1
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                self.skipped += 1
                log.warning("%s: skipped unreadable image %s", self.name, path)
                continue
            pts = self._next_index / self.fps if self.fps else None
            if self._pacer is not None and pts is not None:
                self._pacer.wait(pts)
            return image, pts
        if self._next_index == 0:
            raise SourceError(f"none of the {len(self._paths)} images in {self.name} could be read "
                              "(are they valid image files?)")
        return None


