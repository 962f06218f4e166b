"""YOLO segmentation labels read back by ultralytics' own loader (issue 26)."""

from __future__ import annotations

import av
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


def test_the_streaming_pipeline_exports_every_nth_frame(tmp_path, segmenter):
    from fastsam_video.pipeline import Pipeline
    from fastsam_video.sinks import read_davis_png
    from fastsam_video.sources import open_source
    from fastsam_video.tracker import ObjectPrompt, PromptSet

    from .conftest import SAMPLES

    source = open_source(str(SAMPLES / "clips" / "crossing" / "video.mp4"))
    prompts = PromptSet((ObjectPrompt(1, points=((47, 70),), labels=(1,)),))
    with Pipeline(source, segmenter, prompts, export_masks=tmp_path / "masks", export_yolo=tmp_path / "yolo",
                  record=tmp_path / "out.mp4", export_every=10) as pipeline:
        assert pipeline.wait(120)
    wanted = [f"{k:05d}" for k in range(0, 60, 10)]
    assert [p.stem for p in sorted((tmp_path / "masks").glob("*.png"))] == wanted
    labels = sorted((tmp_path / "yolo" / "labels").glob("*.txt"))
    assert [p.stem for p in labels] == wanted
    assert [p.stem for p in sorted((tmp_path / "yolo" / "images").glob("*.jpg"))] == wanted
    for path in labels:  # the object in each exported frame, as its class 0 polygon
        assert read_davis_png(tmp_path / "masks" / f"{path.stem}.png").max() == 1
        assert path.read_text().startswith("0 ")
    with av.open(str(tmp_path / "out.mp4")) as video:  # the recording keeps every frame
        assert sum(1 for _ in video.decode(video=0)) == 60


def test_a_coco_export_rewritten_for_cvat_keeps_every_mask_and_object(tmp_path):
    import json

    from fastsam_video.sinks import CocoExporter, rle_decode
    from fastsam_video.sinks.cvat import main

    masks = np.zeros((2, 30, 40), bool)
    masks[0, 2:10, 3:20] = True
    masks[1, 15:28, 25:39] = True
    with CocoExporter(tmp_path / "coco.json") as exporter:
        exporter.write(0, Segmentation.of(masks, masks_to_boxes(masks), [0.9, 0.8], [1, 4]))
        exporter.write(5, Segmentation.of(masks[1:], masks_to_boxes(masks[1:]), [0.8], [4]))
    assert main([str(tmp_path / "coco.json"), str(tmp_path / "cvat.json")]) == 0
    cvat = json.loads((tmp_path / "cvat.json").read_text())
    assert [i["file_name"] for i in cvat["images"]] == ["frame_000000.PNG", "frame_000005.PNG"]
    assert [(c["id"], c["name"]) for c in cvat["categories"]] == [(1, "object 1"), (4, "object 4")]
    got = [(a["image_id"], a["category_id"], a["iscrowd"], a["attributes"]["track_id"]) for a in cvat["annotations"]]
    assert got == [(0, 1, 1, 1), (0, 4, 1, 4), (5, 4, 1, 4)]
    assert np.array_equal(rle_decode(cvat["annotations"][2]["segmentation"]), masks[1])
    assert main([str(tmp_path / "missing.json"), str(tmp_path / "x.json")]) == 2
