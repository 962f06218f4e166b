"""Where results go: an H.264 recording (one file, or segments of N seconds), DAVIS label
PNGs, COCO JSON, and a thread to write them without stalling inference.

Writers raise `RecordingError` with one line naming the problem and the fix. The recorder
writes fragmented MP4 with no frames held in the encoder, so that a crash (even SIGKILL)
keeps all but the last fragment (~1 s); the COCO exporter rewrites its file atomically now
and then for the same reason.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import av
import cv2
import numpy as np
import torch
from PIL import Image

from .queues import STOPPED, get_until_stopped
from .types import FastSAMVideoError, RecordingError, Segmentation

log = logging.getLogger(__name__)


def _davis_palette() -> np.ndarray:
    """The DAVIS / PASCAL VOC palette: id 1 dark red, 2 green, 3 olive, 4 navy, ..."""
    palette = np.zeros((256, 3), np.uint8)
    for index in range(256):
        c, r, g, b = index, 0, 0, 0
        for bit in range(7, -1, -1):  # the id's bits, three at a time, spread from the top bit down
            r |= (c & 1) << bit
            g |= ((c >> 1) & 1) << bit
            b |= ((c >> 2) & 1) << bit
            c >>= 3
        palette[index] = (r, g, b)
    return palette


DAVIS_PALETTE = _davis_palette()


def _to_numpy(array: np.ndarray | torch.Tensor) -> np.ndarray:
    return array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)


def _reason(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RecordingError(f"cannot create folder {path.parent}: {_reason(err)} (choose a writable "
                             "location)") from err


def write_davis_png(path: str | Path, label_map: np.ndarray | torch.Tensor) -> None:
    """Writes an (H, W) map of object ids (0 = background, at most 255) as an indexed PNG
    with the DAVIS palette."""
    labels = _to_numpy(label_map)
    if labels.ndim != 2:
        raise RecordingError(f"a DAVIS label map must be (H, W), got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 255):
        raise RecordingError(f"object id {labels.max() if labels.max() > 255 else labels.min()} does not fit a "
                             "DAVIS PNG (ids must be 0..255; renumber the objects)")
    path = Path(path)
    _make_parent(path)
    height, width = labels.shape
    image = Image.frombytes("P", (width, height), np.ascontiguousarray(labels, dtype=np.uint8).tobytes())
    image.putpalette(DAVIS_PALETTE.tobytes())
    try:
        image.save(path, format="PNG")
    except OSError as err:
        raise RecordingError(f"cannot write {path}: {_reason(err)} (check the folder is writable)") from err


def read_davis_png(path: str | Path) -> np.ndarray:
    """The (H, W) uint8 object ids of an indexed (or grayscale) label PNG."""
    try:
        with Image.open(path) as image:
            if image.mode not in ("P", "L"):
                raise FastSAMVideoError(f"{path} is a {image.mode} image, not a label map (expected an "
                                        "indexed DAVIS PNG)")
            return np.array(image, dtype=np.uint8)
    except OSError as err:
        raise FastSAMVideoError(f"cannot read label map {path}: {_reason(err)}") from err


def _check_image(image_bgr: np.ndarray | torch.Tensor) -> np.ndarray:
    image = _to_numpy(image_bgr)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise RecordingError(f"cannot record a {image.dtype} image of shape {image.shape}: expected "
                             "(H, W, 3) uint8 BGR")
    return image


class VideoRecorder:
    """Records BGR frames to H.264 in fragmented MP4, timed by their capture times.

    A fragment ends at each keyframe (about every `keyframe_seconds`), so a killed process
    loses only the fragment in progress. With `low_latency` (the default: x264's
    `tune=zerolatency`, no lookahead) every frame leaves the encoder as it is written, so
    that fragment is all a kill loses; without it x264 holds ~11 frames back for better
    compression (files are ~1.5x smaller at the same quality; fine for offline work).
    Frame times follow the capture times exactly (variable frame rate): a gap in the
    capture (a camera reconnecting) is a gap in the video. `fps_hint` only guides the
    encoder's rate control. Odd sizes are padded by one pixel to the even size H.264
    needs; all frames must share one size."""

    TIME_BASE = Fraction(1, 90000)

    def __init__(self, path: str | Path, *, fps_hint: float = 30, crf: int = 23, preset: str = "veryfast",
                 keyframe_seconds: float = 1.0, low_latency: bool = True) -> None:
        self.path = Path(path)
        self.fps_hint = fps_hint
        self.crf = crf
        self.preset = preset
        self.keyframe_seconds = keyframe_seconds
        self.low_latency = low_latency
        self.frames_written = 0
        self.packets_written = 0  # frames out of the encoder; frames_written - packets_written are inside it
        if self.path.is_dir():
            raise RecordingError(f"cannot record to {self.path}: it is a directory (give a file name ending "
                                 "in .mp4)")
        _make_parent(self.path)
        try:
            # PyAV opens the file only at the first frame; fail now rather than mid-session.
            with open(self.path, "wb"):
                pass
            self._container = av.open(str(self.path), "w", format="mp4", container_options={
                "movflags": "frag_keyframe+empty_moov+default_base_moof",
                "flush_packets": "1",  # each packet reaches the file at once, not when a buffer fills
            })
        except (av.error.FFmpegError, OSError) as err:
            raise RecordingError(f"cannot record to {self.path}: {_reason(err)} (check the folder is "
                                 "writable)") from err
        self._stream: av.video.stream.VideoStream | None = None
        self._size: tuple[int, int] | None = None  # (width, height) of the first frame
        self._t0 = 0.0
        self._last_pts = -1
        self._last_key_pts: int | None = None
        self._failed = False  # an encoder or muxer error leaves the file unusable for more frames
        self._closed = False

    @property
    def duration(self) -> float:
        """Seconds from the first frame to the last one written."""
        return max(self._last_pts, 0) * float(self.TIME_BASE)

    def write(self, image_bgr: np.ndarray, t_capture: float) -> None:
        if self._closed or self._failed:
            state = "closed" if self._closed else "broken by an earlier error"
            raise RecordingError(f"recorder for {self.path} is {state} (open a new VideoRecorder)")
        image = _check_image(image_bgr)
        height, width = image.shape[:2]
        if self._stream is None:
            self._start(width, height, t_capture)
        elif (width, height) != self._size:
            w0, h0 = self._size
            raise RecordingError(f"frame size changed from {w0}x{h0} to {width}x{height}: one recording keeps "
                                 f"one size (resize frames to {w0}x{h0}, or start a new recording)")
        if height % 2 or width % 2:  # yuv420p halves the chroma planes: H.264 needs even sizes
            image = np.pad(image, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        # Strictly increasing: two frames with one capture time still need distinct pts.
        pts = max(round((t_capture - self._t0) / self.TIME_BASE), self._last_pts + 1)
        # OpenCV's BT.601 conversion: 3x faster than swscale's, same colours within rounding
        frame = av.VideoFrame.from_ndarray(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), format="yuv420p")
        frame.pts = pts
        frame.time_base = self.TIME_BASE
        if self._last_key_pts is None or (pts - self._last_key_pts) * self.TIME_BASE >= self.keyframe_seconds:
            # Forced by time rather than by a frame count (gop size): the rate varies.
            frame.pict_type = av.video.frame.PictureType.I
            self._last_key_pts = pts
        self._encode(frame)
        self._last_pts = pts
        self.frames_written += 1

    def _start(self, width: int, height: int, t_capture: float) -> None:
        stream = self._container.add_stream("libx264", rate=Fraction(self.fps_hint).limit_denominator(1001))
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.time_base = self.TIME_BASE
        stream.codec_context.time_base = self.TIME_BASE
        # No B-frames: with an empty moov there is no edit list, so B-frame delay would shift
        # every timestamp; it also keeps frames from waiting in the encoder.
        options = {"crf": str(self.crf), "preset": self.preset, "bf": "0"}
        if self.low_latency:
            # No lookahead, sliced rather than frame threads: a frame in is a packet out, on
            # any number of cores (the default kept ~11 frames inside x264, lost on a kill).
            options["tune"] = "zerolatency"
        stream.options = options
        self._stream = stream
        self._size = (width, height)
        self._t0 = t_capture

    def _encode(self, frame: av.VideoFrame | None) -> None:
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
                self.packets_written += 1
        except (av.error.FFmpegError, OSError, ValueError) as err:
            self._failed = True
            raise RecordingError(f"recording to {self.path} failed at frame {self.frames_written}: "
                                 f"{_reason(err)} (check the disk and the encoder settings)") from err

    def close(self) -> None:
        """Flushes the encoder and finishes the file. A recording without frames is removed."""
        if self._closed:
            return
        self._closed = True
        if self.frames_written == 0:
            try:
                self._container.close()  # nothing to finish; PyAV may complain there is no stream
            except (av.error.FFmpegError, OSError):
                pass
            self.path.unlink(missing_ok=True)
            log.info("no frames recorded; removed %s", self.path)
            return
        try:
            if not self._failed:
                self._encode(None)
        finally:
            try:
                self._container.close()
            except (av.error.FFmpegError, OSError) as err:
                raise RecordingError(f"cannot finish recording {self.path}: {_reason(err)} (check the disk "
                                     "has space)") from err

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
            pattern.name.format(index=1, time=datetime.now())
        except (KeyError, IndexError, ValueError) as err:
            raise RecordingError(f"bad segment name pattern {pattern.name!r}: {_reason(err)} (use {{index}} "
                                 "and {time:%Y%m%d-%H%M%S} fields)") from err
        _make_parent(pattern)
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
            if t_capture - self._segment_start >= self.segment_seconds or size != current._size:
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
        name = self.pattern.name.format(index=len(self.paths) + 1, time=wall)
        candidate = self.pattern.with_name(name)
        stem, suffix = candidate.stem, candidate.suffix
        n = 1
        while candidate.exists() or candidate in self.paths:
            n += 1
            candidate = candidate.with_name(f"{stem}-{n}{suffix}")
        return candidate

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


class DavisExporter:
    """Writes each frame's label map to `folder/00000.png, 00001.png, ...` (DAVIS format)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.frames_written = 0
        if self.folder.exists() and not self.folder.is_dir():
            raise RecordingError(f"cannot export DAVIS masks to {self.folder}: it is a file (give a folder)")
        _make_parent(self.folder / "x")

    def write(self, frame_index: int, segmentation: Segmentation) -> None:
        labels = segmentation.label_map()
        if len(segmentation) and int(labels.max()) > 255:
            raise RecordingError(f"object id {int(labels.max())} at frame {frame_index} does not fit a DAVIS "
                                 "PNG (ids must be 1..255; renumber the objects)")
        write_davis_png(self.folder / f"{frame_index:05d}.png", labels)
        self.frames_written += 1

    def close(self) -> None:
        pass  # every frame is a finished file already

    def __enter__(self) -> DavisExporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _compress_counts(counts: list[int]) -> str:
    """pycocotools' rleToString: LEB128-like, 5 bits per char (chars 48..111), each count
    after the third stored as its difference from the count two before."""
    out = []
    for i, x in enumerate(counts):
        if i > 2:
            x -= counts[i - 2]
        while True:
            c = x & 0x1F
            x >>= 5  # arithmetic shift: negative differences end in all ones
            more = x != -1 if c & 0x10 else x != 0
            out.append(chr((c | 0x20 if more else c) + 48))
            if not more:
                break
    return "".join(out)


