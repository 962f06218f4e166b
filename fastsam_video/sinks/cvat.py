"""A COCO export rewritten for CVAT's COCO 1.0 import into a task made from the video:

- each image named as CVAT names a video task's frames (`frame_000042.PNG`, matched by frame
  number when the task was created from a video);
- one category per tracked object (`object 1`, `object 2` ...: create the task with these labels,
  or rename them in both places), so each object keeps its own label;
- masks as RLE with `iscrowd: 1`, as CVAT writes masks in its own COCO exports; the object id
  kept in the annotation's `attributes` (`track_id`).

    python -m fastsam_video.sinks.cvat COCO.json CVAT.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import FastSAMVideoError, RecordingError


def cvat_coco(coco: dict) -> dict:
    try:
        images = [{**image, "file_name": f"frame_{int(image['id']):06d}.PNG"} for image in coco["images"]]
        ids = sorted({int(a["object_id"]) for a in coco["annotations"]})
        annotations = [{key: value for key, value in a.items() if key not in ("object_id", "score")}
                       | {"category_id": int(a["object_id"]), "iscrowd": 1,
                          "attributes": {"track_id": int(a["object_id"]), "occluded": False}}
                       for a in coco["annotations"]]
    except (KeyError, TypeError, ValueError) as err:
        raise RecordingError(f"not a fastsam-video COCO export (missing or bad {err}): give the file "
                             "--export-coco wrote") from None
    categories = [{"id": k, "name": f"object {k}", "supercategory": ""} for k in ids]
    return {"licenses": [{"name": "", "id": 0, "url": ""}], "info": {"description": "fastsam-video"},
            "categories": categories, "images": images, "annotations": annotations}


def write_cvat_coco(source: str | Path, target: str | Path) -> Path:
    source, target = Path(source), Path(target)
    try:
        coco = json.loads(source.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RecordingError(f"cannot read {source} as COCO JSON: {err}") from None
    try:
        target.write_text(json.dumps(cvat_coco(coco)))
    except OSError as err:
        raise RecordingError(f"cannot write {target}: {err}") from None
    return target


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0].startswith("-"):
        print("usage: python -m fastsam_video.sinks.cvat COCO.json CVAT.json  (a COCO export for CVAT's "
              "COCO 1.0 import into a task made from the video)", file=sys.stderr)
        return 2
    try:
        print(write_cvat_coco(*args))
    except FastSAMVideoError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
