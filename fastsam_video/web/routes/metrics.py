from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from ...config import schema

router = APIRouter(prefix="/api", tags=["operations"])


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus text format: fastsam_video_* with a `camera` label (see fastsam_video/metrics.py)."""
    return Response(request.app.state.metrics.scrape(), media_type=CONTENT_TYPE_LATEST)


@router.get("/config/schema")
def config_schema() -> dict:
    """The JSON schema of the config file (`serve --config site.yaml`)."""
    return schema()
