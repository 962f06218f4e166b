"""Selection by points, boxes and text: FastSAM's semantics, vectorized, on real model output."""

from __future__ import annotations

import json
import itertools

import numpy as np
import pytest

from fastsam_video.prompts import (BoxPrompt, ClipEncoder, PointPrompt, TextPrompt, box_mask_iou, mask_crops,
                                   masks_to_boxes, select_by_boxes, select_by_points, select_by_text, select_per_point,
                                   text_scores)
from fastsam_video.sinks import read_davis_png
from fastsam_video.sources import open_source
from fastsam_video.types import PromptError, Segmentation, WeightsError

from .conftest import clip_dirs


def make_seg(*rects, shape=(60, 80)) -> Segmentation:
    """Masks from (x1, y1, x2, y2) rectangles; scores decrease with the index."""
    masks = np.zeros((len(rects), *shape), dtype=bool)
    for i, (x1, y1, x2, y2) in enumerate(rects):
        masks[i, y1:y2, x1:x2] = True
    return Segmentation.of(masks, masks_to_boxes(masks), np.linspace(0.9, 0.5, len(rects)))


WHOLE, PART, OTHER = (10, 10, 50, 50), (20, 20, 30, 30), (60, 5, 75, 20)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


# ---------------------------------------------------------------- points

def test_foreground_point_merges_every_mask_that_contains_it():
    seg = make_seg(WHOLE, PART, OTHER)
    out = select_by_points(seg, [(25, 25)], [1])
    assert len(out) == 1
    assert np.array_equal(out.masks[0], seg.masks[0])  # the part lies inside the whole


def test_background_point_clears_the_mask_that_contains_it_from_the_result():
    seg = make_seg((10, 10, 50, 50), (40, 10, 70, 45))  # overlapping, not nested
    out = select_by_points(seg, [(15, 15), (60, 30)], [1, 0])
    assert np.array_equal(out.masks[0], seg.masks[0] & ~seg.masks[1])


def test_background_point_inside_the_only_mask_leaves_nothing():
    seg = make_seg(WHOLE, OTHER)
    assert len(select_by_points(seg, [(15, 15), (30, 30)], [1, 0])) == 0


def test_points_match_fastsam_reference_loop():
    """The vectorized result equals FastSAM's own loop on random masks and prompts."""
    rng = np.random.default_rng(3)
    for _ in range(30):
        rects = []
        for _ in range(rng.integers(1, 6)):
            x, y = rng.integers(0, 60), rng.integers(0, 45)
            rects.append((x, y, x + rng.integers(3, 30), y + rng.integers(3, 20)))
        seg = make_seg(*rects)
        points = rng.integers(0, [80, 60], (rng.integers(1, 4), 2)).tolist()
        labels = rng.integers(0, 2, len(points)).tolist()
        # FastSAM's point_prompt, verbatim in spirit: masks by area, largest first
        masks = sorted(seg.masks, key=lambda m: m.sum(), reverse=True)
        onemask = np.zeros((60, 80))
        for mask in masks:
            for (x, y), label in zip(points, labels):
                if mask[y, x] and label == 1:
                    onemask[mask] = 1
                if mask[y, x] and label == 0:
                    onemask[mask] = 0
        out = select_by_points(seg, points, labels)
        got = out.masks[0] if len(out) else np.zeros((60, 80), bool)
        assert np.array_equal(got, onemask >= 1)


def test_point_on_empty_background_is_an_empty_answer():
    seg = make_seg(WHOLE)
    out = select_by_points(seg, [(70, 55)], [1])
    assert len(out) == 0 and out.shape == seg.shape


def test_per_point_mode_gives_one_mask_per_foreground_point():
    seg = make_seg(WHOLE, PART, OTHER)
    out = select_per_point(seg, [(15, 15), (65, 10), (2, 2)], [1, 1, 1])
    assert out.object_ids.tolist() == [1, 2]  # the third point lies on nothing
    assert np.array_equal(out.masks[1], seg.masks[2])


