"""COCO results with compressed RLE masks, streamed to disk as the frames come.

Files, for `CocoExporter("out/coco.json")`:
  * `out/coco.jsonl` while it runs: COCO JSON Lines, one line per frame, appended and
    flushed every `flush_every` frames (default: every frame), so a crash (even SIGKILL)
    keeps every flushed frame:
      {"image": {"id", "width", "height", "file_name"},
       "annotations": [{"id", "image_id", "category_id", "segmentation": {"size", "counts"},
                        "area", "bbox", "score", "object_id", "iscrowd"}, ...]}
  * `out/coco.json` at close: the standard COCO file ({"images", "annotations", "categories"}),
    written from the .jsonl in one streaming pass (flat memory, O(n) I/O), replaced
    atomically; the .jsonl is removed once it is complete.
A .jsonl left by a crash becomes the .json with `finalize_coco(path)`, or from a shell:
`python -m fastsam_video.sinks out/coco.jsonl`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, TextIO

import numpy as np
from pycocotools import mask as coco_mask

from ..types import FastSAMVideoError, RecordingError, Segmentation
from .files import check_output_file, one_line, to_numpy

log = logging.getLogger(__name__)

CATEGORIES = [{"id": 1, "name": "object"}]


def rle_encode(mask: np.ndarray) -> dict[str, Any]:
    """COCO compressed RLE of an (H, W) mask (pycocotools.mask.encode, counts as str):
    {"size": [h, w], "counts": str}, runs taken down the columns, background first."""
    mask = to_numpy(mask)
    if mask.ndim != 2:
        raise ValueError(f"rle_encode: expected an (H, W) mask, got shape {mask.shape}")
    return _encode(mask[None] != 0)[0]


def _encode(masks: np.ndarray) -> list[dict[str, Any]]:
    """RLEs of (N, H, W) bool masks, all in one pycocotools call."""
    # pycocotools wants (H, W, N) uint8 in Fortran order: in memory that is (N, W, H) in C order
    columns = np.ascontiguousarray(masks.transpose(0, 2, 1)).view(np.uint8).transpose(2, 1, 0)
    rles = coco_mask.encode(columns)
    for rle in rles:
        rle["counts"] = rle["counts"].decode("ascii")
    return rles


def _decompress_counts(text: str) -> list[int]:
    """pycocotools' rleFrString, with a check that the text does not end inside a number (decoding
    untrusted text here cannot write past a buffer, as C code could)."""
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


def jsonl_path(path: str | Path) -> Path:
    """The JSON Lines file beside a COCO JSON: coco.json -> coco.jsonl (other names get .jsonl added)."""
    path = Path(path)
    return path.with_suffix(".jsonl") if path.suffix == ".json" else path.with_name(path.name + ".jsonl")


def mask_annotations(masks: np.ndarray) -> list[dict[str, Any]]:
    """COCO's `segmentation` (compressed RLE), `area` and `bbox` ([x, y, w, h]; zeros for an empty
    mask) of each (N, H, W) bool mask, in one pycocotools call."""
    if not len(masks):
        return []
    rles = _encode(masks)
    areas = coco_mask.area(rles).tolist()
    boxes = coco_mask.toBbox(rles).astype(int).tolist()
    return [{"segmentation": rle, "area": area, "bbox": box} for rle, area, box in zip(rles, areas, boxes)]


def frame_record(frame_index: int, segmentation: Segmentation, first_id: int) -> dict[str, Any]:
    """One frame's JSON Lines record; its annotations numbered from `first_id`."""
    height, width = segmentation.shape
    annotations = []
    if len(segmentation):
        shapes = mask_annotations(segmentation.masks)
        scores = segmentation.scores.tolist()
        object_ids = segmentation.object_ids.tolist()
        for i, (shape, score, object_id) in enumerate(zip(shapes, scores, object_ids)):
            annotations.append({"id": first_id + i, "image_id": frame_index, "category_id": 1, **shape,
                                "score": float(score), "object_id": int(object_id), "iscrowd": 0})
    return {"image": {"id": frame_index, "width": width, "height": height, "file_name": f"{frame_index:05d}.png"},
            "annotations": annotations}


