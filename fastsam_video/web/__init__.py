"""The web app and HTTP API (`fastsam-video serve`): the only package that imports FastAPI.

Importing this package is cheap; FastAPI, uvicorn and the model load when `serve` runs.
"""

from __future__ import annotations

import argparse

from ..options import add_ray_option, add_schedule_options, add_zone_options, positive_float
from ..retention import add_retention_options
from .listener import port_number  # the socket module only: cheap

RECORD_SEGMENT_SECONDS = 600.0  # --record-cameras without --segment-seconds


def serve(args: argparse.Namespace) -> int:
    from .server import serve as run

    return run(args)


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("sources", nargs="*", metavar="SOURCE",
                   help="cameras: files, webcam indexes, rtsp:// URLs (default: the bundled clip in a loop)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; any other needs a token)")
    p.add_argument("--port", type=port_number, default=8000, help="TCP port, 1-65535 (0: any free one; default 8000)")
    p.add_argument("--config", default=None, metavar="site.yaml",
                   help="the site's config file: cameras, their settings, server and model options (flags win)")
    p.add_argument("--state", default=None, metavar="FILE",
                   help="keep cameras, objects, everything mode and recording across restarts in FILE "
                        "(default with --config: NAME.state.json beside it)")
    p.add_argument("--token", default=None,
                   help="access token (default: $FASTSAM_VIDEO_TOKEN; generated and printed off loopback)")
    p.add_argument("--webhook", action="append", default=[], metavar="URL", help="POST each event as JSON here")
    p.add_argument("--mqtt", action="append", default=[], metavar="mqtt://HOST:PORT/TOPIC",
                   help="publish each event as JSON to this MQTT topic")
    p.add_argument("--output", default="output", help="folder for recordings (default ./output)")
    p.add_argument("--events-db", default=None, metavar="PATH",
                   help="the event history (SQLite; snapshots beside it in NAME-snapshots/); default "
                        "events.db beside the state file, else OUTPUT/events.db; 'none' to keep no history")
    p.add_argument("--record-cameras", action="store_true",
                   help="record every camera from its start into --output, in segments of --segment-seconds "
                        f"(default {RECORD_SEGMENT_SECONDS:g} with this flag): the review page's clips")
    p.add_argument("--realtime", action="store_true", help="play files at their frame rate, like cameras")
    p.add_argument("--rtsp-transport", choices=("tcp", "udp"), default="tcp")
    p.add_argument("--open-timeout", type=float, default=5.0, metavar="SECONDS")
    p.add_argument("--read-timeout", type=float, default=5.0, metavar="SECONDS")
    p.add_argument("--clip-model", default="ViT-B/32", help="CLIP model name or .pt file (text prompts)")
    p.add_argument("--max-lost", type=float, default=10.0, metavar="SECONDS",
                   help="how long a lost object is searched for (default 10)")
    p.add_argument("--segment-seconds", type=positive_float, default=None, metavar="N",
                   help="recordings roll to a new file every N seconds (what retention deletes)")
    add_retention_options(p)
    add_zone_options(p)
    add_schedule_options(p)
    add_ray_option(p)