def test_no_detections_is_an_empty_answer():
    seg = Segmentation.empty(60, 80)
    assert len(select_by_points(seg, [(1, 1)], [1])) == 0
    assert len(select_by_boxes(seg, [(0, 0, 10, 10)])) == 0


# ---------------------------------------------------------------- boxes

def test_box_picks_the_mask_fitting_it_best():
    seg = make_seg(WHOLE, PART, OTHER)
    out = select_by_boxes(seg, [(19, 19, 31, 31), (9, 9, 51, 51)])
    assert np.array_equal(out.masks[0], seg.masks[1]) and np.array_equal(out.masks[1], seg.masks[0])
    assert out.object_ids.tolist() == [1, 2]


def test_box_over_nothing_is_left_out():
    seg = make_seg(WHOLE)
    assert len(select_by_boxes(seg, [(60, 50, 79, 59)])) == 0


def test_box_mask_iou_matches_brute_force():
    seg = make_seg(WHOLE, PART, OTHER)
    boxes = np.array([[0.0, 0, 40, 40], [15, 15, 70, 58], [60, 0, 80, 25]], np.float32)
    got = box_mask_iou(seg.masks, boxes)
    for b, n in itertools.product(range(3), range(3)):
        x1, y1, x2, y2 = boxes[b].astype(int).tolist()
        inside = seg.masks[n, y1:y2, x1:x2].sum()
        expected = inside / ((x2 - x1) * (y2 - y1) + seg.masks[n].sum() - inside)
        assert got[b, n] == pytest.approx(expected, abs=1e-6)


def test_masks_to_boxes_is_exclusive_and_zero_for_empty():
    masks = np.zeros((2, 10, 10), dtype=bool)
    masks[0, 2:5, 3:7] = True
    assert masks_to_boxes(masks).tolist() == [[3, 2, 7, 5], [0, 0, 0, 0]]


def test_malformed_prompts_say_what_was_expected():
    with pytest.raises(PromptError, match="2 points but 1 labels"):
        PointPrompt(((1, 2), (3, 4)), (1,))
    with pytest.raises(PromptError, match="must be 1 .* or 0"):
        PointPrompt(((1, 2),), (2,))
    with pytest.raises(PromptError, match="x1 < x2"):
        BoxPrompt((10, 10, 5, 20))
    with pytest.raises(PromptError, match="empty"):
        TextPrompt("  ")


# ---------------------------------------------------------------- text

class ColourEncoder:
    """A fake CLIP whose answer is known: images embed as their mean colour, texts as colours."""

    input_size = 16
    mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    COLOURS = {"red": [1.0, 0, 0], "green": [0, 1.0, 0], "blue": [0, 0, 1.0]}

    def __init__(self):
        self.image_calls = 0

    def encode_images(self, images):
        self.image_calls += 1
        return normalize(images.mean((2, 3)) - 0.5)

    def encode_texts(self, texts):
        return normalize(np.array([self.COLOURS[t] for t in texts]))


