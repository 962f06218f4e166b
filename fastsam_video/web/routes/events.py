from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

router = APIRouter(prefix="/api", tags=["events"])
KEEPALIVE_S = 15.0


@router.get("/events", response_class=StreamingResponse)
async def events(request: Request, camera: int | None = None) -> StreamingResponse:
    """Server-Sent Events: one `data:` JSON line per typed event (kind, camera, object_id, pts,
    wall_time, detail, message); `?camera=ID` for one camera's."""
    queue, unsubscribe = request.app.state.live.bus.subscribe_async()

    async def body():
        try:
            yield ": connected\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except asyncio.TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                if camera is None or event.camera == camera:
                    yield f"data: {json.dumps(event.to_dict())}\n\n"
        finally:
            unsubscribe()

    return StreamingResponse(body(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
