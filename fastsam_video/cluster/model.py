"""The forward pass as a Ray Serve deployment, batched across cameras (`@serve.batch`).

A camera sends its frame already resized to the network's size (uint8, longer side = imgsz):
about 1/36 of a 1080p frame. The replica pads the batch, runs the network and sends back each
image's raw outputs (predictions and mask prototypes) with the letterbox it used; NMS, mask
decoding, tracking and rendering stay on the camera's node (the engine's `infer` / `decode` split).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np
from ray import serve

from ..decoding import Letterbox, NetworkOutput
from ..engines import open_engine
from ..options import ModelOptions
from .options import DecodeSettings


@dataclass(frozen=True)
class RawOutput:
    """One image's share of a batch through the network."""

    raw: np.ndarray  # (4 + nc + 32, anchors) float
    proto: np.ndarray  # (32, input_h / 4, input_w / 4) float
    letterbox: Letterbox  # how the resized image sits in the batch's input
    timings: dict[str, float]  # ms: preprocess, forward (the whole batch's), batch size

    @property
    def nbytes(self) -> int:
        return self.raw.nbytes + self.proto.nbytes


@serve.deployment(name="SegmentModel")
class SegmentModel:
    """Owns one Segmenter; every call is one camera's frame, batched with the others'."""

    def __init__(self, options: ModelOptions, max_batch_size: int = 8, batch_wait_s: float = 0.005):
        self.segmenter = open_engine(options)
        self.__call__.set_max_batch_size(max_batch_size)
        self.__call__.set_batch_wait_timeout_s(batch_wait_s)

    def settings(self) -> DecodeSettings:
        """What cameras need to decode this model's outputs (they never load its weights)."""
        s = self.segmenter
        return DecodeSettings(s.imgsz, s.stride, s.settings)

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.005)
    async def __call__(self, images: list[np.ndarray]) -> list[RawOutput]:
        return split(await asyncio.to_thread(self.segmenter.infer, images))


def split(output: NetworkOutput) -> list[RawOutput]:
    """A batch's network output as one host copy per image (nothing else of the batch travels)."""
    raw, proto = host(output.raw), host(output.proto)
    timings = {**output.timings, "batch": float(len(output.letterboxes))}
    return [RawOutput(raw[i].copy(), proto[i].copy(), box, timings) for i, box in enumerate(output.letterboxes)]


def host(array) -> np.ndarray:
    """float32 numpy; a device tensor (the PyTorch engine on CUDA) is copied to the host once."""
    return np.asarray(array.float().cpu() if hasattr(array, "cpu") else array, dtype=np.float32)