def normalize(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


def coloured_scene():
    image = np.full((60, 80, 3), 128, np.uint8)
    image[10:30, 10:30] = (0, 0, 255)  # red (BGR)
    image[10:30, 40:60] = (255, 0, 0)  # blue
    image[40:50, 60:70] = (0, 255, 0)  # green, 100 px: FastSAM drops masks this small
    seg = make_seg((10, 10, 30, 30), (40, 10, 60, 30), (60, 40, 70, 50))
    return image, seg


def test_text_picks_the_matching_mask_in_one_encoder_call():
    image, seg = coloured_scene()
    encoder = ColourEncoder()
    assert np.array_equal(select_by_text(seg, image, "blue", encoder).masks[0], seg.masks[1])
    assert encoder.image_calls == 1  # all candidates batched
    assert np.array_equal(select_by_text(seg, image, "red", encoder).masks[0], seg.masks[0])


def test_mask_crops_keep_the_image_inside_the_mask_and_white_outside_even_at_the_frame_edge():
    image = np.full((60, 80, 3), (255, 0, 0), np.uint8)  # blue (BGR)
    masks = np.zeros((2, 60, 80), bool)
    masks[0, 0:20, 0:40] = True  # a wide box at the corner: its square reaches out of the frame
    masks[1, 30:34, 30:34] = True  # a small one: enlarged
    crops = mask_crops(image, masks, masks_to_boxes(masks), 16, (0, 0, 0), (1, 1, 1))
    assert crops.shape == (2, 3, 16, 16) and crops.dtype == np.float32
    assert np.allclose(crops[0, :, 8, 8], [0, 0, 1])  # RGB: the image inside the mask
    assert np.allclose(crops[0, :, 1, 8], [1, 1, 1])  # above the frame: white
    assert np.allclose(crops[1, :, 8, 8], [0, 0, 1])


def test_text_ignores_masks_of_100_pixels_or_less():
    image, seg = coloured_scene()
    scores = text_scores(seg, image, "green", ColourEncoder())
    assert scores[2] == 0 and scores[:2].sum() == pytest.approx(1.0)


def tiny_clip():
    import torch
    from clip.model import CLIP

    torch.manual_seed(0)
    return CLIP(embed_dim=32, image_resolution=32, vision_layers=1, vision_width=64, vision_patch_size=16,
                context_length=77, vocab_size=49408, transformer_width=64, transformer_heads=1,
                transformer_layers=1)


def test_small_real_clip_runs_the_text_path_and_caches_text():
    image, seg = coloured_scene()
    encoder = ClipEncoder(module=tiny_clip())
    out = select_by_text(seg, image, "a red square", encoder)
    assert len(out) == 1
    assert list(encoder._text_cache) == ["a red square"]


def test_clip_loads_from_a_local_file(tmp_path):
    import torch

    path = tmp_path / "tiny-clip.pt"
    torch.save(tiny_clip().state_dict(), path)
    encoder = ClipEncoder(path)
    assert encoder.input_size == 32
    assert encoder.encode_texts(["a dog"]).shape == (1, 32)


def test_clip_offline_without_weights_names_the_file_and_folder(tmp_path, monkeypatch):
    import clip.clip

    def offline(url, root):
        raise OSError("network unreachable")

    monkeypatch.setattr(clip.clip, "_download", offline)
    with pytest.raises(WeightsError) as err:
        ClipEncoder("ViT-B/32", weights_dir=tmp_path)
    assert "ViT-B-32.pt" in str(err.value) and str(tmp_path) in str(err.value)
    assert "openaipublic" in str(err.value) and "\n" not in str(err.value)


# ---------------------------------------------------------------- with the bundled model

def first_frames():
    for folder in clip_dirs():
        with open_source(str(folder / "video.mp4")) as source:
            frame = source.read()
        truth = read_davis_png(folder / "Annotations" / "00000.png")
        for obj in json.loads((folder / "prompts.json").read_text())["objects"]:
            yield folder.name, frame.image, truth == obj["id"], obj


@pytest.fixture(scope="module")
def prompted(segmenter):
    return [(name, image, gt, obj, segmenter.segment(image)) for name, image, gt, obj in first_frames()]


def test_foreground_point_selects_the_object(prompted):
    for name, _, gt, obj, seg in prompted:
        out = select_by_points(seg, [obj["point"]], [1])
        assert len(out) == 1, name
        assert iou(out.masks[0], gt) >= 0.8, name


def test_background_point_inside_the_object_removes_it(prompted):
    for name, _, gt, obj, seg in prompted:
        out = select_by_points(seg, [obj["point"], obj["point"]], [1, 0])
        assert len(out) == 0 or (out.masks[0] & gt).sum() < 0.2 * gt.sum(), name


def test_box_around_the_object_selects_it(prompted):
    for name, _, gt, obj, seg in prompted:
        out = select_by_boxes(seg, [obj["box"]])
        assert iou(out.masks[0], gt) >= 0.8, name


def test_box_outside_everything_is_empty(prompted, segmenter):
    name, image, _, _, _ = prompted[0]
    blank = np.full_like(image, 90)
    assert len(select_by_boxes(segmenter.segment(blank), [(5, 5, 40, 40)])) == 0
