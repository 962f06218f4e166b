"""The stages after the model load no PyTorch: the CPU path runs without it (issue 16)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "torchvision", "ultralytics")


@pytest.mark.parametrize("module", ["prompts", "render", "api", "sinks", "evaluate", "web.imaging"])
def test_importing_a_stage_loads_no_pytorch(module):
    code = (f"import sys, fastsam_video.{module}; "
            f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"fastsam_video.{module} imported {done.stdout.strip()}"


def test_selection_and_rendering_run_without_pytorch():
    """Points, boxes, the overlay and the exports on a numpy segmentation, in a process with no torch."""
    code = """
import sys
import numpy as np
from fastsam_video.prompts import masks_to_boxes, select_by_boxes, select_by_points
from fastsam_video.render import Annotator
from fastsam_video.sinks.coco import frame_record
from fastsam_video.types import Segmentation
masks = np.zeros((2, 60, 80), bool)
masks[0, 5:45, 5:45] = True
masks[1, 15:25, 15:25] = True
seg = Segmentation.of(masks, masks_to_boxes(masks), [0.9, 0.8])
assert len(select_by_points(seg, [(20, 20)], [1])) == 1 and len(select_by_boxes(seg, [(4, 4, 46, 46)])) == 1
Annotator(better_quality=True).annotate(np.zeros((60, 80, 3), np.uint8), seg)
assert len(frame_record(0, seg, 1)["annotations"]) == 2
print(' '.join(m for m in ("torch", "torchvision", "ultralytics") if m in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
