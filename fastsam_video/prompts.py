"""Selection of masks by points, boxes and text, on the device, with no Python loop over masks.

Semantics follow FastSAM's FastSAMPrompt:
- points: masks are visited largest first; a mask containing a foreground point is OR-ed into
  the result, a mask containing a background point is cleared from it (smaller masks win).
- boxes: per box, the mask maximising inside / (box area + mask area - inside).
- text: crops of each mask (white outside the mask) scored by CLIP against the text.
Empty answers (no mask under a point, nothing in a box) are empty segmentations, never errors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.ops import roi_align

from .assets import folder_for
from .types import PromptError, Segmentation, WeightsError, mask_areas, topmost

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- prompt values

@dataclass(frozen=True, slots=True)
class PointPrompt:
    """Points (x, y) in frame pixels with labels 1 = foreground, 0 = background."""

    points: tuple[tuple[float, float], ...]
    labels: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.points) != len(self.labels):
            raise PromptError(f"{len(self.points)} points but {len(self.labels)} labels: give one label (1 or 0) per point")
        if any(label not in (0, 1) for label in self.labels):
            raise PromptError(f"point labels must be 1 (foreground) or 0 (background), got {list(self.labels)}")
        if self.points and 1 not in self.labels:
            raise PromptError("a point prompt needs at least one foreground point (label 1)")


@dataclass(frozen=True, slots=True)
class BoxPrompt:
    """A box x1, y1, x2, y2 in frame pixels."""

    box: tuple[float, float, float, float]

    def __post_init__(self) -> None:
        x1, y1, x2, y2 = self.box
        if not (x2 > x1 and y2 > y1):
            raise PromptError(f"box {list(self.box)} is empty: expected x1 < x2 and y1 < y2 (X1,Y1,X2,Y2)")


@dataclass(frozen=True, slots=True)
class TextPrompt:
    text: str

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise PromptError("text prompt is empty: give a few words, e.g. --text 'a red car'")


Prompt = PointPrompt | BoxPrompt | TextPrompt


# ---------------------------------------------------------------- geometry helpers

def masks_to_boxes(masks: np.ndarray) -> np.ndarray:
    """(N, H, W) bool -> (N, 4) float32 xyxy (exclusive right/bottom); zeros for empty masks."""
    masks = np.asarray(masks, bool)
    out = np.zeros((masks.shape[0], 4), np.float32)
    if masks.shape[0] == 0:
        return out
    rows, cols = masks.any(2), masks.any(1)  # (N, H), (N, W)
    found = rows.any(1)
    h, w = masks.shape[1:]
    out[:, 0] = np.argmax(cols, 1)
    out[:, 1] = np.argmax(rows, 1)
    out[:, 2] = w - np.argmax(cols[:, ::-1], 1)
    out[:, 3] = h - np.argmax(rows[:, ::-1], 1)
    out[~found] = 0
    return out


def masks_at_points(masks: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(P, N) bool: which masks contain each (x, y) point (clipped to the frame)."""
    h, w = masks.shape[1:]
    points = np.asarray(points, float).reshape(-1, 2)
    x = np.clip(np.round(points[:, 0]).astype(int), 0, w - 1)
    y = np.clip(np.round(points[:, 1]).astype(int), 0, h - 1)
    return masks[:, y, x].T


def box_mask_inside(masks: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(B, N): mask pixels inside each box; the work is the boxes' area, not the frame's."""
    h, w = masks.shape[1:]
    rows = []
    for x1, y1, x2, y2 in np.round(np.asarray(boxes, float).reshape(-1, 4)).astype(int).tolist():
        x1, x2 = min(max(x1, 0), w), min(max(x2, 0), w)
        y1, y2 = min(max(y1, 0), h), min(max(y2, 0), h)
        rows.append(mask_areas(masks[:, y1:y2, x1:x2]))
    return np.stack(rows) if rows else np.zeros((0, masks.shape[0]), np.float32)


def box_mask_iou(masks: np.ndarray, boxes: np.ndarray, areas: np.ndarray | None = None) -> np.ndarray:
    """(B, N) FastSAM's box-to-mask IoU: inside / (box area + mask area - inside).
    `areas`: the masks' pixel counts when the caller has them already."""
    inside = box_mask_inside(masks, boxes)
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    box_area = (np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None))[:, None]
    mask_area = (mask_areas(masks) if areas is None else np.asarray(areas, np.float32))[None]
    return inside / np.maximum(box_area + mask_area - inside, 1)


# ---------------------------------------------------------------- selections

