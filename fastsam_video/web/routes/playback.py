"""Playback of a file camera: pause, play, step and seek (the live page's player controls)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, StrictInt

from ...sources.playback import PlaybackAction, PlaybackCommand
from ..imaging import BadRequest

router = APIRouter(prefix="/api/cameras/{cid}/playback", tags=["playback"])


class PlaybackIn(BaseModel):
    """{"action": "pause" | "play" | "step" | "seek"}; step: "delta" frames (-1 back, 1 forward,
    the default); seek: "frame", 0-based. A step pauses first; a seek keeps playing or paused."""

    action: Literal["pause", "play", "step", "seek"]
    delta: StrictInt = 1
    frame: StrictInt | None = None


@router.get("")
def position(cid: int, request: Request) -> dict:
    """{frame (shown), time (its pts, s), frames, duration (s), paused}; 409 for a live camera."""
    return request.app.state.live.playback(cid)


@router.post("")
def command(cid: int, body: PlaybackIn, request: Request) -> dict:
    """Runs the command; the position asked for (the frame shows within one frame's processing)."""
    action = PlaybackAction(body.action)
    if action is PlaybackAction.SEEK and body.frame is None:
        raise BadRequest("frame: a seek needs the frame number to go to, e.g. {\"action\": \"seek\", \"frame\": 120}")
    return request.app.state.live.playback(cid, PlaybackCommand(action, delta=body.delta, frame=body.frame))
