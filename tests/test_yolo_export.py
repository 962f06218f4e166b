"""YOLO segmentation labels read back by ultralytics' own loader (issue 26)."""

from __future__ import annotations

import numpy as np
import yaml

from fastsam_video.prompts import masks_to_boxes
from fastsam_video.sinks import YoloExporter
from fastsam_video.types import Segmentation


def test_labels_read_back_by_ultralytics_match_the_masks(tmp_path):
    from ultralytics.data.utils import polygon2mask, verify_image_label

    h, w = 120, 160
    masks = np.zeros((2, h, w), bool)
    yy, xx = np.mgrid[:h, :w]
    masks[0] = (xx - 50) ** 2 / 30 ** 2 + (yy - 60) ** 2 / 20 ** 2 <= 1  # an ellipse
    masks[1, 10:50, 100:150] = True  # a rectangle
    masks[1, 80:82, 100:102] = True  # a speck: not the largest piece, left out
    seg = Segmentation.of(masks, masks_to_boxes(masks), [0.9, 0.8], [3, 7])
    image = np.full((h, w, 3), 120, np.uint8)
    with YoloExporter(tmp_path / "yolo") as exporter:
        exporter.write(12, image, seg)
        exporter.write(13, image, Segmentation.empty(h, w))
    root = tmp_path / "yolo"
    im_file, lb_file = root / "images" / "00012.jpg", root / "labels" / "00012.txt"
    out = verify_image_label((str(im_file), str(lb_file), "", False, 7, 0, 0, False))
    _, labels, shape, segments, _, missing, found, empty, corrupt, msg = out
    assert (found, corrupt, empty, missing) == (1, 0, 0, 0), msg
    assert tuple(shape) == (h, w)
    assert labels[:, 0].tolist() == [2, 6]  # class = object id - 1
    for polygon, truth in zip(segments, masks):
        drawn = polygon2mask((h, w), [(polygon * (w, h)).ravel()], color=1, downsample_ratio=1).astype(bool)
        iou = (drawn & truth).sum() / (drawn | truth).sum()
        assert iou > 0.9, iou
    empty_frame = verify_image_label((str(root / "images" / "00013.jpg"), str(root / "labels" / "00013.txt"),
                                      "", False, 7, 0, 0, False))
    assert empty_frame[7] == 1  # an empty label file: a frame without objects
    names = yaml.safe_load((root / "data.yaml").read_text())["names"]
    assert names[6] == "object 7" and len(names) == 7
