from __future__ import annotations

import json

from fastapi import APIRouter, File, Form, Request, UploadFile

from ..imaging import BadRequest, Settings

router = APIRouter(prefix="/api", tags=["segment"])


def _json(field: str, text: str | None):
    if text is None or text == "":
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise BadRequest(f"{field}: expected JSON, got {text[:60]!r}") from None


@router.post("/segment")
def segment(request: Request, image: UploadFile | None = File(None), image_id: str | None = Form(None),
            mode: str = Form("everything"), points: str | None = Form(None, description="[[x, y, label], ...]"),
            box: str | None = Form(None, description="[x1, y1, x2, y2]"), text: str | None = Form(None),
            imgsz: int | None = Form(None), conf: float | None = Form(None), iou: float | None = Form(None),
            retina: bool = Form(True), better_quality: bool = Form(False), contours: bool = Form(True)) -> dict:
    """An image (upload it, or the `image_id` of an earlier upload) and a prompt -> masks
    (box, score, area, COCO RLE), the overlay and the label map as PNG data URLs. The model
    runs once per image and settings; later prompts on it only rerun the selection."""
    images = request.app.state.images
    if image is not None:
        image_id = images.add(image.file.read())
    if not image_id:
        raise BadRequest("expected an image upload (field `image`) or the `image_id` of an earlier upload")
    settings = Settings(imgsz, conf, iou, retina, better_quality, contours)
    answer = images.answer(image_id, mode, settings, points=_json("points", points), box=_json("box", box),
                           text=text)
    return answer.to_json()
