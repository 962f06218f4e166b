"""What crosses the object store: the resized frame in, raw network outputs back; decoded on the
camera's side, the same segmentation as the local engine's (no cluster needed)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

pytest.importorskip("ray", reason="the cluster extra is not installed (uv sync --extra cluster)")

from fastsam_video.cluster.camera import decode_output, model_input  # noqa: E402
from fastsam_video.cluster.model import split  # noqa: E402
from fastsam_video.cluster.options import DecodeSettings  # noqa: E402

from ..conftest import SAMPLES  # noqa: E402


@pytest.mark.parametrize("size", [(1080, 1920), (200, 150)])
def test_batched_cluster_path_gives_the_local_segmentation(segmenter, size):
    scenes = sorted((SAMPLES / "images").glob("scene*.jpg"))[:2]
    # two cameras of different shapes in one batch: the replica pads them to one input
    frames = [cv2.resize(cv2.imread(str(scenes[0])), size[::-1]), cv2.imread(str(scenes[1]))]
    inputs = [model_input(f, segmenter.imgsz, segmenter.stride) for f in frames]
    for frame, (_, small) in zip(frames, inputs):  # shrunk to the network's size, never enlarged
        assert max(small.shape[:2]) == min(segmenter.imgsz, max(frame.shape[:2])) and small.dtype == np.uint8
    outputs = split(segmenter.infer([small for _, small in inputs]))
    # a camera decodes with the replica's settings, without loading the weights
    settings = DecodeSettings(segmenter.imgsz, segmenter.stride, segmenter.settings)
    # the local pipeline batches its cameras' frames the same way
    for frame, (box, _), out, local in zip(frames, inputs, outputs, segmenter.segment_batch(frames)):
        remote = decode_output(settings, frame.shape[:2], box, out)
        assert len(local) > 0 and len(remote) == len(local)
        assert np.allclose(remote.boxes, local.boxes, atol=1e-3)
        assert np.array_equal(remote.masks, local.masks)
