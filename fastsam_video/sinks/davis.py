"""DAVIS label maps: one indexed PNG per frame, each at its frame's own size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..types import FastSAMVideoError, RecordingError, Segmentation
from .files import make_folder, one_line, to_numpy


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


def write_davis_png(path: str | Path, label_map: np.ndarray) -> None:
    """Writes an (H, W) map of object ids (0 = background, at most 255) as an indexed PNG
    with the DAVIS palette."""
    labels = to_numpy(label_map)
    if labels.ndim != 2:
        raise RecordingError(f"a DAVIS label map must be (H, W), got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 255):
        raise RecordingError(f"object id {labels.max() if labels.max() > 255 else labels.min()} does not fit a "
                             "DAVIS PNG (ids must be 0..255; renumber the objects)")
    path = Path(path)
    make_folder(path.parent)
    height, width = labels.shape
    image = Image.frombytes("P", (width, height), np.ascontiguousarray(labels, dtype=np.uint8).tobytes())
    image.putpalette(DAVIS_PALETTE.tobytes())
    try:
        image.save(path, format="PNG")
    except OSError as err:
        raise RecordingError(f"cannot write {path}: {one_line(err)} (check the folder is writable)") from err


def read_davis_png(path: str | Path) -> np.ndarray:
    """The (H, W) uint8 object ids of an indexed (or grayscale) label PNG."""
    try:
        with Image.open(path) as image:
            if image.mode not in ("P", "L"):
                raise FastSAMVideoError(f"{path} is a {image.mode} image, not a label map (expected an "
                                        "indexed DAVIS PNG)")
            return np.array(image, dtype=np.uint8)
    except OSError as err:
        raise FastSAMVideoError(f"cannot read label map {path}: {one_line(err)}") from err


class DavisExporter:
    """Writes each frame's label map to `folder/00000.png, 00001.png, ...` (DAVIS format), each
    at its own frame's size (a camera that changes resolution changes the PNGs' size too)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.frames_written = 0
        if self.folder.exists() and not self.folder.is_dir():
            raise RecordingError(f"cannot export DAVIS masks to {self.folder}: it is a file; give a folder like "
                                 f"{self.folder.with_name('masks')}/")
        make_folder(self.folder)

    def write(self, frame_index: int, segmentation: Segmentation) -> None:
        labels = segmentation.label_map()
        # the map holds only the segmentation's ids: it is searched only when one of them is too big
        if len(segmentation) and int(segmentation.object_ids.max()) > 255 and int(labels.max()) > 255:
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
