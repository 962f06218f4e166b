"""`fastsam-video annotate FILE`: the file player in a window of its own (Qt loads only when it
opens). Prompts clicked on any frame are saved on close as a `run --prompts` file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..engines import open_engine
from ..options import ModelOptions, add_model_options
from ..types import FastSAMVideoError


def add_annotate_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("annotate", help="step through a video file and prompt on any frame",
                       description="A video file frame by frame: Space plays / pauses, Left / Right step one "
                                   "frame, the bar seeks (exact, also for variable frame rates). A click prompts "
                                   "an object on the shown frame (Shift+click: one more point, right click: a "
                                   "background point); the prompts are saved on close, for "
                                   "`fastsam-video run FILE --prompts PROMPTS.json`.")
    p.add_argument("file", metavar="FILE", help="a video file")
    p.add_argument("--save-prompts", type=Path, default=None, metavar="FILE.json",
                   help="where the prompts go on close (default: beside the video, NAME.prompts.json)")
    add_model_options(p)
    p.set_defaults(func=cmd_annotate)
    return p


def cmd_annotate(args) -> int:
    from . import fix_qt_environment
    from .app import has_display

    video = Path(args.file)
    if not video.is_file():
        raise FastSAMVideoError(f"{video}: no such file (give a video file)")
    if not has_display():
        raise FastSAMVideoError("no display to open the window on (DISPLAY is not set); set QT_QPA_PLATFORM=offscreen")
    from ..sources.seeking import SeekableVideo

    SeekableVideo(video).close()  # not a video: one line now, before the model loads
    fix_qt_environment()
    from PyQt6.QtWidgets import QApplication

    from .file_player import FilePlayer

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "fastsam-video"])
    player = FilePlayer(video, open_engine(ModelOptions.from_args(args)))
    player.setWindowTitle(f"fastsam-video annotate: {video.name}")
    player.resize(1000, 700)
    player.show()
    app.exec()
    if player.review.entries:
        path = player.review.save_prompts(args.save_prompts or video.with_suffix(".prompts.json"))
        print(f"prompts saved: {path}\ntrack them: fastsam-video run {video} --prompts {path}", flush=True)
    return 0
