"""The Qt application around MainWindow: `run_window(args, source_spec) -> exit status`.

SIGTERM and SIGINT (also when SIGINT was ignored at start, as in a background job of a
script) close the window gracefully: the pipeline stops and its recordings and exports are
finalised, then the app exits with 128 + the signal number (143 for SIGTERM, 130 for
SIGINT). A second signal while closing exits at once with the same status.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from typing import Callable

from ..service import SIGNALS, GracefulStop, exit_code
from ..types import FastSAMVideoError
from . import WindowOptions, add_gui_parser, fix_qt_environment  # noqa: F401  (add_gui_parser: here too)
from .x11_libraries import check_x11_libraries


SIGNAL_STOP_SECONDS = 8.0  # after a signal, the longest wait for a worker (a model still loading)


def has_display() -> bool:
    if os.environ.get("QT_QPA_PLATFORM"):  # offscreen, vnc, eglfs...: the user chose
        return True
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class SignalStop:
    """Delivers SIGINT / SIGTERM to the Qt event loop: `stop(signum)` runs on the UI thread.

    `service.GracefulStop` installs the handlers (a second signal exits at once, even while
    `stop` is still closing). Python runs handlers only between bytecodes, and the Qt loop
    runs in C++ for as long as nothing happens; so the C-level handler's wake-up byte
    (`signal.set_wakeup_fd`) goes to a socket that a QSocketNotifier watches, and the loop
    wakes at once. `close()` restores the previous handlers and wake-up fd."""

    def __init__(self, stop: Callable[[int], None]):
        from PyQt6.QtCore import QSocketNotifier

        self._stop = stop
        self._stopping = False
        self.graceful = GracefulStop().__enter__()
        self._read, self._write = socket.socketpair()
        for end in (self._read, self._write):
            end.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._write.fileno(), warn_on_full_buffer=False)
        self._notifier = QSocketNotifier(self._read.fileno(), QSocketNotifier.Type.Read)
        self._notifier.activated.connect(self._wake)

    def _wake(self, *_: object) -> None:
        try:
            data = self._read.recv(64)
        except (BlockingIOError, InterruptedError):
            return
        # the Python handler has normally run by now; the wake-up byte is the signal's number
        signum = self.graceful.signal or next((n for n in data if n in SIGNALS), None)
        if signum is not None and not self._stopping:
            self._stopping = True
            self._stop(signum)

    def close(self) -> None:
        self._notifier.setEnabled(False)
        signal.set_wakeup_fd(self._previous_fd)
        self.graceful.__exit__(None, None, None)
        self._read.close()
        self._write.close()


def run_window(options, source_spec: str | list[str] | None = None) -> int:
    """`options`: a WindowOptions, or the command line's namespace (converted here, once)."""
    if not has_display():
        raise FastSAMVideoError("no display to open the window on (DISPLAY is not set): run headless with "
                                "`fastsam-video run SOURCE`, or set QT_QPA_PLATFORM=offscreen")
    if not isinstance(options, WindowOptions):
        options = WindowOptions.from_args(options)
    fix_qt_environment()
    check_x11_libraries()  # Qt would abort (SIGABRT) without them: one line and status 2 instead
    from PyQt6.QtWidgets import QApplication

    from .main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "fastsam-video"])
    app.setApplicationName("fastsam-video")
    app.setOrganizationName("fastsam-video")
    window = MainWindow(options)
    status = 0

    def stop(signum: int) -> None:
        nonlocal status
        status = exit_code(signum)
        print(f"fastsam-video: {signal.Signals(signum).name}: closing the window", file=sys.stderr, flush=True)
        window.shutdown(SIGNAL_STOP_SECONDS)  # stops the pipeline: recordings and exports are finalised
        window.close()
        app.exit(status)  # also ends a dialog's nested loop

    signals = SignalStop(stop)
    try:
        window.show()
        if window.restore_state():  # --state: the saved sources, objects and settings
            pass
        elif isinstance(source_spec, (list, tuple)):
            window.open_sources(list(source_spec))
        elif source_spec:
            window.open_source(source_spec)
        app.exec()
    finally:
        signals.close()
        window.shutdown()
    return status
