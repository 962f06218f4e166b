"""Selection of masks by points, boxes and text, in numpy on the host (no PyTorch: CLIP, for text
prompts, is the one part that imports it, when it is first used).

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

import cv2
import numpy as np

from .assets import folder_for
from .types import PromptError, Segmentation, WeightsError, mask_areas

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
    masks = np.asarray(masks, dtype=bool)
    if masks.shape[0] == 0:
        return np.zeros((0, 4), np.float32)
    h, w = masks.shape[1:]
    rows, cols = masks.any(2), masks.any(1)  # (N, H), (N, W)
    boxes = np.stack([cols.argmax(1), rows.argmax(1), w - cols[:, ::-1].argmax(1), h - rows[:, ::-1].argmax(1)], 1)
    boxes[~rows.any(1)] = 0
    return boxes.astype(np.float32)


def masks_at_points(masks: np.ndarray, points) -> np.ndarray:
    """(P, N) bool: which masks contain each (x, y) point (clipped to the frame)."""
    h, w = masks.shape[1:]
    points = np.asarray(points, np.float32).reshape(-1, 2)
    x = np.clip(np.round(points[:, 0]).astype(np.int64), 0, w - 1)
    y = np.clip(np.round(points[:, 1]).astype(np.int64), 0, h - 1)
    return masks[:, y, x].T


def box_mask_inside(masks: np.ndarray, boxes) -> np.ndarray:
    """(B, N) float32: mask pixels inside each box, counted in the box's window of each mask
    (the work is the boxes' area, not the frame's)."""
    h, w = masks.shape[1:]
    windows = np.round(np.asarray(boxes, np.float32).reshape(-1, 4)).astype(np.int64)
    inside = np.zeros((len(windows), masks.shape[0]), np.float32)
    for row, (x1, y1, x2, y2) in zip(inside, windows.tolist()):  # a loop over prompts, not over masks
        x1, x2 = min(max(x1, 0), w), min(max(x2, 0), w)
        y1, y2 = min(max(y1, 0), h), min(max(y2, 0), h)
        if x2 > x1 and y2 > y1:
            row[:] = mask_areas(masks[:, y1:y2, x1:x2])
    return inside


def box_mask_iou(masks: np.ndarray, boxes) -> np.ndarray:
    """(B, N) float32 FastSAM's box-to-mask IoU: inside / (box area + mask area - inside)."""
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    inside = box_mask_inside(masks, b)
    box_area = (np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None))[:, None]
    mask_area = mask_areas(masks)[None]
    return inside / np.maximum(box_area + mask_area - inside, 1)


# ---------------------------------------------------------------- selections

def select_by_points(seg: Segmentation, points: Sequence[Sequence[float]], labels: Sequence[int]) -> Segmentation:
    """FastSAM's point prompt: one merged mask (empty when no mask contains a foreground point)."""
    if len(seg) == 0 or len(points) == 0:
        return Segmentation.empty(*seg.shape)
    hits = masks_at_points(seg.masks, points)  # (P, N)
    lab = np.asarray(labels, np.int64).reshape(-1)
    # FastSAM loops points in order for each mask: the last point inside a mask decides its effect
    last = (hits * np.arange(1, len(hits) + 1)[:, None]).max(0)  # (N,) 1-based deciding point, 0 = none
    touched = np.flatnonzero(last)  # only the masks under a point take part
    if len(touched) == 0:
        return Segmentation.empty(*seg.shape)
    sets = lab[last[touched] - 1] == 1  # True sets, False clears
    order = np.argsort(-mask_areas([seg.masks[i] for i in touched]), kind="stable")  # large first: small wins
    merged = np.zeros(seg.shape, dtype=bool)
    for k in order:  # the few masks under the points, painted in place (no stack of them)
        np.copyto(merged, sets[k], where=seg.masks[touched[k]])
    if not merged.any():
        return Segmentation.empty(*seg.shape)
    score = seg.scores[touched[sets]].max() if sets.any() else 0.0
    return Segmentation.of(merged[None], masks_to_boxes(merged[None]), [score], timings=seg.timings)


def select_per_point(seg: Segmentation, points: Sequence[Sequence[float]],
                     labels: Sequence[int] | None = None) -> Segmentation:
    """One mask per foreground point: the best-scoring mask containing it and no background point.
    Points with no such mask are left out (object_ids = 1-based index of the point)."""
    if len(seg) == 0 or len(points) == 0:
        return Segmentation.empty(*seg.shape)
    hits = masks_at_points(seg.masks, points)  # (P, N)
    lab = np.asarray([1] * len(hits) if labels is None else labels, np.int64).reshape(-1)
    excluded = hits[lab == 0].any(0)  # masks containing a background point
    candidates = hits[lab == 1] & ~excluded
    scored = np.where(candidates, seg.scores[None], np.float32(-1))
    best = scored.argmax(1)
    keep = scored[np.arange(len(best)), best] >= 0
    point_ids = np.flatnonzero(lab == 1) + 1
    return seg.select(best[keep], point_ids[keep])


def select_by_boxes(seg: Segmentation, boxes: Sequence[Sequence[float]]) -> Segmentation:
    """FastSAM's box prompt: the best mask per box (xyxy); boxes over nothing are left out.
    object_ids = 1-based index of the box."""
    if len(seg) == 0 or len(boxes) == 0:
        return Segmentation.empty(*seg.shape)
    iou = box_mask_iou(seg.masks, boxes)  # (B, N)
    best = iou.argmax(1)
    keep = iou[np.arange(len(best)), best] > 0
    return seg.select(best[keep], np.flatnonzero(keep) + 1)


