"""Blocking queue hand-offs between the project's threads that give up once a stop Event is set:
every wait has a timeout, so no thread hangs on a queue its partner has left."""

from __future__ import annotations

import queue
import threading
from typing import Any

POLL_SECONDS = 0.1  # how soon a waiting thread notices the stop Event
STOPPED = object()  # what `get_until_stopped` returns once stopping


def put_until_stopped(q: queue.Queue, item: Any, stop: threading.Event) -> bool:
    """Put `item`, waiting for room; False if `stop` was set first (the item is not queued)."""
    while not stop.is_set():
        try:
            q.put(item, timeout=POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False


def get_until_stopped(q: queue.Queue, stop: threading.Event) -> Any:
    """The next item, waiting for one; STOPPED if `stop` was set first."""
    while not stop.is_set():
        try:
            return q.get(timeout=POLL_SECONDS)
        except queue.Empty:
            continue
    return STOPPED
