"""The event history (the event store): pages of past events, one event, its snapshot, the
object's best frame, the clip around it, marking it reviewed; the review page's timeline."""

from __future__ import annotations

import re
import time
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from ...events import EventKind
from ...history import ClipError, Review, StoreError
from ...history.store import MAX_LIMIT
from ..imaging import BadRequest, NotFound

router = APIRouter(prefix="/api/events", tags=["events"])
MAX_CLIP_SIDE_S = 60.0
CLIP_CACHE_S = 10.0  # a clip cut is reused this long (a player's range requests; its end may still grow)
RECENT_CLIPS: dict[tuple, tuple] = {}  # (event, pre, post) -> (time cut, clip, offset); insertion order
RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class ReviewedIn(BaseModel):
    reviewed: bool = True


def review_of(request: Request) -> Review:
    review = request.app.state.live.review
    if review is None:
        raise NotFound("this server keeps no event history (it was started without an event store)")
    return review


def wall_time(name: str, value: str | None) -> float | None:
    """Seconds since 1970, or an ISO 8601 time (local time when it has no zone)."""
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise BadRequest(f"{name}: expected seconds since 1970 or an ISO 8601 time like 2026-12-01T08:00, "
                         f"got {value[:40]!r}") from None


def known_kinds(kind: str | None) -> list[str] | None:
    """`kind`: one kind or several, comma-separated."""
    if kind in (None, ""):
        return None
    kinds = [k.strip() for k in kind.split(",") if k.strip()]
    known = {k.value for k in EventKind}
    for k in kinds:
        if k not in known:
            raise BadRequest(f"kind: expected one of {', '.join(sorted(known))} (or several, comma-separated), "
                             f"got {k[:40]!r}")
    return kinds


def event_or_404(review: Review, eid: int) -> dict:
    event = review.store.get(eid)
    if event is None:
        raise NotFound(f"no event {eid}: GET /api/events/history lists them")
    return event


@router.get("/kinds")
def kinds() -> dict:
    """Every event kind the history can hold."""
    return {"kinds": [k.value for k in EventKind]}


@router.get("/history")
def history(request: Request, camera: int | None = None, kind: str | None = None, zone: str | None = None,
            since: str | None = None, until: str | None = None, reviewed: bool | None = None, limit: int = 50,
            before_id: int | None = None) -> dict:
    """Stored events, newest first: `limit` (1-500) of them with id < `before_id`; the next page
    is `before_id=<next_before_id>`. `since` / `until`: seconds since 1970 or ISO 8601."""
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit: expected 1 to {MAX_LIMIT}, got {limit}")
    try:
        events = review_of(request).store.history(
            camera=camera, kind=known_kinds(kind), zone=zone or None, since=wall_time("since", since),
            until=wall_time("until", until), reviewed=reviewed, limit=limit, before_id=before_id)
    except StoreError as err:
        raise BadRequest(str(err)) from None
    return {"events": events, "next_before_id": events[-1]["id"] if len(events) == limit else None}


@router.get("/timeline")
def timeline(request: Request, since: str | None = None, until: str | None = None, buckets: int = 288) -> dict:
    """Event counts per camera, kind and time bucket (default: the last 24 h in 5-minute buckets)."""
    end = wall_time("until", until) or time.time()
    start = wall_time("since", since) or end - 86400
    if not 1 <= buckets <= 2000:
        raise BadRequest(f"buckets: expected 1 to 2000, got {buckets}")
    try:
        marks = review_of(request).store.timeline(start, end, buckets)
    except StoreError as err:
        raise BadRequest(str(err)) from None
    return {"since": start, "until": end, "buckets": buckets, "marks": marks}


@router.get("/{eid}")
def event(eid: int, request: Request) -> dict:
    return event_or_404(review_of(request), eid)


