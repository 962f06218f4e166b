"""Snapshots of events and best frames of objects, as JPEG files, written off the results thread.

`offer(result, event_ids)` is called on the pipeline's results thread for every result and only
queues references (bounded; a full queue skips the frame, and counts the snapshots it held).
The writer thread saves, for each event id, the annotated frame (`<id>.jpg`) and the clean one
(`<id>-clean.jpg`), encoded once per frame (the frame's other events get hard links); and for each tracked object its best frame so far (the largest visible mask),
cropped around the object, as the object's thumbnail (`tracks/<track>.jpg`, the store's track key).
Files are written to a temporary name and renamed, so a reader never sees half a JPEG.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import threading
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from ..workers import Worker

log = logging.getLogger(__name__)

JPEG_QUALITY = 85
THUMB_SIZE = 240  # pixels, the longer side of an object's thumbnail
BETTER = 1.15  # a new best frame needs a mask this much larger than the one saved (a few writes per object)


def write_jpeg(path: Path, image: np.ndarray) -> None:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise OSError(f"cannot encode a JPEG of shape {image.shape}")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data.tobytes())
    os.replace(tmp, path)


def link(existing: Path, new: Path) -> None:
    """`new` names the same file as `existing` (a hard link; a copy where links are refused)."""
    new.unlink(missing_ok=True)
    try:
        os.link(existing, new)
    except OSError:
        shutil.copyfile(existing, new)


def crop_around(image: np.ndarray, box, margin: float = 0.25) -> np.ndarray:
    """The box (xyxy) widened by `margin` of its size on each side, scaled to THUMB_SIZE at most."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    dx, dy = (x2 - x1) * margin + 4, (y2 - y1) * margin + 4
    x1, y1 = int(max(0, x1 - dx)), int(max(0, y1 - dy))
    x2, y2 = int(min(w, x2 + dx + 1)), int(min(h, y2 + dy + 1))
    crop = image[y1:max(y2, y1 + 1), x1:max(x2, x1 + 1)]
    scale = THUMB_SIZE / max(crop.shape[:2])
    if scale < 1:
        crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                          interpolation=cv2.INTER_AREA)
    return crop


class SnapshotWriter:
    """The JPEGs of events and objects under `folder`, from one thread."""

    def __init__(self, folder: str | Path, track_of: Callable[[int, int], str], maxsize: int = 64):
        self.folder = Path(folder)
        (self.folder / "tracks").mkdir(parents=True, exist_ok=True)
        self.track_of = track_of  # (camera, object id) -> the name of the object's thumbnail
        self.written = 0
        self.dropped = 0  # event snapshots skipped because the queue was full
        self._best: dict[tuple[int, int], float] = {}  # (camera, object) -> mask area of its saved thumbnail
        self._queue: queue.Queue = queue.Queue(maxsize)
        self._stop = threading.Event()
        self._worker = Worker(self._run, name="snapshots").start()

    def event_path(self, eid: int, clean: bool = False) -> Path:
        return self.folder / f"{eid}{'-clean' if clean else ''}.jpg"

    def track_path(self, track: str) -> Path:
        return self.folder / "tracks" / f"{track}.jpg"

    def offer(self, result, event_ids: list[int]) -> None:
        """Results thread: queue references to the result's images; never waits."""
        try:
            self._queue.put_nowait((result, event_ids))
        except queue.Full:
            self.dropped += len(event_ids)

    def _run(self) -> None:
        while not self._stop.is_set() or not self._queue.empty():
            try:
                result, event_ids = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                for k, eid in enumerate(event_ids):
                    for clean, image in ((False, result.annotated), (True, result.frame.image)):
                        if k == 0:
                            write_jpeg(self.event_path(eid, clean), image)
                        else:  # events of one frame share its files: encoded once
                            link(self.event_path(event_ids[0], clean), self.event_path(eid, clean))
                    self.written += 1
                self._best_frames(result)
            except (OSError, cv2.error) as err:  # a full disk: this frame's files are skipped
                log.warning("snapshots in %s: %s", self.folder, err)

    def _best_frames(self, result) -> None:
        seg = result.segmentation
        tracked = {o.object_id for o in result.objects}
        if not tracked or not len(seg):
            return
        for k, oid in enumerate(seg.object_ids.tolist()):
            if oid not in tracked:
                continue
            x1, y1, x2, y2 = (int(v) for v in seg.boxes[k])
            area = float(np.count_nonzero(seg.masks[k, max(y1, 0):y2 + 1, max(x1, 0):x2 + 1]))  # masks lie in their box
            key = (result.camera, oid)
            if area > self._best.get(key, 0.0) * BETTER and area > 0:
                self._best[key] = area
                write_jpeg(self.track_path(self.track_of(result.camera, oid)),
                           crop_around(result.annotated, seg.boxes[k]))

    def forget(self, camera: int, object_id: int) -> None:
        """An object that is gone for good: a later one with its id starts a new best frame."""
        self._best.pop((camera, object_id), None)

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._worker.join(timeout)
