"""Overlay colours, layering, contours, markers; the FastSAM-style plot."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from fastsam_video.api import FastSAMPrompt
from fastsam_video.prompts import masks_to_boxes
from fastsam_video.render import Annotator, LostObject, Markers, color_of, refine_masks
from fastsam_video.types import Segmentation


def scene_and_seg(ids=(7, 3)):
    scene = np.full((60, 80, 3), 100, np.uint8)
    masks = torch.zeros((2, 60, 80), dtype=torch.bool)
    masks[0, 5:45, 5:45] = True  # large
    masks[1, 15:25, 15:25] = True  # nested, smaller: drawn on top
    seg = Segmentation(masks, masks_to_boxes(masks), torch.ones(2), torch.tensor(ids))
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
    flipped = Segmentation(seg.masks.flip(0), seg.boxes.flip(0), seg.scores, seg.object_ids.flip(0))
    annotator = Annotator(contours=False, labels=False)
    assert np.array_equal(annotator.annotate(scene, seg), annotator.annotate(scene, flipped))


def test_contours_outline_each_mask_in_its_colour():
    scene, seg = scene_and_seg()
    out = Annotator(contours=True, labels=False, contour_thickness=1).annotate(scene, seg)
    assert tuple(out[25, 5]) == color_of(7)  # left edge of the big mask
    assert tuple(out[20, 15]) == color_of(3)  # left edge of the small one


def test_cpu_and_torch_paths_agree():
    scene, seg = scene_and_seg()
    annotator = Annotator(contours=True)
    order, top = seg.layers()
    lut = torch.cat([torch.zeros(1, 3, dtype=torch.uint8),
                     torch.tensor([color_of(int(i)) for i in seg.object_ids[order]], dtype=torch.uint8)])
    via_torch = annotator._overlay_torch(torch.from_numpy(scene), top, lut).numpy()
    via_cv2 = annotator._overlay_cv2(scene, top.numpy(), lut.numpy())
    assert np.abs(via_torch.astype(int) - via_cv2.astype(int)).max() <= 1


def test_markers_ids_and_lost_boxes_are_drawn():
    scene, seg = scene_and_seg()
    plain = Annotator(labels=False).annotate(scene, seg)
    marked = Annotator(labels=True).annotate(scene, seg, Markers(points=[(70, 50, 1)], boxes=[(60, 40, 78, 58)]),
                                             lost=[LostObject(9, (50.0, 2.0, 75.0, 30.0))])
    assert (marked != plain).any(axis=2)[48:53, 68:73].any()  # the point marker
    assert (marked != plain).any(axis=2)[2:30, 50].any()  # the dashed box of the lost object


def test_better_quality_fills_holes_and_removes_specks():
    masks = torch.zeros((1, 40, 40), dtype=torch.bool)
    masks[0, 5:35, 5:35] = True
    masks[0, 19:21, 19:21] = False  # a hole
    masks[0, 1, 38] = True  # a speck
    refined = refine_masks(masks)
    assert refined[0, 20, 20] and not refined[0, 1, 38]


def test_fastsam_plot_writes_the_overlay(tmp_path):
    scene, seg = scene_and_seg()
    prompt = FastSAMPrompt(scene, seg, device="cpu")
    out = prompt.plot(annotations=prompt.everything_prompt(), output_path=tmp_path / "sub" / "out.jpg")
    written = cv2.imread(str(tmp_path / "sub" / "out.jpg"))
    assert written.shape == scene.shape and (out != scene).any()


def test_topmost_layer_is_the_highest_rank_covering_each_pixel():
    from fastsam_video.types import topmost

    generator = torch.Generator().manual_seed(0)
    masks = torch.rand((12, 60, 80), generator=generator) > 0.6
    rank = torch.randperm(12, generator=generator) + 1
    expected = (masks.to(torch.int64) * rank[:, None, None]).amax(0)
    assert torch.equal(topmost(masks, rank).long(), expected)
    assert topmost(masks[:, :, ::3], rank).shape == (60, 27)  # strided views work too
