"""The Qt application around MainWindow: `run_window(args, source_spec) -> exit status`."""

from __future__ import annotations

import os
import signal
import sys

from ..types import FastSAMVideoError
from . import add_gui_parser, complete_args, fix_qt_environment  # noqa: F401  (add_gui_parser: here too)


def has_display() -> bool:
    if os.environ.get("QT_QPA_PLATFORM"):  # offscreen, vnc, eglfs...: the user chose
        return True
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_window(args, source_spec: str | list[str] | None = None) -> int:
    if not has_display():
        raise FastSAMVideoError("no display to open the window on (DISPLAY is not set): run headless with "
                                "`fastsam-video run SOURCE`, or set QT_QPA_PLATFORM=offscreen")
    args = complete_args(args)
    fix_qt_environment()
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    from .main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "fastsam-video"])
    app.setApplicationName("fastsam-video")
    app.setOrganizationName("fastsam-video")
    window = MainWindow(args)
    window.show()
    if isinstance(source_spec, (list, tuple)):
        window.open_sources(list(source_spec))
    elif source_spec:
        window.open_source(source_spec)
    # Ctrl-C in the terminal closes the window (and so finalises a recording); Python only runs
    # its signal handlers between bytecodes, so wake the interpreter now and then.
    previous = signal.signal(signal.SIGINT, lambda *_: window.close())
    wake = QTimer()
    wake.timeout.connect(lambda: None)
    wake.start(200)
    try:
        app.exec()
    finally:
        wake.stop()
        signal.signal(signal.SIGINT, previous)
        window.shutdown()
    return 0
