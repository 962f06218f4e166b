"""A thread per sink, so a slow disk never stalls inference, and a failed sink fails alone."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any, Callable

from ..queues import STOPPED, get_until_stopped
from ..types import RecordingError
from ..workers import Worker, reraise

_END = object()  # queued by close(): everything before it is written first


class SinkThread:
    """Runs `sink_write(*args)` for each `put(*args)` on its own `Worker` thread, from a bounded queue.
    The thread starts at the first `put` (set-up that fails before any frame leaves no thread).

    `block=True` (files: completeness wins): `put` waits for room. `block=False` (live:
    the inference loop must never stall on a slow writer): `put` drops the item when the
    queue is full, counts it in `dropped` and returns False.

    A failure in the writer (disk full, file removed) ends this sink only: `failed` turns True,
    `error` keeps the original exception, and it is raised once, as a one-line RecordingError
    with the original as `__cause__`, by the next `put` or by `close()`, whichever comes first.
    After that `put` raises no more: it returns False and counts the item in `dropped`, so a
    caller that logged the error can go on with its other sinks (or drop this one).
    `close()` writes what is queued, then joins. Arguments are queued as given, not copied: do
    not modify an array after putting it."""

    def __init__(self, sink_write: Callable[..., Any], *, name: str, maxsize: int = 32, block: bool = True) -> None:
        self.name = name
        self.block = block
        self.written = 0
        self.dropped = 0
        self._write = sink_write
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, maxsize))
        self._stop = threading.Event()
        self._closed = False
        self._reported = False
        self._worker = Worker(self._run, name=f"sink {name}")  # started by the first put

    @property
    def error(self) -> BaseException | None:
        """The writer's original exception, once it failed."""
        return self._worker.error

    @property
    def failed(self) -> bool:
        return self._worker.error is not None

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def put(self, *args: Any) -> bool:
        """Queues one write; False if it was dropped (queue full in non-blocking mode, or the sink failed)."""
        if self.failed:
            self._report()
            self.dropped += 1
            return False
        if self._closed:
            raise RecordingError(f"{self.name} is closed (no writes after close())")
        if not self._worker.started:
            self._worker.start()
        if not self.block:
            try:
                self._queue.put_nowait(args)
                return True
            except queue.Full:
                self.dropped += 1
                return False
        while not self._stop.is_set():
            try:
                self._queue.put(args, timeout=0.1)
                return True
            except queue.Full:
                if self.failed:  # a failed writer never frees a slot
                    return self.put(*args)
        raise RecordingError(f"{self.name} was stopped (no writes after close())")

    def _run(self) -> None:
        while True:
            item = get_until_stopped(self._queue, self._stop)
            if item is _END or item is STOPPED:
                return
            self._write(*item)  # an error ends the thread; the Worker keeps it for put / close
            self.written += 1

    def _report(self) -> None:
        """Raises the writer's error the first time it is asked; nothing after that."""
        err = self._worker.error
        if err is not None and not self._reported:
            self._reported = True
            reraise(err, RecordingError, f"{self.name} failed")

    def close(self, timeout: float = 10.0) -> None:
        """Writes what is queued (up to `timeout` seconds), then stops the thread; raises the
        writer's error if no `put` did."""
        if not self._closed:
            self._closed = True
            deadline = time.monotonic() + timeout
            while self._worker.alive and time.monotonic() < deadline:  # never started: nothing to wait for
                try:
                    self._queue.put(_END, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if not self._worker.join(deadline=deadline):
                self._stop.set()
                self._worker.join(1.0)
                if not self.failed:
                    raise RecordingError(f"{self.name} did not finish writing within {timeout:g} s; "
                                         f"{self.pending} queued writes were lost (the disk may be too slow)")
        self._report()

    def __enter__(self) -> SinkThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
