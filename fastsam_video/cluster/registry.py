"""The registry: one named actor that holds what must outlive a camera actor.

A camera moved to another node (a spare actor there adopts it) starts with nothing in
memory; it asks the registry for its prompts (and so its object ids), its recording, the
segments written so far (a file camera resumes after the last frame they hold) and how many
times it has run. The registry also keeps the event log every front end reads.
It lives on the driver's node: losing that node loses the cluster's head anyway.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field, replace

import ray

from ..analytics.geometry import ZoneSet
from ..events import Event
from ..tracker import PromptSet


@dataclass(frozen=True)
class CameraState:
    """What a camera actor reloads when it (re)starts."""

    prompts: PromptSet = PromptSet(everything=True)  # objects found by a detect_new zone included
    zones: ZoneSet = ZoneSet()  # its zones and lines (their counts start afresh on another node)
    recording: str | None = None  # the file asked for (a restart records to NAME-runNN.mp4)
    segments: tuple[str, ...] = ()  # recording files written, oldest first
    frames_done: int = 0  # frames finished (file cameras without a recording resume here)
    runs: int = 0  # how many times the actor started (1 = first run)
    node_id: str = ""
    finished: bool = False


@dataclass
class _Log:
    events: collections.deque = field(default_factory=lambda: collections.deque(maxlen=10_000))
    total: int = 0  # events ever published; readers page with `since`


@ray.remote(num_cpus=0, max_restarts=0)
class Registry:
    def __init__(self):
        self._cameras: dict[int, CameraState] = {}
        self._log = _Log()

    def add(self, camera: int, prompts: PromptSet, recording: str | None, zones: ZoneSet = ZoneSet()) -> None:
        self._cameras[camera] = CameraState(prompts=prompts, recording=recording, zones=zones)

    def remove(self, camera: int) -> None:
        self._cameras.pop(camera, None)

    def join(self, camera: int, node_id: str) -> CameraState:
        """A camera actor starts (or restarts): count the run, note its node, return its state."""
        state = self._cameras[camera]
        self._cameras[camera] = replace(state, runs=state.runs + 1, node_id=node_id)
        return self._cameras[camera]

    def state(self, camera: int) -> CameraState:
        return self._cameras[camera]

    def update(self, camera: int, **changes) -> None:
        """prompts=, zones=, recording=, frames_done=, finished= (a removed camera's late news is ignored)."""
        if camera in self._cameras:
            self._cameras[camera] = replace(self._cameras[camera], **changes)

    def add_segment(self, camera: int, path: str) -> None:
        if camera in self._cameras:
            state = self._cameras[camera]
            self._cameras[camera] = replace(state, segments=state.segments + (path,))

    def publish(self, events: list[Event]) -> None:
        self._log.events.extend(events)
        self._log.total += len(events)

    def events(self, since: int = 0) -> tuple[int, list[Event]]:
        """Events after the first `since` ever published (older ones may have left the log)
        and the count to pass next time."""
        log = self._log
        kept_from = log.total - len(log.events)
        return log.total, list(log.events)[max(since - kept_from, 0):]