class CocoExporter:
    """Streams every frame's masks as COCO results (compressed RLE), with flat memory and O(n)
    I/O: see the module's docstring for the files. Each image has its own frame's width and
    height (a camera that changes resolution mid-stream is recorded as it was).

    The paths are checked when the exporter is made; the .jsonl appears at the first frame
    (a .jsonl left by an earlier run is replaced then). Lines are flushed to the operating
    system every `flush_every` frames or after `flush_seconds` (checked at each frame). An
    exporter closed without frames leaves no file."""

    def __init__(self, path: str | Path, *, flush_every: int = 1, flush_seconds: float = 1.0) -> None:
        if flush_every < 1:
            raise RecordingError(f"flush_every must be at least 1 frame, got {flush_every}")
        self.path = Path(path)
        self.jsonl = jsonl_path(self.path)
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        check_output_file(self.path, "export COCO JSON to", "coco.json")
        check_output_file(self.jsonl, "export COCO JSON Lines to", "coco.jsonl")
        if self.jsonl.exists():
            log.warning("%s, left by an earlier run, is replaced at the first frame (python -m fastsam_video.sinks "
                        "%s turns it into COCO JSON first)", self.jsonl, self.jsonl)
        self.frames_written = 0
        self.annotations_written = 0
        self._file: TextIO | None = None
        self._unflushed = 0
        self._last_flush = time.monotonic()
        self._failed = False  # a write failed: close() keeps what reached the disk and raises no more
        self._closed = False

    def write(self, frame_index: int, segmentation: Segmentation) -> None:
        if self._closed or self._failed:
            state = "closed" if self._closed else "broken by an earlier error"
            raise RecordingError(f"COCO exporter for {self.path} is {state} (open a new one)")
        record = frame_record(frame_index, segmentation, self.annotations_written + 1)
        try:
            if self._file is None:
                self._file = open(self.jsonl, "w", encoding="utf-8")
            self._file.write(_dumps(record) + "\n")
            self._unflushed += 1
            if self._unflushed >= self.flush_every or time.monotonic() - self._last_flush >= self.flush_seconds:
                self.flush()
        except OSError as err:
            self._failed = True
            raise RecordingError(f"cannot write {self.jsonl}: {one_line(err)} (check the disk has space and the "
                                 "file is still there)") from err
        self.frames_written += 1
        self.annotations_written += len(record["annotations"])

    def flush(self) -> None:
        """Hands the lines written so far to the operating system: they survive a crash of this process."""
        if self._file is not None:
            self._file.flush()
        self._unflushed = 0
        self._last_flush = time.monotonic()

    def close(self) -> None:
        """Writes the COCO JSON from the .jsonl and removes the .jsonl (idempotent)."""
        if self._closed:
            return
        self._closed = True
        file, self._file = self._file, None
        if file is None:
            log.info("no frames exported to %s", self.path)
            return
        try:
            try:
                file.close()
            except OSError as err:
                raise RecordingError(f"cannot finish {self.jsonl}: {one_line(err)} (check the disk has space; then "
                                     f"python -m fastsam_video.sinks {self.jsonl} writes {self.path.name})") from err
            finalize_coco(self.jsonl, self.path)
        except RecordingError as err:
            if not self._failed:
                raise
            # the write error was reported already: say what is left and how to use it
            log.warning("%s was not finished (%s); the frames written are in %s: python -m fastsam_video.sinks %s "
                        "writes it", self.path, err, self.jsonl, self.jsonl)
            return
        self.jsonl.unlink(missing_ok=True)

    def __enter__(self) -> CocoExporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _records(jsonl: Path) -> Iterator[dict[str, Any]]:
    """The frame records of a COCO JSON Lines file; a last line cut short by a crash is skipped."""
    with open(jsonl, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.endswith("\n"):
                log.warning("%s: line %d was cut short (the writer stopped mid-line); skipped", jsonl, number)
                return
            try:
                yield json.loads(line)
            except json.JSONDecodeError as err:
                raise RecordingError(f"{jsonl} line {number} is not a JSON record: {one_line(err)} (expected "
                                     "one COCO frame record per line)") from err


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def finalize_coco(jsonl: str | Path, path: str | Path | None = None) -> Path:
    """Writes the standard COCO JSON of a COCO JSON Lines file (an exporter's at close, or one left
    by a crash) to `path` (default: beside it, .jsonl -> .json) and returns that path. One
    streaming pass: images go to the JSON, annotations to an unnamed temporary file appended after
    them, so memory stays flat however long the file. The .jsonl is kept. The JSON is written to a
    temporary name, then renamed over `path`."""
    jsonl = Path(jsonl)
    if not jsonl.is_file():
        raise RecordingError(f"cannot finalize {jsonl}: no such file (give the .jsonl a COCO export left)")
    path = Path(path) if path is not None else (jsonl.with_suffix(".json") if jsonl.suffix == ".jsonl"
                                                else jsonl.with_name(jsonl.name + ".json"))
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as out, \
                tempfile.TemporaryFile("w+", encoding="utf-8", dir=path.parent) as annotations:
            out.write('{"images": [')
            images = annotated = 0
            for record in _records(jsonl):
                out.write((",\n" if images else "\n") + _dumps(record["image"]))
                images += 1
                if record["annotations"]:  # the frame's annotations on one line, without the brackets
                    annotations.write((",\n" if annotated else "\n") + _dumps(record["annotations"])[1:-1])
                    annotated += 1
            out.write('],\n"annotations": [')
            annotations.seek(0)
            shutil.copyfileobj(annotations, out)
            out.write('],\n"categories": ' + _dumps(CATEGORIES) + "}\n")
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise RecordingError(f"cannot write {path}: {one_line(err)} (check the folder is writable and the "
                                 "disk has space)") from err
        if isinstance(err, (KeyError, TypeError)):
            raise RecordingError(f"{jsonl} holds a record without {one_line(err)} (expected COCO frame records "
                                 "with \"image\" and \"annotations\")") from err
        raise
    return path


def main(argv: list[str] | None = None) -> int:
    """`python -m fastsam_video.sinks FILE.jsonl [OUT.json]`: finalize a COCO JSON Lines file."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2) or args[0].startswith("-"):
        print("usage: python -m fastsam_video.sinks FILE.jsonl [OUT.json]  (writes the COCO JSON of a "
              "COCO JSON Lines export, e.g. one left by a crash)", file=sys.stderr)
        return 2
    try:
        path = finalize_coco(*args)
    except FastSAMVideoError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(path)
    return 0
