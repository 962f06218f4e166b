"""Stopping like a service: SIGINT and SIGTERM ask for a graceful stop, a second one exits at once.

    with GracefulStop() as stop:          # installs its own handlers, also where SIGINT was
        ...                               # ignored at start (`cmd &` in a script)
        while not done and not stop.requested.is_set(): ...
    code = stop.exit_code                 # 130 after SIGINT, 143 after SIGTERM, else None

Handlers are installed only from the main thread (Python's rule) and restored on exit.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Callable

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def exit_code(signum: int) -> int:
    """The shell's convention: 128 + the signal's number (SIGINT 130, SIGTERM 143)."""
    return 128 + int(signum)


class GracefulStop:
    """The first SIGINT / SIGTERM sets `requested` (and calls `on_signal(signum)`); the second
    writes one line and exits at once with 128 + its number (`os._exit`: nothing more runs)."""

    def __init__(self, on_signal: Callable[[int], None] | None = None, signals: tuple[int, ...] = SIGNALS):
        self.requested = threading.Event()
        self.signal: int | None = None
        self._on_signal = on_signal
        self._signals = signals
        self._previous: dict[int, object] = {}

    @property
    def exit_code(self) -> int | None:
        return None if self.signal is None else exit_code(self.signal)

    @property
    def name(self) -> str | None:
        return None if self.signal is None else signal.Signals(self.signal).name

    def _handle(self, signum: int, frame) -> None:
        if self.signal is not None:
            os.write(2, f"fastsam-video: {signal.Signals(signum).name} again: exiting now\n".encode())
            os._exit(exit_code(signum))
        self.signal = signum
        self.requested.set()
        if self._on_signal is not None:
            self._on_signal(signum)

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for signum in self._signals:
                self._previous[signum] = signal.signal(signum, self._handle)  # unconditionally: SIG_IGN too
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()


__all__ = ["GracefulStop", "exit_code"]