def _decompress_counts(text: str) -> list[int]:
    """pycocotools' rleFrString."""
    counts: list[int] = []
    p = 0
    while p < len(text):
        x = k = 0
        while True:
            if p >= len(text):
                raise ValueError(f"malformed RLE counts {text!r}: it ends inside a number")
            c = ord(text[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            p += 1
            k += 1
            if not c & 0x20:
                if c & 0x10:  # sign-extend
                    x |= -1 << (5 * k)
                break
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def rle_encode(mask: np.ndarray | torch.Tensor) -> dict[str, Any]:
    """COCO compressed RLE of an (H, W) mask, identical to pycocotools.mask.encode:
    {"size": [h, w], "counts": str}, runs taken down the columns, background first."""
    mask = _to_numpy(mask)
    if mask.ndim != 2:
        raise ValueError(f"rle_encode: expected an (H, W) mask, got shape {mask.shape}")
    height, width = mask.shape
    flat = (mask != 0).ravel(order="F")
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    counts = np.diff(np.concatenate(([0], changes, [flat.size]))).tolist()
    if flat.size and flat[0]:
        counts.insert(0, 0)  # the first run is background, even when it is empty
    return {"size": [height, width], "counts": _compress_counts(counts)}


def rle_decode(rle: dict[str, Any]) -> np.ndarray:
    """The (H, W) bool mask of a COCO RLE (compressed str/bytes counts, or a list of counts)."""
    height, width = (int(v) for v in rle["size"])
    counts = rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    if isinstance(counts, str):
        counts = _decompress_counts(counts)
    counts = np.asarray(counts, dtype=np.int64)
    if (counts < 0).any() or counts.sum() != height * width:
        raise ValueError(f"rle_decode: counts cover {counts.sum()} pixels, expected {height}x{width}="
                         f"{height * width}")
    values = np.arange(len(counts)) % 2 == 1
    return np.ascontiguousarray(np.repeat(values, counts).reshape(width, height).T)


def _mask_bbox(mask: np.ndarray) -> list[int]:
    """[x, y, w, h] of a mask's pixels; zeros when empty (as pycocotools.mask.toBbox)."""
    rows = np.flatnonzero(mask.any(1))
    cols = np.flatnonzero(mask.any(0))
    if rows.size == 0:
        return [0, 0, 0, 0]
    return [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)]


class CocoExporter:
    """Collects every frame's masks as COCO-style results (compressed RLE) in one JSON file.

    The file is replaced atomically at creation, every `flush_every` frames or
    `flush_seconds`, and at `close()`, so a crash loses at most the last stretch."""

    CATEGORIES = [{"id": 1, "name": "object"}]

    def __init__(self, path: str | Path, *, flush_every: int = 100, flush_seconds: float = 5.0) -> None:
        self.path = Path(path)
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        self.frames_written = 0
        if self.path.is_dir():
            raise RecordingError(f"cannot export COCO JSON to {self.path}: it is a directory (give a file "
                                 "name ending in .json)")
        _make_parent(self.path)
        # Each entry is serialized once; a flush only joins the strings.
        self._images: list[str] = []
        self._annotations: list[str] = []
        self._unflushed = 0
        self._last_flush = time.monotonic()
        self._closed = False
        self.flush()

    def write(self, frame_index: int, segmentation: Segmentation) -> None:
        if self._closed:
            raise RecordingError(f"COCO exporter for {self.path} is closed (open a new one)")
        height, width = segmentation.shape
        masks = segmentation.masks.cpu().numpy()
        scores = segmentation.scores.cpu().tolist()
        object_ids = segmentation.object_ids.cpu().tolist()
        self._images.append(json.dumps({"id": frame_index, "width": width, "height": height,
                                        "file_name": f"{frame_index:05d}.png"}))
        for mask, score, object_id in zip(masks, scores, object_ids):
            self._annotations.append(json.dumps({
                "id": len(self._annotations) + 1, "image_id": frame_index, "category_id": 1,
                "segmentation": rle_encode(mask), "area": int(mask.sum()), "bbox": _mask_bbox(mask),
                "score": float(score), "object_id": int(object_id), "iscrowd": 0}))
        self.frames_written += 1
        self._unflushed += 1
        if self._unflushed >= self.flush_every or time.monotonic() - self._last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        """Replaces the file with everything so far (write to a temporary, then rename)."""
        text = ('{"images": [\n' + ",\n".join(self._images) + '],\n"annotations": [\n'
                + ",\n".join(self._annotations) + '],\n"categories": ' + json.dumps(self.CATEGORIES) + "}\n")
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            tmp.write_text(text)
            os.replace(tmp, self.path)
        except OSError as err:
            raise RecordingError(f"cannot write {self.path}: {_reason(err)} (check the folder is writable and "
                                 "the disk has space)") from err
        self._unflushed = 0
        self._last_flush = time.monotonic()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.flush()

    def __enter__(self) -> CocoExporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_END = object()  # queued by close(): everything before it is written first


class SinkThread:
    """Runs `sink_write(*args)` for each `put(*args)` on its own thread, from a bounded queue.

    `block=True` (files: completeness wins): `put` waits for room. `block=False` (live:
    the inference loop must never stall on a slow writer): `put` drops the item when the
    queue is full, counts it in `dropped` and returns False. A failure in the writer is
    re-raised by the next `put` (every one after it, too) or by `close()`, with the original
    as `__cause__`. `close()` writes what is queued, then joins. Arguments are queued as
    given, not copied: do not modify an array after putting it."""

    def __init__(self, sink_write: Callable[..., Any], *, name: str, maxsize: int = 32, block: bool = True) -> None:
        self.name = name
        self.block = block
        self.written = 0
        self.dropped = 0
        self.error: BaseException | None = None
        self._write = sink_write
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, maxsize))
        self._stop = threading.Event()
        self._closed = False
        self._reported = False
        self._thread = threading.Thread(target=self._run, name=f"sink {name}")
        self._thread.start()

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def put(self, *args: Any) -> bool:
        """Queues one write; False if it was dropped (non-blocking mode, queue full)."""
        self._raise_error()
        if self._closed:
            raise RecordingError(f"{self.name} is closed (no writes after close())")
        if not self.block:
            try:
                self._queue.put_nowait(args)
                return True
            except queue.Full:
                self.dropped += 1
                return False
        while not self._stop.is_set():
            try:
                self._queue.put(args, timeout=0.1)
                return True
            except queue.Full:
                self._raise_error()  # a failed writer never frees a slot
        raise RecordingError(f"{self.name} was stopped (no writes after close())")

    def _run(self) -> None:
        while True:
            item = get_until_stopped(self._queue, self._stop)
            if item is _END or item is STOPPED:
                return
            try:
                self._write(*item)
                self.written += 1
            except BaseException as err:  # stored and re-raised in the producer
                self.error = err
                return

    def _raise_error(self) -> None:
        err = self.error
        if err is None:
            return
        self._reported = True
        if isinstance(err, FastSAMVideoError):
            raise type(err)(str(err)) from err
        raise RecordingError(f"{self.name} failed: {type(err).__name__}: {_reason(err)}") from err

    def close(self, timeout: float = 10.0) -> None:
        """Writes what is queued (up to `timeout` seconds), then stops the thread."""
        if not self._closed:
            self._closed = True
            deadline = time.monotonic() + timeout
            while self._thread.is_alive() and time.monotonic() < deadline:
                try:
                    self._queue.put(_END, timeout=0.1)
                    break
                except queue.Full:
                    continue
            self._thread.join(max(0.0, deadline - time.monotonic()))
            if self._thread.is_alive():
                self._stop.set()
                self._thread.join(1.0)
                if self.error is None:
                    raise RecordingError(f"{self.name} did not finish writing within {timeout:g} s; "
                                         f"{self.pending} queued writes were lost (the disk may be too slow)")
        if not self._reported:
            self._raise_error()

    def __enter__(self) -> SinkThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
