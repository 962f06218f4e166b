"""Where frames come from: webcams, network streams, video files, image folders.

Every source has the same small surface (`FrameSource`, in `base`): `read()` blocks for the
next `Frame` and returns None at the end, `close()` releases it. `CaptureThread` (`capture`)
reads a source on its own thread so that inference never waits on capture, and so that a live
source never builds up a backlog of stale frames; `close_all` stops many at once.

Local sources (`local`): webcams, video files, image folders. Network streams and
reconnection (`network`): every wait bounded, reconnection with capped backoff, and the state
readable as `source.connection` (a `ConnectionState`); webcams reconnect the same way.

Failures are `SourceError`s with one line naming the problem and the fix. Passwords in
URLs never reach a message, a log line or a name (`redaction`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from ..events import ConnectionStatus
from ..types import SourceError
from .base import FrameSource
from .capture import CaptureThread, close_all
from .local import IMAGE_EXTENSIONS, FileSource, FolderSource, WebcamSource
from .looping import LoopingSource
from .network import (DEFAULT_BACKOFF, LAVFI_PREFIX, RTSP_TRANSPORTS, STREAM_PREFIXES, ConnectionState, Reconnecting,
                      ReconnectingSource, StreamSource, check_stream_options)
from .redaction import _redact_text, install_log_redaction, redact_url  # _redact_text: for ui.session

__all__ = ["CaptureThread", "ConnectionState", "ConnectionStatus", "DEFAULT_BACKOFF", "FileSource", "FolderSource",
           "FrameSource", "IMAGE_EXTENSIONS", "LAVFI_PREFIX", "LoopingSource", "RTSP_TRANSPORTS", "Reconnecting", "ReconnectingSource",
           "STREAM_PREFIXES", "StreamSource", "WebcamSource", "check_stream_options", "close_all",
           "install_log_redaction", "open_source", "redact_url"]


def open_source(spec: str, *, realtime: bool = False, fps: float | None = None, rtsp_transport: str = "tcp",
                open_timeout: float = 5.0, read_timeout: float = 5.0, reconnect: bool | None = None,
                backoff: Sequence[float] = DEFAULT_BACKOFF, source_id: int = 0) -> FrameSource:
    """Opens what `spec` names: `0` or `webcam:0`; rtsp://, http(s):// and other stream URLs;
    `lavfi:<filtergraph>`; an image folder or a glob; a video file; a single image.

    Network URLs reconnect by default (`reconnect=None`): they give a `ReconnectingSource`,
    which waits for a camera that is down at start rather than raising. `reconnect=False`
    gives a plain `StreamSource`, whose first failure is a SourceError; `lavfi:` specs
    reconnect only when asked. Webcams reconnect by default too (a `Reconnecting` source): one
    that cannot be opened at start raises at once (a wrong index), one that stops delivering
    frames later is reopened with the same backoff as a network camera."""
    spec = spec.strip()
    webcam = re.fullmatch(r"(?:webcam:)?(\d+)", spec, re.IGNORECASE)
    if webcam:
        index = int(webcam.group(1))
        if reconnect is False:
            return WebcamSource(index, source_id=source_id)
        return Reconnecting(f"webcam {index}", lambda: WebcamSource(index, source_id=source_id), backoff=backoff,
                            permanent=lambda err: True, source_id=source_id)
    network = spec.lower().startswith(STREAM_PREFIXES)
    if network or spec.startswith(LAVFI_PREFIX):
        if network if reconnect is None else reconnect:
            return ReconnectingSource(spec, rtsp_transport, open_timeout, read_timeout, backoff=backoff,
                                      source_id=source_id)
        return StreamSource(spec, rtsp_transport, open_timeout, read_timeout, source_id=source_id)
    path = Path(spec).expanduser()
    if path.is_dir() or (not path.exists() and any(c in spec for c in "*?[")):
        return FolderSource(str(path), fps=fps, realtime=realtime, source_id=source_id)
    if path.is_file():
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            return FolderSource(str(path), fps=fps, realtime=realtime, source_id=source_id)
        return FileSource(path, realtime=realtime, source_id=source_id)
    raise SourceError(f"no such file: {redact_url(spec)} (expected a webcam index, an rtsp:// or http(s):// URL, "
                      "lavfi:..., a video file, an image folder or a glob)")