def _single(seg: Segmentation, mask: np.ndarray, score: float) -> Segmentation:
    if not mask.any():
        return Segmentation.empty(*seg.shape)
    masks = mask[None]
    return Segmentation(masks, masks_to_boxes(masks), np.array([score], np.float32), np.ones(1, np.int64),
                        seg.timings)


def select_by_points(seg: Segmentation, points: Sequence[Sequence[float]], labels: Sequence[int]) -> Segmentation:
    """FastSAM's point prompt: one merged mask (empty when no mask contains a foreground point)."""
    if len(seg) == 0 or len(points) == 0:
        return Segmentation.empty(*seg.shape)
    pts = np.asarray(points, float).reshape(-1, 2)
    lab = np.asarray(labels, int).reshape(-1)
    hits = masks_at_points(seg.masks, pts)  # (P, N)
    # FastSAM loops points in order for each mask: the last point inside a mask decides its effect
    order = np.arange(1, len(pts) + 1)[:, None]
    last = (hits * order).max(0)  # (N,) 1-based index of the deciding point, 0 = none
    touched = last > 0
    if not touched.any():
        return Segmentation.empty(*seg.shape)
    value = lab[np.maximum(last - 1, 0)]  # 1 sets, 0 clears
    idx = np.flatnonzero(touched)  # only the masks under a point take part
    idx = idx[np.argsort(-mask_areas(seg.masks[idx]), kind="stable")]  # large first
    top = topmost(seg.masks[idx], np.arange(1, len(idx) + 1))  # the last (smallest) wins
    set_by = np.r_[False, value[idx] == 1]
    merged = set_by[top]
    sets = value[idx] == 1
    score = float(seg.scores[idx][sets].max()) if sets.any() else 0.0
    return _single(seg, merged, score)


def select_per_point(seg: Segmentation, points: Sequence[Sequence[float]],
                     labels: Sequence[int] | None = None) -> Segmentation:
    """One mask per foreground point: the best-scoring mask containing it and no background point.
    Points with no such mask are left out (object_ids = 1-based index of the point)."""
    if len(seg) == 0 or len(points) == 0:
        return Segmentation.empty(*seg.shape)
    pts = np.asarray(points, float).reshape(-1, 2)
    lab = np.asarray([1] * len(pts) if labels is None else labels, int)
    hits = masks_at_points(seg.masks, pts)  # (P, N)
    excluded = hits[lab == 0].any(0)  # masks containing a background point
    candidates = hits[lab == 1] & ~excluded
    scored = np.where(candidates, seg.scores[None], -1.0)
    best = scored.argmax(1)
    keep = scored.max(1) >= 0
    point_ids = np.flatnonzero(lab == 1) + 1
    return seg.select(best[keep], point_ids[keep])


def select_by_boxes(seg: Segmentation, boxes: Sequence[Sequence[float]]) -> Segmentation:
    """FastSAM's box prompt: the best mask per box (xyxy); boxes over nothing are left out.
    object_ids = 1-based index of the box."""
    if len(seg) == 0 or len(boxes) == 0:
        return Segmentation.empty(*seg.shape)
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    iou = box_mask_iou(seg.masks, b)  # (B, N)
    best = iou.argmax(1)
    keep = iou.max(1) > 0
    box_ids = np.arange(1, len(b) + 1)
    return seg.select(best[keep], box_ids[keep])


# ---------------------------------------------------------------- text (CLIP)

class ImageTextEncoder(Protocol):
    """What text selection needs from CLIP: L2-normalised embeddings."""

    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def encode_images(self, images: torch.Tensor) -> torch.Tensor: ...  # (N, 3, S, S) -> (N, D)

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor: ...  # -> (T, D)


CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CLIP_FILES = {"ViT-B/32": "ViT-B-32.pt"}


