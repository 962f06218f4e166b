"""`fastsam-video serve`: load the model once, open the cameras, run uvicorn, print the URL."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from .. import assets
from ..prompts import ClipEncoder
from ..sources import FrameSource, LoopingSource
from ..sources.playback import PlaybackSource, is_video_file
from . import RECORD_SEGMENT_SECONDS


DEMO_CLIP = assets.demo_clip() / "video.mp4"  # in the wheel, or the checkout's samples/
DEMO_SPEC = "demo"


def source_opener(stream, ray: bool = False):
    """Opens a camera spec with the stream options; "demo" is the bundled clip in a loop. With
    `ray`, the spec for a camera actor (which opens it on its node)."""
    if ray:
        from ..cluster import CameraSpec

        return lambda spec: (CameraSpec(str(DEMO_CLIP), replace(stream, realtime=True), loop=True)
                             if spec == DEMO_SPEC else CameraSpec(spec, stream))
    from ..factory import open_camera

    def open_one(spec: str) -> FrameSource:
        if spec == DEMO_SPEC:
            return LoopingSource(DEMO_CLIP)
        if is_video_file(spec):  # a file: pause, step and seek on the live page
            return PlaybackSource(Path(spec).expanduser(), realtime=stream.realtime)
        return open_camera(spec, stream)
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
    from ..history import Review

    path = events_db_path(args)
    return Review(path) if path is not None else None


class Site:
    """What `serve` runs besides uvicorn: the live service, outlets, the state keeper, retention,
    the event history."""

    def __init__(self):
        self.live = None
        self.outlets: list = []
        self.retention = None
        self.keeper = None
        self.review = None

    def close(self) -> None:
        for part in (self.retention, self.live, *self.outlets):
            if part is not None:
                part.close()
        if self.review is not None and self.live is None:  # else the live service closed it
            self.review.close()


def build(args, site: Site | None = None):
    """(app, site) from the parsed `serve` arguments; on failure what was opened is closed."""
    from ..state import StateFile

    state = StateFile(args.state_path) if getattr(args, "state_path", None) else None
    saved = state.load() if state else None  # a broken file: one line, before anything loads

    from ..analytics.cooldown import OutletCooldown
    from ..clip_loader import ClipLoader
    from ..factory import build_pipeline
    from ..metrics import Metrics
    from ..options import ModelOptions, OutputOptions, StreamOptions, zone_set
    from ..retention import Retention
    from .app import create_app
    from .imaging import ImageSegmenter
    from .outlets import EventBus, open_outlets
    from .persistence import StateKeeper, rules, start_cameras
    from .service import LiveService

    site = site or Site()
    config = getattr(args, "site_config", None)
    model = ModelOptions.from_args(args)
    stream = replace(StreamOptions.from_args(args), queue_size=2)  # a click refers to the frame on screen
    ray = bool(getattr(args, "ray", None))
    zones = zone_set(args)
    cooldown = OutletCooldown()  # the zones' cooldowns, looked up from the live service once it exists
    try:
        site.outlets = outlets = open_outlets(args.webhook, args.mqtt)
        bus = EventBus()

        def to_outlets(event) -> None:
            if outlets and cooldown.allow(event):
                for outlet in outlets:
                    outlet.offer(event)
        bus.subscribe(to_outlets)
        site.review = open_review(args)  # before the model: an unwritable store fails at once
        record_cameras = bool(getattr(args, "record_cameras", False))
        segment_seconds = getattr(args, "segment_seconds", None)
        output = OutputOptions(segment_seconds=segment_seconds or (RECORD_SEGMENT_SECONDS if record_cameras else None))
        # CLIP is loaded by requests and at start, never by the results thread (the trackers only get it)
        clip = ClipLoader(lambda: ClipEncoder(model.clip_model, device=pipeline.segmenter.device),
                          background=False)
        if ray:  # the cameras and the model on a Ray cluster
            from ..cluster import cluster_pipeline

            pipeline = cluster_pipeline(args.ray, [], model, stream, output, stay_open=True,
                                        zones=zones if len(zones) else None)
        else:
            pipeline = build_pipeline([], model, stream, output, stay_open=True, zones=zones, text_encoder=clip)
        site.live = live = LiveService(pipeline, source_opener(stream, ray=ray), output_dir=args.output, bus=bus,
                                       clip=clip, review=site.review, record_cameras=record_cameras)
        cooldown.cooldown_of = live.cooldown_of
        if _text_prompts(saved, config):
            clip.load()  # restored or configured text prompts: CLIP now (missing weights: one line, status 2)
        if state is not None:
            site.keeper = StateKeeper(live, state)
        unrestored = start_cameras(live, stream, saved, config, args.sources or [DEMO_SPEC], live._open_source)
        if site.keeper is not None:
            site.keeper.unrestored = unrestored  # kept in the file: a file camera whose disk is back next time
            site.keeper.paused = False
            site.keeper.save()
        retained = rules(live.output_dir, args.keep_days, args.keep_max_size, config)
        site.retention = Retention.for_pipeline(retained, pipeline).start()
    except BaseException:
        site.close()
        raise
    images = ImageSegmenter(pipeline.segmenter, clip.load)
    app = create_app(live, images, token=args.token, metrics=Metrics(live, site.retention))
    return app, site


def _text_prompts(saved, config) -> bool:
    cameras = list(saved.cameras if saved else []) + list(config.cameras.values() if config else [])
    return any(o.text for c in cameras for o in (getattr(c, "objects", None) or getattr(c, "prompts", None) or []))


def serve(args: argparse.Namespace) -> int:
    """Binds the socket first (a port in use or a foreign host: one line at once), then loads the
    model and the cameras; the URL is printed once uvicorn serves on that socket."""
    from .auth import TOKEN_ENV, resolve_token
    from .listener import listen

    token, generated = resolve_token(args.host, args.token)
    args.token = token
    sock = listen(args.host, args.port)
    site = Site()
    try:
        import uvicorn

        app, site = build(args, site)
        port = sock.getsockname()[1]
        host = f"[{args.host}]" if ":" in args.host else args.host
        url = f"http://{host}:{port}/" + (f"?token={token}" if token else "")
        if generated:
            print(f"serve: {args.host} is not loopback, so every request needs a token; this run's token is in the "
                  f"URL below (set --token or ${TOKEN_ENV} to choose one)", file=sys.stderr)

        class Announcing(uvicorn.Server):
            async def startup(self, sockets=None):
                await super().startup(sockets)
                if self.started:
                    print(f"fastsam-video: open {url}  (image page: /image, API docs: /docs)", flush=True)

        # open streams (MJPEG, events) never end by themselves: close them 2 s after Ctrl-C
        try:
            Announcing(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2)).run(sockets=[sock])
        except KeyboardInterrupt:  # uvicorn re-raises the SIGINT it handled (uvicorn.run swallows it too)
            pass
    finally:
        site.close()
        sock.close()
    return 0
