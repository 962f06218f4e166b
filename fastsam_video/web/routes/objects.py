from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

router = APIRouter(prefix="/api/cameras/{cid}/objects", tags=["objects"])


class ObjectIn(BaseModel):
    """Exactly one of: points [[x, y, label], ...] (label 1 = foreground, 0 = background),
    box [x1, y1, x2, y2], or text; coordinates in frame pixels. Optional pts: the time (seconds,
    the X-Frame-Pts of snapshot.jpg or of an MJPEG part) of the frame the prompt was drawn on; it
    is resolved on that frame (the last 2 s are kept) and carried to the present."""

    points: list[list[float]] | None = None
    box: list[float] | None = None
    text: str | None = None
    pts: float | None = None


@router.get("")
def list_objects(cid: int, request: Request) -> list[dict]:
    """[{id, state (tracked / lost / pending), box, prompt}]"""
    return request.app.state.live.objects(cid)


@router.post("", status_code=201)
def add_object(cid: int, body: ObjectIn, request: Request) -> dict:
    return {"id": request.app.state.live.add_object(cid, points=body.points, box=body.box, text=body.text,
                                                    pts=body.pts)}


@router.put("/{oid}")
def update_object(cid: int, oid: int, body: ObjectIn, request: Request) -> dict:
    """Replace the object's prompt (same id and colour), e.g. its points with a background point added."""
    request.app.state.live.update_object(cid, oid, points=body.points, box=body.box, text=body.text, pts=body.pts)
    return {"id": oid}


@router.delete("/{oid}", status_code=204)
def remove_object(cid: int, oid: int, request: Request) -> Response:
    request.app.state.live.remove_object(cid, oid)
    return Response(status_code=204)
