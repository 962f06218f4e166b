"""Checkpoint loading, device and precision choice, mask output, quality of the bundled model."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fastsam_video.decoding import FrameToProto, letterbox_geometry, snap_to_border, upsample_in_boxes
from fastsam_video.engines.pytorch import Segmenter, crop_to_boxes, resolve_weights, upsample, upsample_on_device
from fastsam_video.types import Segmentation, WeightsError


@pytest.fixture(scope="module")
def segmenter(torch_segmenter):
    """This module tests the PyTorch engine (the reference and the GPU path) on the CPU."""
    return torch_segmenter


def best_match_ious(seg: Segmentation, truth: np.ndarray) -> list[float]:
    """Per ground-truth object: the IoU of the mask that matches it best."""
    masks = seg.masks
    out = []
    for oid in sorted(set(np.unique(truth).tolist()) - {0}):
        gt = truth == oid
        if gt.sum() < 40:  # slivers hidden behind other objects are not labelled for training either
            continue
        inter = (masks & gt).sum((1, 2))
        union = (masks | gt).sum((1, 2))
        out.append(float((inter / np.maximum(union, 1)).max()) if len(masks) else 0.0)
    return out


def test_bundled_model_loads_fp32_on_cpu(segmenter):
    assert segmenter.device.type == "cpu"
    assert segmenter.precision == "fp32"
    assert next(segmenter.model.parameters()).dtype == torch.float32
    assert segmenter.imgsz == 320


def test_segmentation_is_frame_sized_and_masks_lie_in_their_boxes(segmenter, still_images):
    path, _ = still_images[0]
    image = cv2.imread(str(path))
    seg = segmenter.segment(image)
    assert len(seg) > 0
    assert seg.shape == image.shape[:2]
    assert seg.masks.dtype == np.bool_ and seg.boxes.shape == (len(seg), 4)
    assert (seg.scores >= segmenter.conf).all()
    ys, xs = np.nonzero(seg.masks[0])
    x1, y1, x2, y2 = seg.boxes[0].tolist()
    assert xs.min() >= np.floor(x1) - 20 and xs.max() < np.ceil(x2) + 20  # border snapping moves boxes <= 20 px
    assert ys.min() >= np.floor(y1) - 20 and ys.max() < np.ceil(y2) + 20


def test_cpu_decoding_inside_boxes_equals_sampling_the_whole_frame_then_cropping():
    generator = torch.Generator().manual_seed(0)
    for n, (height, width) in ((5, (480, 854)), (12, (481, 641))):
        box = letterbox_geometry(height, width, 320)
        proto_h, proto_w = box.input_h // 4, box.input_w // 4
        to_proto = FrameToProto.of(box, height, width, proto_h, proto_w)
        logits = F.avg_pool2d(torch.randn(1, n, proto_h, proto_w, generator=generator), 5, 1, 2)[0] * 20  # blobs
        corner = torch.rand(n, 2, generator=generator) * torch.tensor([width, height]) - 20  # some start outside
        size = torch.rand(n, 2, generator=generator) * torch.tensor([width, height]) * 0.6 + 2
        boxes = torch.cat([corner, corner + size], 1)
        expected = crop_to_boxes(upsample(logits, to_proto, height, width) > 0, boxes)
        got = upsample_in_boxes(logits.numpy(), boxes.numpy(), to_proto, height, width)
        assert got.shape == expected.shape and got.dtype == np.bool_
        assert expected.sum() > 1000
        assert (got != expected.numpy()).sum() <= expected.sum() * 1e-3  # OpenCV samples at 1/32-pixel steps
        # the device path, in chunks of 2 masks, gives the same masks as all at once
        chunked = upsample_on_device(logits, boxes, to_proto, height, width, chunk_pixels=2 * height * width)
        assert torch.equal(chunked, expected)


def test_frame_pixels_map_onto_the_prototype_grid_through_the_letterbox():
    box = letterbox_geometry(480, 854, 320)  # 854x480 -> 320x180 content, padded to 320x192 (6 px on top)
    assert (box.content_w, box.content_h, box.pad_top, box.input_h) == (320, 180, 6, 192)
    to_proto = FrameToProto.of(box, 480, 854, 48, 80)
    v, u = to_proto.grid(480, 854)
    # the content spans prototype columns 0..80 and rows 1.5..46.5; pixel centres lie half a pixel inside
    column, row = 80 / 854, 45 / 480  # one frame pixel, in prototype pixels
    assert u[0].item() == pytest.approx(column / 2 - 0.5, abs=1e-5)
    assert u[-1].item() == pytest.approx(80 - column / 2 - 0.5, abs=1e-4)
    assert v[0].item() == pytest.approx(1.5 + row / 2 - 0.5, abs=1e-5)
    assert v[-1].item() == pytest.approx(46.5 - row / 2 - 0.5, abs=1e-4)


def test_masks_match_ultralytics_retina_decoding(segmenter, still_images):
    from ultralytics.utils.nms import non_max_suppression
    from ultralytics.utils.ops import process_mask_native, scale_boxes

    image = cv2.imread(str(still_images[1][0]))
    output = segmenter.infer([image])
    ours = segmenter.decode(output)[0]
    det = non_max_suppression(torch.from_numpy(output.raw), segmenter.conf, segmenter.iou, agnostic=True, nc=1)[0]
    letterbox = output.letterboxes[0]
    boxes = scale_boxes((letterbox.input_h, letterbox.input_w), det[:, :4].clone(), image.shape[:2])
    theirs = process_mask_native(torch.from_numpy(output.proto[0]), det[:, 6:], boxes, image.shape[:2]).bool().numpy()
    assert len(ours) == len(theirs) > 0
    inter = (ours.masks & theirs).sum((1, 2))
    union = (ours.masks | theirs).sum((1, 2))
    iou = inter / np.maximum(union, 1)
    # ultralytics interpolates twice (x2 / x4, then to the frame): a few pixels differ along edges,
    # which matters only for masks a few prototype pixels wide
    large = theirs.sum((1, 2)) > 1000
    assert large.sum() >= 3 and iou[large].min() > 0.96 and iou.min() > 0.9, iou


def test_bundled_model_finds_the_objects_of_held_out_scenes(segmenter):
    """Fresh generated scenes (a seed never used for training): the mask matching each object."""
    from fastsam_video.training import best_match_ious as scene_ious

    ious, _ = scene_ious(segmenter, scenes=60, seed=777)
    assert len(ious) >= 200
    assert np.mean(ious) >= 0.8, f"mean best-match IoU {np.mean(ious):.3f}"


def test_bundled_model_finds_the_objects_of_the_sample_images(segmenter, still_images):
    ious = [iou for path, truth in still_images
            for iou in best_match_ious(segmenter.segment(cv2.imread(str(path))), truth)]
    assert len(ious) >= 10
    assert np.median(ious) >= 0.85, f"median best-match IoU {np.median(ious):.3f}"  # a few objects are slivers


def test_batch_of_different_sizes_matches_single_frames(segmenter, still_images):
    image = cv2.imread(str(still_images[0][0]))
    small = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 3))
    batch = segmenter.segment_batch([image, small])
    assert [b.shape for b in batch] == [image.shape[:2], small.shape[:2]]
    single = segmenter.segment(image)
    assert len(batch[0]) == len(single)
    inter = (batch[0].masks & single.masks).sum().item()
    union = (batch[0].masks | single.masks).sum().item()
    assert inter / union > 0.97


def test_fastsam_architecture_checkpoint_loads_through_the_same_path(fastsam_s_checkpoint):
    seg = Segmenter(fastsam_s_checkpoint, device="cpu", imgsz=320, conf=0.0, max_det=10)
    assert seg.num_classes == 1
    assert seg.imgsz == 320 and seg.iou == 0.9  # FastSAM's recommendation for its weights
    out = seg.segment(np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8))
    assert len(out) == 10 and out.shape == (240, 320)


def test_fastsam_defaults_follow_fastsam(fastsam_s_checkpoint):
    seg = Segmenter(fastsam_s_checkpoint, device="cpu", warmup=False)
    assert (seg.imgsz, seg.conf, seg.iou) == (1024, 0.4, 0.9)


def test_missing_weights_name_the_file(tmp_path):
    with pytest.raises(WeightsError, match="model file not found: .*nope.pt"):
        resolve_weights(tmp_path / "nope.pt")


def test_known_fastsam_name_offline_names_file_folder_and_url(monkeypatch):
    import ultralytics.utils.downloads as downloads

    def offline(*args, **kwargs):
        raise ConnectionError("Environment may be offline.")

    monkeypatch.setattr(downloads, "attempt_download_asset", offline)
    with pytest.raises(WeightsError) as err:
        resolve_weights("FastSAM-x.pt")
    message = str(err.value)
    assert "\n" not in message
    assert "weights/" in message and "https://github.com/ultralytics/assets/releases/download/" in message


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"this is not a checkpoint" * 10)
    with pytest.raises(WeightsError, match="not a readable FastSAM / YOLOv8-seg checkpoint"):
        Segmenter(bad, device="cpu")


def test_detection_checkpoint_is_rejected(tmp_path):
    from ultralytics.nn.tasks import DetectionModel

    path = tmp_path / "yolov8n.pt"
    torch.save({"model": DetectionModel("yolov8n.yaml", nc=1, verbose=False)}, path)
    with pytest.raises(WeightsError, match="without mask prototypes"):
        Segmenter(path, device="cpu")


def test_cuda_asked_without_cuda_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA is present here")
    with pytest.raises(WeightsError, match="CUDA is not available"):
        Segmenter(device="cuda")


def test_half_precision_on_cpu_is_refused():
    with pytest.raises(WeightsError, match="half precision needs a GPU"):
        Segmenter(device="cpu", half=True)


def test_letterbox_keeps_aspect_and_pads_to_stride():
    box = letterbox_geometry(480, 854, 640)
    assert (box.content_w, box.content_h) == (640, 360)
    assert (box.input_w, box.input_h) == (640, 384)
    assert box.pad_top == 12 and box.pad_left == 0


def test_border_snapping_follows_fastsam():
    boxes = np.array([[5.0, 50, 100, 230], [0, 0, 315, 238], [40, 40, 60, 60]], np.float32)
    out = snap_to_border(boxes, 240, 320)
    assert out[0].tolist() == [0, 50, 100, 240]
    assert out[1].tolist() == [0, 0, 320, 240]  # > 90% of the image becomes the image
    assert out[2].tolist() == [40, 40, 60, 60]


def test_image_errors_are_one_line(tmp_path):
    from fastsam_video.api import read_image
    from fastsam_video.types import FastSAMVideoError

    with pytest.raises(FastSAMVideoError, match="image not found"):
        read_image(tmp_path / "missing.jpg")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(FastSAMVideoError, match="cannot read .* as an image"):
        read_image(broken)


@pytest.mark.gpu
def test_fp16_on_cuda_matches_fp32(still_images):
    image = cv2.imread(str(still_images[0][0]))
    half = Segmenter(device="cuda")
    full = Segmenter(device="cuda", half=False)
    assert half.precision == "fp16" and next(half.model.parameters()).dtype == torch.float16
    a, b = half.segment(image), full.segment(image)
    assert isinstance(a.masks, np.ndarray)  # decoded on the device, handed over as numpy
    inter = (a.masks.any(0) & b.masks.any(0)).sum().item()
    union = (a.masks.any(0) | b.masks.any(0)).sum().item()
    assert inter / union > 0.95


def test_masks_reach_the_host_whole_though_only_their_box_windows_are_copied():
    """The GPU path's transfer (run here on CPU tensors): every mask, cropped to its box as the
    decoder leaves it, arrives equal; empty and degenerate boxes included."""
    from fastsam_video.engines.pytorch import masks_to_host

    rng = np.random.default_rng(0)
    height, width = 90, 120
    corners = rng.uniform(0, 100, (12, 2))
    boxes = np.c_[corners, corners + rng.uniform(0, 40, (12, 2))].astype(np.float32)
    boxes[0, 2:] = boxes[0, :2]  # an empty box
    boxes[1] = [-10, -5, 500, 300]  # beyond the frame
    masks = torch.from_numpy(rng.random((12, height, width)) > 0.5)
    masks = crop_to_boxes(masks, torch.from_numpy(boxes))
    assert np.array_equal(masks_to_host(masks, boxes), masks.numpy())
    assert masks_to_host(masks[:0], boxes[:0]).shape == (0, height, width)
