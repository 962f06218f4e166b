"""A per-zone cooldown for outlets (webhook, MQTT): after a zone event goes out, the same kind
of event from the same camera and zone is held back for the zone's `cooldown` seconds (like
Roboflow's webhook sink). Events of other kinds, and the SSE stream and `--events` file, are
never held back."""

from __future__ import annotations

import threading
from typing import Callable

from ..events import ZONE_KINDS, Event


class OutletCooldown:
    """`allow(event)`: whether an outlet should send it. `cooldown_of(camera, zone)`: the zone's
    seconds (0 = send every event)."""

    def __init__(self, cooldown_of: Callable[[int, str], float] | None = None):
        self.cooldown_of = cooldown_of or (lambda camera, zone: 0.0)
        self.held_back = 0
        self._last: dict[tuple[int, str, str], float] = {}
        self._lock = threading.Lock()

    def allow(self, event: Event) -> bool:
        if event.kind not in ZONE_KINDS or event.zone is None:
            return True
        seconds = self.cooldown_of(event.camera, event.zone)
        if seconds <= 0:
            return True
        key = (event.camera, event.zone, event.kind.value)
        with self._lock:
            last = self._last.get(key)
            if last is not None and event.wall_time - last < seconds:
                self.held_back += 1
                return False
            self._last[key] = event.wall_time
        return True
