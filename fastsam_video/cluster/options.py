"""Settings shared by the driver, the model replicas and the camera actors (no ray import).
The model, stream and output settings are the single-machine ones (`fastsam_video.options`)."""

from __future__ import annotations

from dataclasses import dataclass

from .. import decoding
from ..options import StreamOptions
from ..types import FastSAMVideoError


class ClusterError(FastSAMVideoError):
    """The Ray cluster cannot be reached or cannot run the cameras."""


@dataclass(frozen=True)
class ClusterOptions:
    """How the work is placed: model replicas, their batches, the camera actors."""

    replicas: int = 1
    replica_cpus: float = 1.0  # per replica (fractions share a node's cores)
    replica_gpus: float = 0.0  # per replica: 0.5 puts two replicas on one GPU
    camera_cpus: float = 0.25  # per camera actor
    spares: int = 1  # camera actors started in advance: a lost node's cameras resume on them at once
    max_batch_size: int = 8  # frames of different cameras in one forward pass
    batch_wait_s: float = 0.005  # how long a replica waits to fill a batch
    retry_seconds: float = 60.0  # how long a camera resends a frame to a lost or saturated model
    display_fps: float = 15.0  # annotated frames fetched per camera for `on_result` (the web's MJPEG)

    def __post_init__(self) -> None:
        if self.spares < 0:
            raise ClusterError(f"spares: expected >= 0, got {self.spares}")
        for name in ("replicas", "max_batch_size"):
            if getattr(self, name) < 1:
                raise ClusterError(f"{name.replace('_', ' ')}: expected >= 1, got {getattr(self, name)}")
        for name in ("replica_cpus", "replica_gpus", "camera_cpus", "batch_wait_s", "display_fps"):
            if not getattr(self, name) >= 0:
                raise ClusterError(f"{name.replace('_', ' ')}: expected >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class DecodeSettings:
    """What a camera needs of the model to resize its frames and decode the outputs (NMS, masks): no weights."""

    imgsz: int
    stride: int
    decode: decoding.DecodeSettings  # the model's `settings`: thresholds, detection cap, classes, edges


@dataclass(frozen=True)
class CameraSpec:
    """One camera: what to open (a `sources.open_source` spec, opened on the actor's node), where to
    record (a file; a restart on another node goes on in NAME-runNN.mp4) and export (on that node)."""

    source: str
    stream: StreamOptions = StreamOptions()
    record: str | None = None
    segment_seconds: float | None = None  # roll the recording every N seconds (NAME-runNN-<index>.mp4)
    loop: bool = False  # a file played again from its start at its end (the server's demo)
    export_masks: str | None = None  # DAVIS PNGs into this folder (a restart goes on in it)
    export_coco: str | None = None  # COCO JSON (a restart writes NAME-runNN.json)
    hud: bool = False  # FPS and latency drawn on the recorded frames

    @property
    def name(self) -> str:  # what logs show (the service redacts passwords)
        return self.source
