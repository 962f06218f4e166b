"""The FastSAM-compatible API checks its arguments like the command line does."""

from __future__ import annotations

import numpy as np
import pytest

from fastsam_video import FastSAM, FastSAMPrompt
from fastsam_video.types import FastSAMVideoError

from .conftest import SAMPLES


@pytest.mark.parametrize("kwargs, message", [
    ({"conf": 2}, "conf: expected a number from 0 to 1, got 2"),
    ({"iou": -0.5}, "iou: expected a number from 0 to 1, got -0.5"),
    ({"imgsz": 0}, "imgsz: expected an integer of at least 32 (pixels, e.g. 640), got 0"),
    ({"max_det": 0}, "max_det: expected a positive integer, got 0"),
])
def test_bad_arguments_are_one_clear_error_before_the_model_loads(kwargs, message):
    model = FastSAM()
    with pytest.raises(FastSAMVideoError) as err:
        model(SAMPLES / "images" / "scene0.jpg", device="cpu", **kwargs)
    assert str(err.value) == message
    assert model._segmenters == {}  # nothing was loaded


def test_fastsam_prompts_on_an_image_give_numpy_masks_like_fastsam(still_images, tmp_path):
    """FastSAM's README flow on a bundled image: the box and point prompts pick each object."""
    path, truth = still_images[0]
    results = FastSAM()(path, device="cpu")
    prompt = FastSAMPrompt(path, results, device="cpu")
    everything = prompt.everything_prompt()
    assert everything.dtype == np.bool_ and everything.shape == (len(results), *truth.shape)
    for object_id in sorted(set(np.unique(truth).tolist()) - {0}):
        gt = truth == object_id
        ys, xs = np.nonzero(gt)
        centre = int(np.argmin((xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2))
        by_box = prompt.box_prompt(bbox=[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        by_point = prompt.point_prompt(points=[[xs[centre], ys[centre]]], pointlabel=[1])
        for masks in (by_box, by_point):
            assert masks.shape == (1, *truth.shape)
            assert (masks[0] & gt).sum() / (masks[0] | gt).sum() >= 0.85, object_id
    out = prompt.plot(annotations=by_box, output_path=tmp_path / "out.jpg", bboxes=[[10, 10, 50, 50]])
    assert out.shape == (*truth.shape, 3) and (tmp_path / "out.jpg").is_file()