def jpeg(path, cache: str) -> Response | None:
    """The file's bytes (read whole: a thumbnail may be replaced by a better one while it is sent)."""
    try:
        return Response(path.read_bytes(), media_type="image/jpeg", headers={"Cache-Control": cache})
    except FileNotFoundError:
        return None


@router.get("/{eid}/snapshot.jpg", response_class=Response)
def snapshot(eid: int, request: Request, clean: bool = False) -> Response:
    """The annotated frame of the event (`?clean=true`: without the overlay)."""
    review = review_of(request)
    event_or_404(review, eid)
    response = jpeg(review.snapshots.event_path(eid, clean), "max-age=3600")
    if response is None:
        raise NotFound(f"event {eid} has no snapshot (no frame of its camera came after it)")
    return response


@router.get("/{eid}/thumbnail.jpg", response_class=Response)
def thumbnail(eid: int, request: Request) -> Response:
    """The object's best frame while it was tracked (its largest visible mask), else the snapshot."""
    review = review_of(request)
    event = event_or_404(review, eid)
    for path in ((review.snapshots.track_path(event["track"]),) if event["track"] else ()) + (
            review.snapshots.event_path(eid),):
        response = jpeg(path, "no-cache")
        if response is not None:
            return response
    raise NotFound(f"event {eid} has no snapshot (no frame of its camera came after it)")


@router.get("/{eid}/clip.mp4", response_class=Response)
def clip(eid: int, request: Request, pre: float = 5.0, post: float = 5.0) -> Response:
    """The recording from `pre` seconds before the event to `post` after (0-60 each), as MP4; the
    event's offset in it is in the `X-Event-Offset` header (seconds)."""
    for name, value in (("pre", pre), ("post", post)):
        if not 0 <= value <= MAX_CLIP_SIDE_S:
            raise BadRequest(f"{name}: expected 0 to {MAX_CLIP_SIDE_S:g} seconds, got {value:g}")
    review = review_of(request)
    event_or_404(review, eid)
    key = (eid, pre, post)
    cached = RECENT_CLIPS.get(key)
    if cached is None or time.monotonic() - cached[0] > CLIP_CACHE_S:
        try:
            cached = (time.monotonic(), *review.clip(eid, pre, post))
        except ClipError as err:
            raise NotFound(str(err)) from None
        RECENT_CLIPS[key] = cached
        while len(RECENT_CLIPS) > 8:
            RECENT_CLIPS.pop(next(iter(RECENT_CLIPS)))
    _, cut, offset = cached
    headers = {"X-Event-Offset": f"{offset:.3f}", "X-Clip-Remuxed": "1" if cut.remuxed else "0",
               "Content-Disposition": f'inline; filename="event-{eid}.mp4"', "Cache-Control": "no-cache",
               "Accept-Ranges": "bytes"}
    return ranged(cut.data, request.headers.get("range"), headers)


def ranged(data: bytes, header: str | None, headers: dict) -> Response:
    """The whole MP4, or the one byte range asked for (206): a browser's player seeks with these."""
    match = RANGE.fullmatch(header.strip()) if header else None
    if match is None or not (match[1] or match[2]):
        return Response(data, media_type="video/mp4", headers=headers)
    size = len(data)
    if match[1]:
        start, end = int(match[1]), min(int(match[2]) if match[2] else size - 1, size - 1)
    else:  # the last N bytes
        start, end = max(0, size - int(match[2])), size - 1
    if start >= size or end < start:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
    return Response(data[start:end + 1], status_code=206, media_type="video/mp4",
                    headers={**headers, "Content-Range": f"bytes {start}-{end}/{size}"})


@router.post("/{eid}/reviewed")
def reviewed(eid: int, request: Request, body: ReviewedIn | None = None) -> dict:
    """Marks the event reviewed (`{"reviewed": false}` unmarks it)."""
    review = review_of(request)
    if not review.store.set_reviewed(eid, body.reviewed if body else True):
        raise NotFound(f"no event {eid}: GET /api/events/history lists them")
    return review.store.get(eid)
