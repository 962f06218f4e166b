"""Per-frame data of a file kept for a second pass, in bounded memory: segmentations as mask
windows (each mask's box only, bit-packed), frames as JPEG (or PNG); past `memory_limit` bytes
each new item goes to its own file in a temporary folder (removed by `close`)."""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np

from .types import Segmentation


def pack_segmentation(seg: Segmentation) -> bytes:
    """`seg` as bytes: each mask cut to its box (the engines keep masks inside their boxes)."""
    h, w = seg.shape
    windows = np.zeros((len(seg), 4), np.int32)
    bits = []
    for i, (mask, box) in enumerate(zip(seg.masks, seg.boxes)):
        x1, y1 = max(int(np.floor(box[0])), 0), max(int(np.floor(box[1])), 0)
        x2, y2 = min(int(np.ceil(box[2])), w), min(int(np.ceil(box[3])), h)
        x2, y2 = max(x2, x1), max(y2, y1)
        windows[i] = x1, y1, x2, y2
        bits.append(np.packbits(mask[y1:y2, x1:x2], axis=None))
    buffer = io.BytesIO()
    np.savez(buffer, shape=np.array([h, w]), windows=windows, boxes=seg.boxes, scores=seg.scores,
             ids=seg.object_ids, sizes=np.array([len(b) for b in bits], np.int64),
             bits=np.concatenate(bits) if bits else np.zeros(0, np.uint8))
    return buffer.getvalue()


def unpack_segmentation(data: bytes) -> Segmentation:
    arrays = np.load(io.BytesIO(data))
    h, w = arrays["shape"].tolist()
    windows = arrays["windows"]
    masks = np.zeros((len(windows), h, w), bool)
    offsets = np.concatenate([[0], np.cumsum(arrays["sizes"])])
    bits = arrays["bits"]
    for i, (x1, y1, x2, y2) in enumerate(windows.tolist()):
        count = (x2 - x1) * (y2 - y1)
        if count:
            cut = np.unpackbits(bits[offsets[i]:offsets[i + 1]], count=count).astype(bool)
            masks[i, y1:y2, x1:x2] = cut.reshape(y2 - y1, x2 - x1)
    return Segmentation(masks, arrays["boxes"], arrays["scores"], arrays["ids"])


class SpillStore:
    """bytes by key, in memory up to `memory_limit` bytes, then on disk."""

    def __init__(self, memory_limit: int = 512 * 2**20, folder: str | Path | None = None):
        self.memory_limit = memory_limit
        self._parent = folder
        self._memory: dict[object, bytes] = {}
        self._files: dict[object, Path] = {}
        self._folder: Path | None = None
        self.memory_bytes = 0
        self.disk_bytes = 0

    def put(self, key, data: bytes) -> None:
        self.drop(key)
        if self.memory_bytes + len(data) <= self.memory_limit:
            self._memory[key] = data
            self.memory_bytes += len(data)
            return
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="fastsam-video-", dir=self._parent))
        path = self._folder / f"{len(self._files)}-{abs(hash(key))}.bin"
        path.write_bytes(data)
        self._files[key] = path
        self.disk_bytes += len(data)

    def get(self, key) -> bytes | None:
        if key in self._memory:
            return self._memory[key]
        path = self._files.get(key)
        return None if path is None else path.read_bytes()

    def drop(self, key) -> None:
        if key in self._memory:
            self.memory_bytes -= len(self._memory.pop(key))
        elif key in self._files:
            path = self._files.pop(key)
            self.disk_bytes -= path.stat().st_size
            path.unlink()

    def close(self) -> None:
        self._memory.clear()
        self._files.clear()
        self.memory_bytes = self.disk_bytes = 0
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> SpillStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FrameStore:
    """Segmentations and frames by (kind, frame index) on a SpillStore. Frames are JPEG by
    default (a tenth of PNG's size at 1080p: the backward tracker reads only their colours),
    `lossless` keeps them exact (PNG)."""

    def __init__(self, store: SpillStore, lossless: bool = False):
        self.store = store
        self._format = (".png", [cv2.IMWRITE_PNG_COMPRESSION, 1]) if lossless else (".jpg", [cv2.IMWRITE_JPEG_QUALITY, 90])

    def put_segmentation(self, kind: str, index: int, seg: Segmentation) -> None:
        self.store.put((kind, index), pack_segmentation(seg))

    def segmentation(self, kind: str, index: int) -> Segmentation | None:
        data = self.store.get((kind, index))
        return None if data is None else unpack_segmentation(data)

    def put_image(self, index: int, image: np.ndarray) -> None:
        _, encoded = cv2.imencode(self._format[0], image, self._format[1])
        self.store.put(("image", index), encoded.tobytes())

    def image(self, index: int) -> np.ndarray:
        return cv2.imdecode(np.frombuffer(self.store.get(("image", index)), np.uint8), cv2.IMREAD_COLOR)
