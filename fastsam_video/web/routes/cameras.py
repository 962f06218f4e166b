from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from ..mjpeg import MEDIA_TYPE, encode_jpeg
from ..service import Conflict, frame_time

router = APIRouter(prefix="/api/cameras", tags=["cameras"])
NO_CACHE = {"Cache-Control": "no-cache, no-store", "Pragma": "no-cache"}


class CameraIn(BaseModel):
    source: str  # a file, a webcam index, rtsp://..., lavfi:...


class Everything(BaseModel):
    on: bool


@router.get("")
def list_cameras(request: Request) -> list[dict]:
    """Each camera's id, name (passwords redacted), state and stats."""
    live = request.app.state.live
    return [live.describe(c) for c in live.cameras()]


@router.post("", status_code=201)
def add_camera(body: CameraIn, request: Request) -> dict:
    return {"id": request.app.state.live.add_camera(body.source)}


@router.get("/{cid}")
def get_camera(cid: int, request: Request) -> dict:
    live = request.app.state.live
    return live.describe(live.camera(cid))


@router.delete("/{cid}", status_code=204)
def remove_camera(cid: int, request: Request) -> Response:
    request.app.state.live.remove_camera(cid)
    return Response(status_code=204)


@router.put("/{cid}/everything")
def set_everything(cid: int, body: Everything, request: Request) -> dict:
    """Every mask shown (faintly, under the tracked objects) or only the tracked objects."""
    request.app.state.live.set_everything(cid, body.on)
    return {"everything": body.on}


@router.post("/{cid}/replay")
def replay(cid: int, request: Request) -> dict:
    """A file camera that ended plays again from its start (same id, objects and recording)."""
    request.app.state.live.replay(cid)
    return {"id": cid}


@router.get("/{cid}/stream.mjpg", response_class=StreamingResponse)
def stream(cid: int, request: Request) -> StreamingResponse:
    """The annotated video as MJPEG (multipart/x-mixed-replace), for an <img>."""
    camera = request.app.state.live.camera(cid)
    return StreamingResponse(camera.stream.frames(), media_type=MEDIA_TYPE, headers=NO_CACHE)


@router.get("/{cid}/snapshot.jpg", response_class=Response)
def snapshot(cid: int, request: Request) -> Response:
    """The newest annotated frame as a JPEG; X-Frame-Pts: its time, for a prompt drawn on it;
    X-Frame-Index: its number (a file's frame number)."""
    latest = request.app.state.live.camera(cid).latest
    if latest is None:
        raise Conflict(f"camera {cid} has no frame yet: retry when its state is running")
    return Response(encode_jpeg(latest.annotated), media_type="image/jpeg",
                    headers={**NO_CACHE, "X-Frame-Pts": f"{frame_time(latest.frame):.6f}",
                             "X-Frame-Index": str(latest.frame.index)})
