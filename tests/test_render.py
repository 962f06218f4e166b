"""Overlay colours, layering, contours, markers; the FastSAM-style plot."""

from __future__ import annotations

import cv2
import numpy as np

from fastsam_video.api import FastSAMPrompt
from fastsam_video.prompts import masks_to_boxes
from fastsam_video.render import Annotator, LostObject, Markers, color_of, refine_masks
from fastsam_video.types import Segmentation


def scene_and_seg(ids=(7, 3)):
    scene = np.full((60, 80, 3), 100, np.uint8)
    masks = np.zeros((2, 60, 80), dtype=bool)
    masks[0, 5:45, 5:45] = True  # large
    masks[1, 15:25, 15:25] = True  # nested, smaller: drawn on top
    seg = Segmentation.of(masks, masks_to_boxes(masks), np.ones(2), ids)
    return scene, seg


def test_colours_are_a_fixed_function_of_the_id():
    assert color_of(5) == color_of(5)
    assert len({color_of(i) for i in range(1, 50)}) == 49
    assert color_of(0) == (0, 0, 0)


def test_overlay_blends_each_object_in_its_own_colour_with_small_masks_on_top():
    scene, seg = scene_and_seg()
    out = Annotator(alpha=0.5, contours=False, labels=False).annotate(scene, seg)
    expected_big = (np.array(color_of(7)) * 0.5 + 100 * 0.5)
    expected_small = (np.array(color_of(3)) * 0.5 + 100 * 0.5)
    assert np.abs(out[35, 35].astype(int) - expected_big).max() <= 1
    assert np.abs(out[20, 20].astype(int) - expected_small).max() <= 1
    assert (out[55, 70] == 100).all()  # untouched background
    assert (scene == 100).all()  # the input is not modified


def test_same_object_keeps_its_colour_whatever_its_index():
    scene, seg = scene_and_seg()
    flipped = Segmentation(seg.masks[::-1], seg.boxes[::-1], seg.scores, seg.object_ids[::-1])
    annotator = Annotator(contours=False, labels=False)
    assert np.array_equal(annotator.annotate(scene, seg), annotator.annotate(scene, flipped))


def test_contours_outline_each_mask_in_its_colour():
    scene, seg = scene_and_seg()
    out = Annotator(contours=True, labels=False, contour_thickness=1).annotate(scene, seg)
    assert tuple(out[25, 5]) == color_of(7)  # left edge of the big mask
    assert tuple(out[20, 15]) == color_of(3)  # left edge of the small one


def test_8_and_16_bit_layer_maps_agree():
    """Up to 255 masks take OpenCV's 8-bit path, more the 16-bit one: the same picture."""
    scene, seg = scene_and_seg()
    annotator = Annotator(contours=True)
    order, top = seg.layers()
    lut = np.array([(0, 0, 0)] + [color_of(int(i)) for i in seg.object_ids[order]], np.uint8)
    via_8 = annotator._overlay_cv2(scene, top, lut)
    via_16 = annotator._overlay_cv2(scene, top.astype(np.uint16), lut)
    assert top.dtype == np.uint8 and np.array_equal(via_8, via_16)


def test_more_than_255_masks_are_all_drawn():
    scene = np.full((60, 80, 3), 100, np.uint8)
    masks = np.zeros((300, 60, 80), dtype=bool)
    for i in range(300):
        masks[i, i // 10 * 2:i // 10 * 2 + 2, i % 10 * 8:i % 10 * 8 + 8] = True
    seg = Segmentation.of(masks, masks_to_boxes(masks), np.ones(300))
    out = Annotator(contours=False, labels=False).annotate(scene, seg)
    expected_last = np.array(color_of(300)) * 0.5 + 100 * 0.5
    assert np.abs(out[59, 79].astype(int) - expected_last).max() <= 1
    assert (out != 100).any(axis=2).all()  # every mask is blended in


def test_markers_ids_and_lost_boxes_are_drawn():
    scene, seg = scene_and_seg()
    plain = Annotator(labels=False).annotate(scene, seg)
    marked = Annotator(labels=True).annotate(scene, seg, Markers(points=[(70, 50, 1)], boxes=[(60, 40, 78, 58)]),
                                             lost=[LostObject(9, (50.0, 2.0, 75.0, 30.0))])
    assert (marked != plain).any(axis=2)[48:53, 68:73].any()  # the point marker
    assert (marked != plain).any(axis=2)[2:30, 50].any()  # the dashed box of the lost object


def test_better_quality_fills_holes_and_removes_specks():
    masks = np.zeros((1, 40, 40), dtype=bool)
    masks[0, 5:35, 5:35] = True
    masks[0, 19:21, 19:21] = False  # a hole
    masks[0, 1, 38] = True  # a speck
    refined = refine_masks(masks)
    assert refined[0, 20, 20] and not refined[0, 1, 38]


def test_better_quality_on_box_windows_equals_it_on_the_whole_frame():
    rng = np.random.default_rng(1)
    masks = np.zeros((4, 90, 120), dtype=bool)
    for k, (x, y) in enumerate([(0, 0), (60, 30), (100, 70), (40, 75)]):  # at edges and inside
        masks[k, y:y + 20, x:x + 25] = rng.random((20, 25))[:90 - y, :120 - x] > 0.3
    square = np.ones((7, 7), np.uint8)
    for mask, refined in zip(masks, refine_masks(masks)):
        closed = cv2.morphologyEx(mask.view(np.uint8), cv2.MORPH_CLOSE, square)
        assert np.array_equal(refined, cv2.morphologyEx(closed, cv2.MORPH_OPEN, square).astype(bool))


def test_fastsam_plot_writes_the_overlay(tmp_path):
    scene, seg = scene_and_seg()
    prompt = FastSAMPrompt(scene, seg, device="cpu")
    out = prompt.plot(annotations=prompt.everything_prompt(), output_path=tmp_path / "sub" / "out.jpg")
    written = cv2.imread(str(tmp_path / "sub" / "out.jpg"))
    assert written.shape == scene.shape and (out != scene).any()


def test_topmost_layer_is_the_highest_rank_covering_each_pixel():
    from fastsam_video.types import topmost

    rng = np.random.default_rng(0)
    masks = rng.random((12, 60, 80)) > 0.6
    rank = rng.permutation(12) + 1
    expected = (masks.astype(np.int64) * rank[:, None, None]).max(0)
    assert np.array_equal(topmost(masks, rank).astype(np.int64), expected)
    assert topmost(masks[:, :, ::3], rank).shape == (60, 27)  # strided views work too
