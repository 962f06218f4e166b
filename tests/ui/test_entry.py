"""The entry points cli.py wires: add_gui_parser, gui_args, run_window."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap

import pytest

from fastsam_video.types import FastSAMVideoError
from fastsam_video.ui import add_gui_parser, complete_args, gui_args, run_window

from .conftest import CLIP

pytestmark = pytest.mark.qt


def test_gui_parser_takes_the_run_options():
    parser = argparse.ArgumentParser(prog="fastsam-video")
    add_gui_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["gui", "clip.mp4", "--point", "1,2", "--record", "o.mp4", "--device", "cpu", "--fast"])
    assert (args.command, args.source, args.record, args.device, args.fast) == ("gui", "clip.mp4", "o.mp4", "cpu", True)
    assert args.ordered_prompts == [("point", (1.0, 2.0, 1))]
    assert args.func.__name__ == "cmd_gui"
    assert gui_args([]).source is None


def test_complete_args_fills_a_bare_namespace():
    """`fastsam-video` with no subcommand hands over the top-level namespace."""
    args = complete_args(argparse.Namespace(verbose=True, command=None))
    assert args.verbose and args.command is None and args.model is None and args.ordered_prompts == []


def test_no_display_is_a_one_line_error(monkeypatch):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    with pytest.raises(FastSAMVideoError, match="no display"):
        run_window(gui_args([]), None)


def test_run_window_runs_and_exits(tmp_path, ui_segmenter):
    """The real entry point in a process of its own: opens the clip, shows frames, closes."""
    model = str(ui_segmenter.weights)
    script = textwrap.dedent(f"""
        import sys
        from PyQt6.QtCore import QCoreApplication, QSettings, QTimer
        from PyQt6.QtWidgets import QApplication
        QCoreApplication.setOrganizationName("fastsam-video-test")
        QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, {str(tmp_path)!r})
        app = QApplication([])
        from fastsam_video.ui import gui_args, run_window
        from fastsam_video.ui.main_window import MainWindow
        seen = []
        def poll():
            windows = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow)]
            if windows and windows[0].latest_result is not None:
                seen.append(windows[0].latest_result.frame.index)
                windows[0].close()
        timer = QTimer(); timer.timeout.connect(poll); timer.start(100)
        QTimer.singleShot(90_000, app.quit)
        code = run_window(gui_args([{str(CLIP)!r}, "--model", {model!r}, "--imgsz", "320", "--device", "cpu",
                                    "--fast"]), {str(CLIP)!r})
        print("exit", code, "frames", len(seen) > 0)
    """)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", YOLO_VERBOSE="False")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=110)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "exit 0 frames True" in done.stdout
