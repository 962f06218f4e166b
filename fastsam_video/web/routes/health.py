from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/health")
def health(request: Request) -> JSONResponse:
    """200 while at least one camera runs, 503 while none does (a supervisor's or load balancer's
    check), with each camera's state either way."""
    live = request.app.state.live
    cameras = [live.brief(c) for c in live.cameras()]
    running = any(c["state"] == "running" for c in cameras)
    body = {"status": "ok" if running else "no camera running", "device": str(live.segmenter.device),
            "precision": live.segmenter.precision,
            "model": {"imgsz": live.segmenter.imgsz, "conf": live.segmenter.conf, "iou": live.segmenter.iou},
            "cameras": cameras}
    return JSONResponse(body, status_code=200 if running else 503)
