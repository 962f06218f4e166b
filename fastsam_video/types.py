"""Data passed between stages (the project's errors live in `errors`, re-exported here).

Frames and segmentations are small frozen dataclasses validated on creation, with
messages that say what was expected and what came.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


from .errors import FastSAMVideoError, PromptError, RecordingError, SourceError, WeightsError  # noqa: F401

def _expect(condition: bool, what: str, expected: str, got: object) -> None:
    if not condition:
        raise ValueError(f"{what}: expected {expected}, got {got}")


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured image. `t_capture` is time.monotonic() when the frame was read;
    `pts` the stream's presentation time in seconds when it has one."""

    image: np.ndarray  # (H, W, 3) uint8 BGR
    index: int
    t_capture: float
    pts: float | None = None
    source_id: int = 0

    def __post_init__(self) -> None:
        image = self.image
        _expect(isinstance(image, np.ndarray), "Frame.image", "a numpy array", type(image).__name__)
        _expect(image.ndim == 3 and image.shape[2] == 3, "Frame.image", "shape (H, W, 3)", image.shape)
        _expect(image.dtype == np.uint8, "Frame.image", "dtype uint8", image.dtype)

    @property
    def shape(self) -> tuple[int, int]:
        return self.image.shape[0], self.image.shape[1]


def topmost(masks: torch.Tensor, rank: torch.Tensor) -> torch.Tensor:
    """(H, W): the largest `rank` among the masks covering each pixel, 0 where none.
    On the CPU, masks are painted in rank order, one masked copy each: no (N, H, W) temporary,
    2.5x faster than a batched reduction (20 masks at 1080p: 3.8 vs 9.5 ms)."""
    if masks.device.type == "cpu":
        ranks = rank.numpy()
        dtype = np.uint8 if int(ranks.max(initial=0)) < 256 else np.uint16
        top = np.zeros(masks.shape[1:], dtype)
        host = masks.numpy()
        for k in np.argsort(ranks, kind="stable"):
            np.copyto(top, np.array(ranks[k], dtype), where=host[k])
        return torch.from_numpy(top)
    dtype = torch.uint8 if int(rank.max()) < 256 else torch.int16
    return (masks.to(dtype) * rank.to(dtype)[:, None, None]).amax(0)


def mask_areas(masks: torch.Tensor) -> torch.Tensor:
    """(N,) float32 pixel counts (numpy on the CPU: torch's bool reductions are slow there)."""
    if masks.device.type == "cpu":  # works on strided views (box regions) without a copy
        counts = np.count_nonzero(masks.numpy(), axis=(1, 2))
        return torch.from_numpy(np.asarray(counts, dtype=np.float32))
    return masks.flatten(1).sum(1).float()


def union(masks: torch.Tensor) -> torch.Tensor:
    """(H, W): the pixels of any of the masks (numpy on the CPU, like mask_areas)."""
    if masks.device.type == "cpu":
        return torch.from_numpy(np.any(masks.numpy(), axis=0))
    return masks.any(0)


@dataclass(frozen=True, slots=True)
class Segmentation:
    """Masks of one frame, kept on the model's device until someone needs them on the host.

    masks: (N, H, W) bool at the frame's resolution; boxes: (N, 4) float32 xyxy in frame
    pixels; scores: (N,) float32; object_ids: (N,) int64, the tracker's stable ids
    (or 1..N for untracked "everything" results).
    """

    masks: torch.Tensor
    boxes: torch.Tensor
    scores: torch.Tensor
    object_ids: torch.Tensor
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        n = self.masks.shape[0] if self.masks.ndim == 3 else None
        _expect(self.masks.ndim == 3, "Segmentation.masks", "shape (N, H, W)", tuple(self.masks.shape))
        _expect(self.masks.dtype == torch.bool, "Segmentation.masks", "dtype bool", self.masks.dtype)
        _expect(tuple(self.boxes.shape) == (n, 4), "Segmentation.boxes", f"shape ({n}, 4)", tuple(self.boxes.shape))
        _expect(tuple(self.scores.shape) == (n,), "Segmentation.scores", f"shape ({n},)", tuple(self.scores.shape))
        _expect(tuple(self.object_ids.shape) == (n,), "Segmentation.object_ids", f"shape ({n},)",
                tuple(self.object_ids.shape))

    def __len__(self) -> int:
        return self.masks.shape[0]

    @property
    def shape(self) -> tuple[int, int]:
        return self.masks.shape[1], self.masks.shape[2]

    @property
    def device(self) -> torch.device:
        return self.masks.device

    @classmethod
    def empty(cls, height: int, width: int, device: torch.device | str = "cpu") -> Segmentation:
        return cls(torch.zeros((0, height, width), dtype=torch.bool, device=device),
                   torch.zeros((0, 4), dtype=torch.float32, device=device),
                   torch.zeros((0,), dtype=torch.float32, device=device),
                   torch.zeros((0,), dtype=torch.int64, device=device))

    def select(self, index: torch.Tensor, object_ids: torch.Tensor | None = None) -> Segmentation:
        """The masks at `index` (indices or a bool mask), optionally with new ids."""
        ids = self.object_ids[index] if object_ids is None else object_ids.to(self.device, torch.int64)
        return Segmentation(self.masks[index], self.boxes[index], self.scores[index], ids, self.timings)

    def layers(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(order, top): mask indices ordered large to small by box area, and the (H, W) map of the
        1-based position in `order` of the topmost mask at each pixel (0 = none). Smaller masks
        lie on top, so nested parts stay visible. One pass over the masks, no copies of them."""
        n = len(self)
        area = (self.boxes[:, 2] - self.boxes[:, 0]) * (self.boxes[:, 3] - self.boxes[:, 1])
        order = torch.argsort(area, descending=True, stable=True)
        rank = torch.empty(n, dtype=torch.int64, device=self.device)
        rank[order] = torch.arange(1, n + 1, device=self.device)
        if n == 0:
            return order, torch.zeros(self.shape, dtype=torch.uint8, device=self.device)
        return order, topmost(self.masks, rank)

    def label_map(self) -> torch.Tensor:
        """(H, W) int64: the object id of the topmost mask at each pixel, 0 where none."""
        order, top = self.layers()
        ids = torch.cat([torch.zeros(1, dtype=torch.int64, device=self.device), self.object_ids[order]])
        return ids[top.long()]
