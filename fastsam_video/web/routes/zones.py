from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

router = APIRouter(prefix="/api/cameras/{cid}/zones", tags=["zones"])


class NewObjectsIn(BaseModel):
    min_area: float = 0.002  # fraction of the frame
    min_frames: int = 5


class ZoneIn(BaseModel):
    """A zone, {"name", "polygon": [[x, y], ...]}, or a line, {"name", "line": [[x1, y1], [x2, y2]]};
    coordinates are fractions 0-1 of the frame's width and height. Zone options: presence
    ("mask" or "bottom_center"), min_fraction (0.5), inertia (3 frames), loiter_seconds (0 = off),
    cooldown (seconds between two outlet messages of one kind), detect_new (new masks inside
    become tracked objects). Line options: inertia, cooldown."""

    name: str | None = None
    polygon: list[list[float]] | None = None
    line: list[list[float]] | None = None
    presence: str | None = None
    min_fraction: float | None = None
    inertia: int | None = None
    loiter_seconds: float | None = None
    cooldown: float | None = None
    detect_new: NewObjectsIn | bool | None = None

    def fields(self) -> dict:
        return self.model_dump(exclude_none=True)


@router.get("")
def list_zones(cid: int, request: Request) -> list[dict]:
    """[{name, kind (zone / line), polygon or line, options, counts: {count, objects, coverage,
    entered, left} or {count, crossed_in, crossed_out}}]"""
    return request.app.state.live.zones(cid)


@router.post("", status_code=201)
def add_zone(cid: int, body: ZoneIn, request: Request) -> dict:
    return request.app.state.live.put_zone(cid, body.fields())


@router.put("/{name}")
def put_zone(cid: int, name: str, body: ZoneIn, request: Request) -> dict:
    """Replace the zone or line called `name` (or create it); its counts start afresh when its
    definition changed."""
    return request.app.state.live.put_zone(cid, body.fields(), name)


@router.delete("/{name}", status_code=204)
def remove_zone(cid: int, name: str, request: Request) -> Response:
    request.app.state.live.remove_zone(cid, name)
    return Response(status_code=204)
