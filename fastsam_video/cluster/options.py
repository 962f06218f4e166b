"""Settings shared by the driver, the model replicas and the camera actors (no ray import)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..types import FastSAMVideoError


class ClusterError(FastSAMVideoError):
    """The Ray cluster cannot be reached or cannot run the cameras."""


@dataclass(frozen=True)
class ModelOptions:
    """The model, as every replica loads it and every camera decodes its outputs."""

    model: str | None = None  # None: the bundled model (the file must exist on every node)
    imgsz: int | None = None
    conf: float | None = None
    iou: float | None = None
    device: str | None = None  # the replicas' device; None: CUDA when the replica got a GPU
    half: bool | None = None
    backend: str = "torch"
    max_batch_size: int = 8  # frames of different cameras in one forward pass
    batch_wait_s: float = 0.005  # how long a replica waits to fill a batch

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise ClusterError(f"max batch size: expected >= 1, got {self.max_batch_size}")
        if self.batch_wait_s < 0:
            raise ClusterError(f"batch wait: expected >= 0 s, got {self.batch_wait_s}")


@dataclass(frozen=True)
class CameraSpec:
    """One camera: what to open (`sources.open_source` spec) and where to record."""

    source: str
    name: str = ""  # unique per pipeline; default cam1, cam2, ...
    record: Path | None = None  # a folder: <name>-<run>-<segment>.mp4 files go there
    realtime: bool = False  # files at their own rate (as a live camera), else as fast as possible
    segment_seconds: float = 600.0
    max_frames: int | None = None  # stop after this many frames (every run together)

    def __post_init__(self) -> None:
        if self.max_frames is not None and self.max_frames < 1:
            raise ClusterError(f"max frames: expected >= 1, got {self.max_frames}")
