"""One base for the project's worker threads: start, error capture, re-raise `from`, join with a
deadline. Capture, the pipeline's inference and results loops and the sinks all run on it."""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from .errors import FastSAMVideoError

log = logging.getLogger(__name__)


def reason(err: BaseException) -> str:
    """The error's own text, or its type's name when it has none."""
    return str(err) or type(err).__name__


def reraise(err: BaseException, wrap: type[FastSAMVideoError], what: str) -> None:
    """Raise a worker's error in the consumer, the original as `__cause__`: a FastSAMVideoError
    keeps its one-line message; anything else becomes `wrap("{what}: Type: text")`."""
    if isinstance(err, FastSAMVideoError):
        raise type(err)(str(err)) from err
    raise wrap(f"{what}: {type(err).__name__}: {reason(err)}") from err


class Worker:
    """Runs `target()` on a daemon-free thread named `name`. An exception escaping `target` is
    stored in `error` (the first one wins) and `on_error` is called with it; the consumer re-raises
    it with `raise_error`. `join(deadline)` never waits past the deadline and says whether the
    thread ended. Create, then `start()`."""

    def __init__(self, target: Callable[[], None], *, name: str,
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        self.name = name
        self.error: BaseException | None = None
        self._target = target
        self._on_error = on_error
        self._thread = threading.Thread(target=self._run, name=name)

    def start(self) -> Worker:
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def started(self) -> bool:
        return self._thread.ident is not None

    def _run(self) -> None:
        try:
            self._target()
        except BaseException as err:  # stored; re-raised in the consumer
            if self.error is None:
                self.error = err
            if self._on_error is not None:
                self._on_error(err)

    def join(self, timeout: float | None = None, *, deadline: float | None = None) -> bool:
        """Waits up to `timeout` seconds (or until the monotonic `deadline`); True once ended."""
        if not self.started:
            return True
        if deadline is not None:
            timeout = max(0.0, deadline - time.monotonic())
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("the %s thread did not stop in time", self.name)
            return False
        return True

    def raise_error(self, wrap: type[FastSAMVideoError], what: str) -> None:
        """Re-raises the stored error once (see `reraise`); nothing if there is none."""
        err, self.error = self.error, None
        if err is not None:
            reraise(err, wrap, what)