class ClipEncoder:
    """OpenAI CLIP (`import clip`), loaded once; text embeddings cached per string."""

    input_size = 224
    mean, std = CLIP_MEAN, CLIP_STD

    def __init__(self, model: str | Path = "ViT-B/32", device: torch.device | str = "cpu",
                 weights_dir: Path | None = None, module: torch.nn.Module | None = None):
        import clip

        self.device = torch.device(device)
        self._tokenize = clip.tokenize
        self._text_cache: dict[str, torch.Tensor] = {}
        if module is not None:  # an already built CLIP (tests build a small one)
            self.model = module.to(self.device).eval()
            self.input_size = module.visual.input_resolution
            return
        name = CLIP_FILES.get(str(model), f"{model}.pt")
        weights_dir = weights_dir or folder_for(name)  # a checkout's weights/, else the user's cache
        local = Path(model) if Path(model).suffix == ".pt" else weights_dir / name
        if local.is_file():
            self.model = _load_clip_file(local, self.device)
        elif Path(model).suffix == ".pt":
            raise WeightsError(f"CLIP file not found: {model} (give a CLIP .pt file or a model name like ViT-B/32)")
        else:
            try:  # the real download path (openaipublic), into weights/
                self.model, _ = clip.load(str(model), device=self.device, jit=False, download_root=str(weights_dir))
            except Exception as err:
                url = getattr(clip.clip, "_MODELS", {}).get(str(model), "the CLIP release page")
                raise WeightsError(f"CLIP weights {local.name} are not in {weights_dir}/ and could not be downloaded "
                                   f"({type(err).__name__}): download {url} into {weights_dir}/") from None
        self.model = self.model.float().eval()
        self.input_size = self.model.visual.input_resolution

    @torch.inference_mode()
    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.model.encode_image(images.to(self.device)).float(), dim=-1)

    @torch.inference_mode()
    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        missing = [t for t in texts if t not in self._text_cache]
        if missing:
            tokens = self._tokenize(missing).to(self.device)
            for text, emb in zip(missing, F.normalize(self.model.encode_text(tokens).float(), dim=-1)):
                self._text_cache[text] = emb
        return torch.stack([self._text_cache[t] for t in texts])


def _load_clip_file(path: Path, device: torch.device) -> torch.nn.Module:
    """A CLIP from a local file: OpenAI's TorchScript release or a plain state dict."""
    from clip.model import build_model

    try:
        try:
            state_dict = torch.jit.load(str(path), map_location="cpu").state_dict()
        except RuntimeError:  # not TorchScript: a state dict
            state_dict = torch.load(str(path), map_location="cpu", weights_only=True)
        return build_model(state_dict).to(device)
    except Exception as err:
        raise WeightsError(f"{path} is not a CLIP checkpoint ({type(err).__name__}): "
                           "use OpenAI's ViT-B-32.pt or pass another --clip-model") from None


def mask_crops(image: torch.Tensor, masks: torch.Tensor, boxes: torch.Tensor, size: int,
               mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """(N, 3, size, size) normalised RGB crops: each mask's box made square (aspect kept),
    the image inside the mask, white outside it (FastSAM's segment_image + CLIP preprocess)."""
    n = masks.shape[0]
    rgb = image.permute(2, 0, 1).flip(0)[None].float() / 255  # (1, 3, H, W)
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    half = torch.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]).clamp(min=2) / 2
    square = torch.stack([cx - half, cy - half, cx + half, cy + half], 1).float()
    rois = torch.cat([torch.zeros(n, 1, device=square.device), square], 1)
    crops = roi_align(rgb, rois, (size, size), aligned=True)  # (N, 3, S, S), batch index 0
    own = torch.cat([torch.arange(n, device=square.device, dtype=torch.float32)[:, None], square], 1)
    alpha = roi_align(masks[:, None].float(), own, (size, size), aligned=True)  # each mask's own channel
    crops = crops * alpha + (1 - alpha)  # white outside the mask
    mean_t = torch.tensor(mean, device=crops.device)[None, :, None, None]
    std_t = torch.tensor(std, device=crops.device)[None, :, None, None]
    return (crops - mean_t) / std_t


MIN_TEXT_MASK_PIXELS = 100  # FastSAM drops masks this small before scoring


def text_scores(seg: Segmentation, image: torch.Tensor, text: str, encoder: ImageTextEncoder) -> torch.Tensor:
    """(N,) softmax(100 * cosine) over the masks; 0 for masks of <= 100 pixels."""
    scores = torch.zeros(len(seg), device=seg.device)
    keep = mask_areas(seg.masks).to(seg.device) > MIN_TEXT_MASK_PIXELS
    if not keep.any():
        return scores
    crops = mask_crops(image.to(seg.device), seg.masks[keep], seg.boxes[keep], encoder.input_size,
                       encoder.mean, encoder.std)
    image_emb = encoder.encode_images(crops)  # one batched call for all candidates
    text_emb = encoder.encode_texts([text])[0].to(image_emb.device)
    probs = torch.softmax(100.0 * image_emb @ text_emb, 0)
    scores[keep] = probs.to(scores.device)
    return scores


def select_by_text(seg: Segmentation, image: torch.Tensor, text: str, encoder: ImageTextEncoder) -> Segmentation:
    """FastSAM's text prompt: the mask whose crop CLIP matches best; empty when there is none."""
    if len(seg) == 0:
        return seg
    scores = text_scores(seg, image, text, encoder)
    if not (scores > 0).any():
        return Segmentation.empty(*seg.shape, device=seg.device)
    best = scores.argmax().reshape(1)
    return seg.select(best, torch.ones(1, dtype=torch.int64, device=seg.device))
