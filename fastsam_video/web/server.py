"""`fastsam-video serve`: load the model once, open the cameras, run uvicorn, print the URL."""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path

from .. import assets
from ..prompts import ClipEncoder
from ..sources import FrameSource, open_source
from ..types import FastSAMVideoError, Frame, SourceError

log = logging.getLogger(__name__)

DEMO_CLIP = assets.demo_clip() / "video.mp4"  # in the wheel, or the checkout's samples/
DEMO_SPEC = "demo"


class LoopingSource(FrameSource):
    """A video file played at its own rate, from the start again at its end, like a camera
    (the server's demo). Timestamps keep increasing across loops."""

    def __init__(self, path: str | Path, source_id: int = 0, realtime: bool = True):
        super().__init__(source_id)
        self.path = Path(path)
        self.realtime = self.live = realtime  # not realtime: as fast as the pipeline takes frames (benchmarks)
        self._inner = open_source(str(self.path), realtime=realtime, source_id=source_id)
        self.name = f"{self.path.parent.name}/{self.path.name} (loop)"
        self.fps = self._inner.fps
        self._offset = 0.0
        self._last = 0.0

    def _read_image(self):
        frame: Frame | None = self._inner.read()
        if frame is None:  # the end: start again where the timeline left off
            self._inner.close()
            self._offset = self._last + 1.0 / (self.fps or 30.0)
            self._inner = open_source(str(self.path), realtime=self.realtime, source_id=self.source_id)
            frame = self._inner.read()
            if frame is None:
                raise SourceError(f"{self.path} has no frames to loop over")
        self._last = self._offset + (frame.pts or 0.0)
        return frame.image, self._last

    def _release(self) -> None:
        self._inner.close()


def source_opener(stream, ray: bool = False):
    """Opens a camera spec with the stream options; "demo" is the bundled clip in a loop. With
    `ray`, the spec for a camera actor (which opens it on its node)."""
    if ray:
        from ..cluster import CameraSpec

        return lambda spec: (CameraSpec(str(DEMO_CLIP), replace(stream, realtime=True), loop=True)
                             if spec == DEMO_SPEC else CameraSpec(spec, stream))
    from ..factory import open_camera

    def open_one(spec: str) -> FrameSource:
        return LoopingSource(DEMO_CLIP) if spec == DEMO_SPEC else open_camera(spec, stream)
    return open_one


def events_db_path(args) -> Path | None:
    """Where the event history lives: --events-db, else beside the state file (`--state`, when
    the server has one), else beside the recordings; None for 'none'."""
    value = getattr(args, "events_db", None)
    if value is not None and value.lower() == "none":
        return None
    if value:
        return Path(value)
    state = getattr(args, "state_path", None) or getattr(args, "state", None)
    return Path(state).with_name("events.db") if state else Path(args.output) / "events.db"


def open_review(args):
    from ..review import Review

    path = events_db_path(args)
    return Review(path) if path is not None else None


def build(args):
    """(app, live service, outlets) from the parsed `serve` arguments."""
    from ..factory import build_pipeline
    from ..analytics.cooldown import OutletCooldown
    from ..options import ModelOptions, OutputOptions, StreamOptions, zone_set
    from .app import create_app
    from .imaging import ImageSegmenter
    from .outlets import EventBus, open_outlets
    from .service import LiveService

    model = ModelOptions.from_args(args)
    stream = replace(StreamOptions.from_args(args), queue_size=2)  # a click refers to the frame on screen
    zones = zone_set(args)
    outlets = open_outlets(args.webhook, args.mqtt)
    bus = EventBus()
    cooldown = OutletCooldown()  # the zones' cooldowns, looked up from the live service once it exists

    def to_outlets(event) -> None:
        if outlets and cooldown.allow(event):
            for outlet in outlets:
                outlet.offer(event)
    bus.subscribe(to_outlets)
    try:
        review = open_review(args)  # before the model: an unwritable store fails at once
    except BaseException:
        for outlet in outlets:
            outlet.close()
        raise
    live = None
    try:
        record_cameras = bool(getattr(args, "record_cameras", False))
        outputs = OutputOptions(segment_seconds=args.record_segment_seconds if record_cameras else None)
        if getattr(args, "ray", None):  # the cameras and the model on a Ray cluster
            from ..cluster import cluster_pipeline

            if len(zones):
                raise FastSAMVideoError("--zone / --line: zones run in the local pipeline; drop --ray to use them")
            pipeline = cluster_pipeline(args.ray, [], model, stream, outputs, stay_open=True)
        else:
            pipeline = build_pipeline([], model, stream, outputs, stay_open=True, zones=zones)
        live = LiveService(pipeline, source_opener(stream, ray=bool(getattr(args, "ray", None))),
                           output_dir=args.output, bus=bus, review=review, record_cameras=record_cameras)
        cooldown.cooldown_of = live.cooldown_of
        try:
            for spec in args.sources or [DEMO_SPEC]:
                live.add_camera(spec)
        except BaseException:
            live.close()
            raise
    except BaseException:
        for outlet in outlets:
            outlet.close()
        if review is not None and live is None:  # else LiveService.close closed it
            review.close()
        raise
    images = ImageSegmenter(pipeline.segmenter, lambda: ClipEncoder(model.clip_model, device=pipeline.segmenter.device))
    return create_app(live, images, token=args.token), live, outlets


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .auth import TOKEN_ENV, resolve_token

    token, generated = resolve_token(args.host, args.token)
    args.token = token
    app, live, outlets = build(args)
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{args.port}/" + (f"?token={token}" if token else "")
    if generated:
        print(f"serve: {args.host} is not loopback, so every request needs a token; this run's token is in the "
              f"URL below (set --token or ${TOKEN_ENV} to choose one)", file=sys.stderr)
    print(f"fastsam-video: open {url}  (image page: /image, API docs: /docs)", flush=True)
    try:
        # open streams (MJPEG, events) never end by themselves: close them 2 s after Ctrl-C
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=2)
    finally:
        live.close()
        for outlet in outlets:
            outlet.close()
    return 0
