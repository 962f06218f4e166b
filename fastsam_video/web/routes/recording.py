from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

router = APIRouter(prefix="/api/cameras/{cid}/recording", tags=["recording"])


class RecordingIn(BaseModel):
    name: str | None = None  # a bare file name in the server's output folder (default camera<ID>-<time>.mp4)


@router.post("", status_code=201)
def start(cid: int, request: Request, body: RecordingIn | None = None) -> dict:
    path = request.app.state.live.start_recording(cid, body.name if body else None)
    return {"recording": path.name}


@router.delete("")
def stop(cid: int, request: Request) -> dict:
    return {"recorded": request.app.state.live.stop_recording(cid).name}
