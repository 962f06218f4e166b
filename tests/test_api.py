"""The FastSAM-compatible API checks its arguments like the command line does."""

from __future__ import annotations

import pytest

from fastsam_video import FastSAM
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
