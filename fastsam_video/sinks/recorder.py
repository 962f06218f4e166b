"""H.264 recordings in fragmented MP4: one file (a new one when the frame size changes), or
segments of N seconds.

No frame is held in the encoder, so a crash (even SIGKILL) keeps all but the last fragment
(~1 s). A file appears at its first frame: a recorder that never got one leaves nothing.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from ..types import RecordingError
from .files import check_output_file, one_line, to_numpy

log = logging.getLogger(__name__)

TIME_BASE = Fraction(1, 90000)


def _check_image(image_bgr: np.ndarray) -> np.ndarray:
    image = to_numpy(image_bgr)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise RecordingError(f"cannot record a {image.dtype} image of shape {image.shape}: expected "
                             "(H, W, 3) uint8 BGR")
    return image


def _free_name(path: Path, taken: list[Path], n: int = 1) -> Path:
    """`path` for n = 1, else `stem-n.suffix`, counting n up to the first name that is neither a
    file nor taken."""
    while True:
        candidate = path if n == 1 else path.with_name(f"{path.stem}-{n}{path.suffix}")
        if not candidate.exists() and candidate not in taken:
            return candidate
        n += 1


class _Mp4File:
    """One fragmented MP4 of one frame size, timed from its first frame."""

    def __init__(self, path: Path, size: tuple[int, int], t0: float, options: dict) -> None:
        width, height = size
        self.path = path
        self.size = size
        self.t0 = t0
        self.last_pts = -1
        self.last_key_pts: int | None = None
        self.keyframe_seconds = options["keyframe_seconds"]
        try:  # PyAV creates the file at the first packet
            self.container = av.open(str(path), "w", format="mp4", container_options={
                "movflags": "frag_keyframe+empty_moov+default_base_moof",
                "flush_packets": "1",  # each packet reaches the file at once, not when a buffer fills
            })
        except (av.error.FFmpegError, OSError) as err:
            raise RecordingError(f"cannot record to {path}: {one_line(err)} (check the folder is writable)") from err
        stream = self.container.add_stream("libx264", rate=Fraction(options["fps_hint"]).limit_denominator(1001))
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.time_base = stream.codec_context.time_base = TIME_BASE
        # No B-frames: with an empty moov there is no edit list, so B-frame delay would shift
        # every timestamp; it also keeps frames from waiting in the encoder.
        codec = {"crf": str(options["crf"]), "preset": options["preset"], "bf": "0"}
        if options["low_latency"]:
            # No lookahead, sliced rather than frame threads: a frame in is a packet out, on
            # any number of cores (the default kept ~11 frames inside x264, lost on a kill).
            codec["tune"] = "zerolatency"
        stream.options = codec
        self.stream = stream

    @property
    def duration(self) -> float:
        return max(self.last_pts, 0) * float(TIME_BASE)

    def frame(self, image: np.ndarray, t_capture: float) -> av.VideoFrame:
        height, width = image.shape[:2]
        if height % 2 or width % 2:  # yuv420p halves the chroma planes: H.264 needs even sizes
            image = np.pad(image, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        # Strictly increasing: two frames with one capture time still need distinct pts.
        pts = max(round((t_capture - self.t0) / TIME_BASE), self.last_pts + 1)
        # OpenCV's BT.601 conversion: 3x faster than swscale's, same colours within rounding
        frame = av.VideoFrame.from_ndarray(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), format="yuv420p")
        frame.pts = pts
        frame.time_base = TIME_BASE
        if self.last_key_pts is None or (pts - self.last_key_pts) * TIME_BASE >= self.keyframe_seconds:
            # Forced by time rather than by a frame count (gop size): the rate varies.
            frame.pict_type = av.video.frame.PictureType.I
            self.last_key_pts = pts
        self.last_pts = pts
        return frame

    def encode(self, frame: av.VideoFrame | None) -> int:
        """Encodes and muxes (None: flushes the encoder); the number of packets written."""
        packets = 0
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
            packets += 1
        return packets


class VideoRecorder:
    """Records BGR frames to H.264 in fragmented MP4, timed by their capture times.

    A fragment ends at each keyframe (about every `keyframe_seconds`), so a killed process
    loses only the fragment in progress. With `low_latency` (the default: x264's
    `tune=zerolatency`, no lookahead) every frame leaves the encoder as it is written, so
    that fragment is all a kill loses; without it x264 holds ~11 frames back for better
    compression (files are ~1.5x smaller at the same quality; fine for offline work).
    Frame times follow the capture times exactly (variable frame rate): a gap in the
    capture (a camera reconnecting) is a gap in the video. `fps_hint` only guides the
    encoder's rate control. Odd sizes are padded by one pixel to the even size H.264 needs.

    The path is checked when the recorder is made; the file appears at the first frame (an
    existing one is replaced then). A frame of another size (a camera reconfigured, an
    adaptive stream) finishes the file and goes on in a new one at the new size, named
    `rec-2.mp4`, `rec-3.mp4`, ... (an existing file is never replaced by these); each file
    plays on its own from time 0. `path` is the file being written, `paths` every file."""

    def __init__(self, path: str | Path, *, fps_hint: float = 30, crf: int = 23, preset: str = "veryfast",
                 keyframe_seconds: float = 1.0, low_latency: bool = True) -> None:
        self.path = self._base = Path(path)
        self.fps_hint = fps_hint
        self.crf = crf
        self.preset = preset
        self.keyframe_seconds = keyframe_seconds
        self.low_latency = low_latency
        check_output_file(self.path, "record to", "rec.mp4")
        self.paths: list[Path] = []
        self.frames_written = 0
        self.packets_written = 0  # frames out of the encoder; frames_written - packets_written are inside it
        self._file: _Mp4File | None = None
        self._file_frames = 0
        self._finished_seconds = 0.0
        self._failed = False  # an encoder or muxer error leaves the file unusable for more frames
        self._closed = False

    @property
    def size(self) -> tuple[int, int] | None:
        """(width, height) of the frames in the current file; None before the first frame."""
        return self._file.size if self._file else None

    @property
    def duration(self) -> float:
        """Seconds recorded: from each file's first frame to its last, summed."""
        return self._finished_seconds + (self._file.duration if self._file else 0.0)

    def write(self, image_bgr: np.ndarray, t_capture: float) -> None:
        if self._closed or self._failed:
            state = "closed" if self._closed else "broken by an earlier error"
            raise RecordingError(f"recorder for {self.path} is {state} (open a new VideoRecorder)")
        image = _check_image(image_bgr)
        size = (image.shape[1], image.shape[0])
        if self._file is not None and size != self._file.size:
            w0, h0 = self._file.size
            self._finish()
            self.path = _free_name(self._base, self.paths, len(self.paths) + 1)
            log.info("frame size changed from %dx%d to %dx%d: recording goes on in %s", w0, h0, *size, self.path)
        if self._file is None:
            self._file = _Mp4File(self.path, size, t_capture, dict(
                fps_hint=self.fps_hint, crf=self.crf, preset=self.preset, keyframe_seconds=self.keyframe_seconds,
                low_latency=self.low_latency))
            self._file_frames = 0
            self.paths.append(self.path)
        self._encode(self._file.frame(image, t_capture))
        self._file_frames += 1
        self.frames_written += 1

    def _encode(self, frame: av.VideoFrame | None) -> None:
        try:
            self.packets_written += self._file.encode(frame)
        except (av.error.FFmpegError, OSError, ValueError) as err:
            self._failed = True
            raise RecordingError(f"recording to {self.path} failed at frame {self.frames_written}: "
                                 f"{one_line(err)} (check the disk and the encoder settings)") from err

    def _finish(self) -> None:
        """Flushes the encoder and finishes the current file; one without frames is removed."""
        file = self._file
        if file is None:
            return
        try:
            if self._file_frames and not self._failed:
                self._encode(None)
        finally:
            self._file = None
            self._finished_seconds += file.duration
            try:
                file.container.close()
            except (av.error.FFmpegError, OSError) as err:
                if self._file_frames and not self._failed:
                    raise RecordingError(f"cannot finish recording {file.path}: {one_line(err)} (check the disk "
                                         "has space)") from err
                if self._file_frames:  # its error was raised already; the fragments before it still play
                    log.warning("recording %s ends at its failure: %s", file.path, one_line(err))
            finally:
                if not self._file_frames:
                    file.path.unlink(missing_ok=True)
                    self.paths.remove(file.path)

    def close(self) -> None:
        """Flushes the encoder and finishes the file. A recording without frames leaves no file."""
        if self._closed:
            return
        self._closed = True
        if self.frames_written == 0:
            log.info("no frames recorded to %s", self.path)
        self._finish()

    def __enter__(self) -> VideoRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SegmentedRecorder:
    """A recording cut into files of about `segment_seconds` each, every one a complete
    fragmented MP4 (a `VideoRecorder`), as camera recorders do.

    `path` names the files:
      * a pattern with `{index}` (1, 2, ...) and/or `{time:<strftime>}` (the local time of
        the segment's first frame): `out-{index:04d}.mp4`, `cam-{time:%Y%m%d-%H%M%S}.mp4`;
      * a plain file name: `rec.mp4` -> `rec-20261125-031500.mp4`, ...;
      * a folder (existing, or ending in /): `folder/rec-20261125-031500.mp4`, ...
    Names never come from the source (a camera URL may hold a password). An existing file
    is never replaced: a clash gets `-2`, `-3`, ... A segment rolls at the first frame at
    least `segment_seconds` after the segment's first frame, or when the frame size changes
    (a camera that came back with other settings). Each roll finishes the old file first.
    `paths` lists the files written so far, the current one last."""

    DEFAULT_NAME = "rec-{time:%Y%m%d-%H%M%S}.mp4"

    def __init__(self, path: str | Path, segment_seconds: float = 600.0, *, fps_hint: float = 30, crf: int = 23,
                 preset: str = "veryfast", keyframe_seconds: float = 1.0, low_latency: bool = True) -> None:
        if not segment_seconds > 0:
            raise RecordingError(f"segment length must be positive, got {segment_seconds} s")
        text = str(path)
        path = Path(path)
        if "{" in path.name:
            pattern = path
        elif path.is_dir() or text.endswith(("/", os.sep)):
            pattern = path / self.DEFAULT_NAME
        else:
            pattern = path.with_name(f"{path.stem}-{{time:%Y%m%d-%H%M%S}}{path.suffix or '.mp4'}")
        try:
            first = pattern.with_name(pattern.name.format(index=1, time=datetime.now()))
        except (KeyError, IndexError, ValueError) as err:
            raise RecordingError(f"bad segment name pattern {pattern.name!r}: {one_line(err)} (use {{index}} "
                                 "and {time:%Y%m%d-%H%M%S} fields)") from err
        check_output_file(first, "record to", "rec.mp4")
        self.pattern = pattern
        self.segment_seconds = float(segment_seconds)
        self._options = dict(fps_hint=fps_hint, crf=crf, preset=preset, keyframe_seconds=keyframe_seconds,
                             low_latency=low_latency)
        self.paths: list[Path] = []
        self.frames_written = 0
        self._current: VideoRecorder | None = None
        self._segment_start = 0.0
        self._closed = False

    @property
    def path(self) -> Path:
        """The file being written (the pattern before the first frame)."""
        return self.paths[-1] if self.paths else self.pattern

    @property
    def segments(self) -> int:
        return len(self.paths)

    def write(self, image_bgr: np.ndarray, t_capture: float) -> None:
        if self._closed:
            raise RecordingError(f"segmented recorder for {self.pattern} is closed (open a new one)")
        image = _check_image(image_bgr)  # before a new segment's file is made for it
        current = self._current
        if current is not None:
            size = (image.shape[1], image.shape[0])
            if t_capture - self._segment_start >= self.segment_seconds or size != current.size:
                self._finish()
                current = None
        if current is None:
            current = self._current = VideoRecorder(self._next_path(t_capture), **self._options)
            self.paths.append(current.path)
            self._segment_start = t_capture
            log.info("recording segment %d: %s", len(self.paths), current.path)
        current.write(image, t_capture)
        self.frames_written += 1

    def _next_path(self, t_capture: float) -> Path:
        wall = datetime.fromtimestamp(time.time() - (time.monotonic() - t_capture))
        return _free_name(self.pattern.with_name(self.pattern.name.format(index=len(self.paths) + 1, time=wall)),
                          self.paths)

    def _finish(self) -> None:
        current, self._current = self._current, None
        if current is not None:
            current.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._finish()

    def __enter__(self) -> SegmentedRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