# ---------------------------------------------------------------- text (CLIP)

class ImageTextEncoder(Protocol):
    """What text selection needs from CLIP: L2-normalised embeddings, as numpy arrays."""

    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def encode_images(self, images: np.ndarray) -> np.ndarray: ...  # (N, 3, S, S) float32 -> (N, D)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray: ...  # -> (T, D)


CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CLIP_FILES = {"ViT-B/32": "ViT-B-32.pt"}


class ClipEncoder:
    """OpenAI CLIP (`import clip`), loaded once; text embeddings cached per string. The one part
    of selection that runs on PyTorch: it imports torch when it is made. `device`: where CLIP
    runs (a name or a torch.device); None: the GPU when there is one."""

    input_size = 224
    mean, std = CLIP_MEAN, CLIP_STD

    def __init__(self, model: str | Path = "ViT-B/32", device=None, weights_dir: Path | None = None,
                 module=None):
        import clip
        import torch

        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self._tokenize = clip.tokenize
        self._text_cache: dict[str, np.ndarray] = {}
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

    def encode_images(self, images: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            embeddings = self.model.encode_image(torch.from_numpy(np.ascontiguousarray(images)).to(self.device))
            return torch.nn.functional.normalize(embeddings.float(), dim=-1).cpu().numpy()

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        missing = [t for t in texts if t not in self._text_cache]
        if missing:
            with torch.inference_mode():
                embeddings = self.model.encode_text(self._tokenize(missing).to(self.device)).float()
                embeddings = torch.nn.functional.normalize(embeddings, dim=-1).cpu().numpy()
            self._text_cache.update(zip(missing, embeddings))
        return np.stack([self._text_cache[t] for t in texts])


def _load_clip_file(path: Path, device):
    """A CLIP from a local file: OpenAI's TorchScript release or a plain state dict."""
    import torch
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


def mask_crops(image: np.ndarray, masks: Sequence[np.ndarray], boxes: np.ndarray, size: int,
               mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """(N, 3, size, size) float32 normalised RGB crops of a BGR uint8 image: each mask's box made
    square (aspect kept), the image inside the mask, white outside it, resized to `size`
    (FastSAM's segment_image + CLIP preprocess). Each crop reads only its box's window."""
    h, w = image.shape[:2]
    crops = np.empty((len(masks), size, size, 3), np.uint8)
    for crop, mask, (x1, y1, x2, y2) in zip(crops, masks, np.asarray(boxes, np.float32).tolist()):
        side = max(round(max(x2 - x1, y2 - y1)), 2)
        left, top = round((x1 + x2 - side) / 2), round((y1 + y2 - side) / 2)
        cx1, cy1, cx2, cy2 = max(left, 0), max(top, 0), min(left + side, w), min(top + side, h)
        square = np.full((side, side, 3), 255, np.uint8)  # white outside the mask and the frame
        if cx2 > cx1 and cy2 > cy1:
            window = square[cy1 - top:cy2 - top, cx1 - left:cx2 - left]
            np.copyto(window, image[cy1:cy2, cx1:cx2], where=mask[cy1:cy2, cx1:cx2, None])
        shrink = side > size  # area averaging when shrinking (no aliasing), bilinear when enlarging
        cv2.resize(square, (size, size), dst=crop, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    rgb = crops[..., ::-1].transpose(0, 3, 1, 2).astype(np.float32) / 255
    return (rgb - np.asarray(mean, np.float32)[:, None, None]) / np.asarray(std, np.float32)[:, None, None]


MIN_TEXT_MASK_PIXELS = 100  # FastSAM drops masks this small before scoring


def text_scores(seg: Segmentation, image: np.ndarray, text: str, encoder: ImageTextEncoder) -> np.ndarray:
    """(N,) float32 softmax(100 * cosine) over the masks; 0 for masks of <= 100 pixels.
    `image`: the frame, (H, W, 3) uint8 BGR."""
    scores = np.zeros(len(seg), np.float32)
    keep = mask_areas(seg.masks) > MIN_TEXT_MASK_PIXELS
    if not keep.any():
        return scores
    candidates = np.flatnonzero(keep)
    crops = mask_crops(np.asarray(image), [seg.masks[i] for i in candidates], seg.boxes[candidates],
                       encoder.input_size, encoder.mean, encoder.std)
    image_emb = np.asarray(encoder.encode_images(crops), np.float32)  # one batched call for all candidates
    text_emb = np.asarray(encoder.encode_texts([text]), np.float32)[0]
    logits = 100.0 * image_emb @ text_emb
    probs = np.exp(logits - logits.max())
    scores[keep] = probs / probs.sum()
    return scores


def select_by_text(seg: Segmentation, image: np.ndarray, text: str, encoder: ImageTextEncoder) -> Segmentation:
    """FastSAM's text prompt: the mask whose crop CLIP matches best; empty when there is none."""
    if len(seg) == 0:
        return seg
    scores = text_scores(seg, image, text, encoder)
    if not (scores > 0).any():
        return Segmentation.empty(*seg.shape)
    return seg.select([scores.argmax()], [1])
