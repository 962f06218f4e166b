"""The desktop window (PyQt6): the only package that imports Qt.

This module itself stays Qt-free so that the command line can register `gui` without
loading Qt; the window lives in `ui.main_window`, the event loop in `ui.app`.

    add_gui_parser(sub)            registers `fastsam-video gui [SOURCE...]` (the `run` options)
    run_window(args, source_spec)  opens the window (on `source_spec` if given, a grid of
                                   cameras for a list of several); exit status
    gui_args(argv)                 the `gui` options parsed from `argv` (defaults for []),
                                   e.g. for `fastsam-video` with no subcommand
    WindowOptions                  what the window is given: the typed model, stream and output
                                   options, the command line's prompts, the state file (--state)
                                   and what it held; `.from_args(namespace)`
                                   at the front end's edge (no Namespace goes further)
"""

from __future__ import annotations

import argparse
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..analytics.geometry import ZoneSet
from ..options import ModelOptions, OutputOptions, StreamOptions, add_stream_options, prompt_set, zone_set

if TYPE_CHECKING:
    from ..tracker import PromptSet
    from .window_persistence import WindowStart


def add_gui_parser(sub) -> argparse.ArgumentParser:
    """Adds the `gui` subcommand to `sub` (an argparse subparsers object); returns it."""
    p = sub.add_parser("gui", help="open the window: click objects to track them, record, snapshot",
                       description="The interactive window on SOURCE (optional: open one from the window). "
                                   "Click an object to track it, drag a box, type a text prompt; F1 lists "
                                   "the shortcuts.")
    p.add_argument("sources", nargs="*", metavar="SOURCE", action=_Sources,
                   help="video file, image folder or glob, webcam index (0), or rtsp:// / http:// URL; "
                        "several: one camera each, shown in a grid")
    p.set_defaults(source=None, sources=[])
    add_stream_options(p)
    p.add_argument("--fast", action="store_true",
                   help="process every frame of a file as fast as the model goes (default in the window: "
                        "files play at their frame rate, like a camera)")
    p.add_argument("--state", default=None, metavar="FILE",
                   help="keep the sources, objects (ids, prompts), zones, everything mode and recording across "
                        "restarts in FILE (the format `serve --state` keeps); the next start opens what it holds "
                        "instead of SOURCE")
    p.set_defaults(func=cmd_gui)
    return p


class _Sources(argparse.Action):
    """SOURCE...: `sources` (the list) and `source` (the first, or None: as before)."""

    def __call__(self, parser, namespace, values, option_string=None):
        values = list(values or [])
        namespace.sources = values
        namespace.source = values[0] if values else None


def cmd_gui(args) -> int:
    sources = list(getattr(args, "sources", None) or [])
    if len(sources) > 1:
        return run_window(args, sources)
    return run_window(args, getattr(args, "source", None))


def gui_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The `gui` command's options parsed from `argv` (all defaults for None / [])."""
    parser = argparse.ArgumentParser(prog="fastsam-video")
    add_gui_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["gui", *(argv or [])])


def complete_args(args: argparse.Namespace | None) -> argparse.Namespace:
    """`args` with every `gui` option it lacks set to its default (the top-level parser's
    namespace, when `fastsam-video` runs without a subcommand, has none of them)."""
    defaults = gui_args([])
    if args is None:
        return defaults
    for key, value in vars(defaults).items():
        if key not in ("func", "command") and not hasattr(args, key):
            setattr(args, key, value)
    return args


@dataclass(frozen=True)
class WindowOptions:
    """The window's options. `prompts`: the command line's objects (everything mode when there
    are none); `everything`: --everything, the user's choice (kept when objects are added);
    `fast`: files play as fast as the model goes instead of at their frame rate."""

    model: ModelOptions = field(default_factory=ModelOptions)
    stream: StreamOptions = field(default_factory=StreamOptions)
    output: OutputOptions = field(default_factory=OutputOptions)
    prompts: PromptSet = field(default_factory=lambda: prompt_set(argparse.Namespace()))  # everything mode
    everything: bool = False
    fast: bool = False
    zones: ZoneSet = field(default_factory=ZoneSet)  # --zone / --line: every camera's at the start
    state_path: Path | None = None  # --state: where the window keeps what the user changes
    start: WindowStart | None = None  # what that file held at the start (None: no file yet)

    @classmethod
    def from_args(cls, args: argparse.Namespace | None) -> WindowOptions:
        """From the `gui` command's namespace (or `run`'s, or the top-level one: missing options
        take their defaults)."""
        from ..state import StateFile, default_path
        from .window_persistence import WindowStart

        args = complete_args(args)
        state_path = getattr(args, "state_path", None) or default_path(getattr(args, "config", None), args.state)
        saved = StateFile(state_path).load() if state_path else None  # a broken file: one line, before Qt
        return cls(model=ModelOptions.from_args(args), stream=StreamOptions.from_args(args),
                   output=OutputOptions.from_args(args), prompts=prompt_set(args), everything=bool(args.everything),
                   fast=bool(args.fast), zones=zone_set(args),
                   state_path=state_path, start=None if saved is None else WindowStart.from_saved(saved))


def window_options(argv: list[str] | None = None) -> WindowOptions:
    """The window's options from `gui` command-line arguments (all defaults for None / [])."""
    return WindowOptions.from_args(gui_args(argv))


def fix_qt_environment() -> None:
    """Undo what importing cv2 does to Qt's environment. opencv-python (which ultralytics
    depends on) points QT_QPA_PLATFORM_PLUGIN_PATH and QT_QPA_FONTDIR at the Qt 5 plugins it
    bundles; PyQt6 then fails to start on X11 ("Could not load the Qt platform plugin "xcb"
    in ".../cv2/qt/plugins" even though it was found"). Call after cv2 is imported and
    before the QApplication is made; values the user set elsewhere are left alone."""
    import cv2  # noqa: F401  (its first import sets the variables: let it happen now)

    found = importlib.util.find_spec("cv2")
    if found is None or not found.origin:
        return
    cv2_dir = os.path.realpath(os.path.dirname(found.origin)) + os.sep
    for name in ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR"):
        value = os.environ.get(name)
        if value and os.path.realpath(value).startswith(cv2_dir):
            del os.environ[name]


def run_window(args: argparse.Namespace | WindowOptions | None, source_spec: str | list[str] | None = None) -> int:
    """Open the window and run the Qt event loop until it is closed; returns the exit status
    (128 + the signal's number after SIGINT / SIGTERM). Raises FastSAMVideoError (one line)
    when there is no display to show it on."""
    from .app import run_window as run

    return run(args, source_spec)


__all__ = ["WindowOptions", "add_gui_parser", "cmd_gui", "complete_args", "fix_qt_environment", "gui_args",
           "run_window", "window_options"]
