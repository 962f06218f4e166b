"""`fastsam-video serve`: load the model once, open the cameras, run uvicorn, print the URL."""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path

from .. import assets
from ..prompts import ClipEncoder
from ..sources import FrameSource, LoopingSource

log = logging.getLogger(__name__)

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
        return LoopingSource(DEMO_CLIP) if spec == DEMO_SPEC else open_camera(spec, stream)
    return open_one


def build(args):
    """(app, live service, outlets) from the parsed `serve` arguments."""
    from ..factory import build_pipeline
    from ..options import ModelOptions, OutputOptions, StreamOptions
    from .app import create_app
    from .imaging import ImageSegmenter
    from .outlets import EventBus, open_outlets
    from .service import LiveService

    model = ModelOptions.from_args(args)
    stream = replace(StreamOptions.from_args(args), queue_size=2)  # a click refers to the frame on screen
    outlets = open_outlets(args.webhook, args.mqtt)
    bus = EventBus()
    for outlet in outlets:
        bus.subscribe(outlet.offer)
    try:
        if getattr(args, "ray", None):  # the cameras and the model on a Ray cluster
            from ..cluster import cluster_pipeline

            pipeline = cluster_pipeline(args.ray, [], model, stream, OutputOptions(), stay_open=True)
        else:
            pipeline = build_pipeline([], model, stream, OutputOptions(), stay_open=True)
        live = LiveService(pipeline, source_opener(stream, ray=bool(getattr(args, "ray", None))),
                           output_dir=args.output, bus=bus)
        try:
            for spec in args.sources or [DEMO_SPEC]:
                live.add_camera(spec)
        except BaseException:
            live.close()
            raise
    except BaseException:
        for outlet in outlets:
            outlet.close()
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
