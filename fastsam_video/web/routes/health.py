from __future__ import annotations

from fastapi import APIRouter, Request

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/health")
def health(request: Request) -> dict:
    """200 while the server runs, with each camera's state."""
    live = request.app.state.live
    return {"status": "ok", "device": str(live.segmenter.device), "precision": live.segmenter.precision,
            "model": {"imgsz": live.segmenter.imgsz, "conf": live.segmenter.conf, "iou": live.segmenter.iou},
            "cameras": [live.brief(c) for c in live.cameras()]}
