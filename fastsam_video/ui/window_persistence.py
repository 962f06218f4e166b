"""The window's state file (`gui --state FILE`, default beside `--config`), without Qt.

What the user changes in the window (the sources open, each camera's objects with their ids and
prompts, everything mode, zones, recording on / off) is written to the same file, in the same
format, as `serve` keeps (`state.StateFile`: atomic, a kill -9 leaves the previous or the new
state): camera i of the window is saved camera id i, its source as given. At the next start the
saved cameras are opened instead of the command line's SOURCEs (as `serve` does: the command line
is used only when there is no state yet), with their objects, zones and recording.

`WindowStart.from_saved` reads a saved state; `window_snapshot` makes one; `StateWriter` writes
them off the UI thread, debounced (a burst of edits is one write), and flushes the last one on
`close()`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Sequence

from ..analytics.geometry import ZoneSet
from ..errors import FastSAMVideoError
from ..state import SavedCamera, SavedState, StateFile, prompt_config, prompt_set
from ..tracker import PromptSet
from ..workers import Worker, reason

log = logging.getLogger(__name__)

WRITE_DELAY = 0.3  # seconds: edits closer together than this are written once


@dataclass(frozen=True)
class CameraStart:
    """One saved camera as the window reopens it."""

    spec: str
    prompts: PromptSet
    zones: ZoneSet | None  # None: none saved (the command line's --zone / --line apply)
    recording: bool


@dataclass(frozen=True)
class WindowStart:
    """What a saved state gives the window at its start; `cameras` may be empty (the user closed
    the source: the window opens none)."""

    cameras: tuple[CameraStart, ...]

    @property
    def specs(self) -> list[str]:
        return [c.spec for c in self.cameras]

    @property
    def everything_explicit(self) -> bool:
        """Everything mode was set against the rule (on while no object, off once there is one):
        the user chose it, and it stays chosen."""
        return any(c.prompts.everything != (not c.prompts.objects) for c in self.cameras)

    @classmethod
    def from_saved(cls, saved: SavedState) -> WindowStart:
        """The saved cameras in id order. A camera saved by `serve --config` (known by its name,
        its source in the config) cannot open in the window: it is left out, with a warning. Zones
        that do not read back (a file edited by hand) are left out too: the camera opens without."""
        cameras = []
        for cam in sorted(saved.cameras, key=lambda c: c.id):
            if not cam.source:
                log.warning("camera %d (%s) of the state file has its source in a config file: not opened in the "
                            "window", cam.id, cam.name)
                continue
            zones = None
            if cam.zones:
                try:
                    zones = ZoneSet.from_list(cam.zones)
                except FastSAMVideoError as err:
                    log.error("camera %d: its zones are not restored: %s", cam.id, reason(err))
            cameras.append(CameraStart(cam.source, prompt_set(cam.objects, cam.everything), zones, cam.recording))
        return cls(tuple(cameras))


def window_snapshot(specs: Sequence[str], prompts: Sequence[PromptSet], recording: Sequence[bool],
                    zones: Sequence[ZoneSet | None]) -> SavedState:
    """The window's state: camera i (`specs[i]`) with its prompts, recording and zones."""
    cameras = []
    for i, spec in enumerate(specs):
        prompt = prompts[i] if i < len(prompts) else PromptSet()
        zone = zones[i] if i < len(zones) else None
        cameras.append(SavedCamera(id=i, source=spec, everything=prompt.everything,
                                   objects=[prompt_config(p) for p in prompt.objects],
                                   recording=bool(recording[i]) if i < len(recording) else False,
                                   zones=zone.to_list() if zone is not None else []))
    return SavedState(cameras=cameras)


class StateWriter:
    """Writes the newest submitted state to `state` on a worker thread, `delay` seconds after the
    first change of a burst; the UI thread only hands over a snapshot. A write that fails (a full
    disk) is logged and the next change tries again; `close()` writes what is pending and stops."""

    def __init__(self, state: StateFile, delay: float = WRITE_DELAY):
        self.state, self.delay = state, delay
        self.failures = 0
        self._pending: SavedState | None = None
        self._lock = threading.Lock()  # the pending state (held for an instant: the UI thread takes it)
        self._writing = threading.Lock()  # take and write together: an older state never follows a newer
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._worker = Worker(self._run, name="window state writer").start()

    def submit(self, saved: SavedState) -> None:
        with self._lock:
            self._pending = saved
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._wake.wait(timeout=1.0):
                continue
            self._stop.wait(self.delay)  # the rest of the burst (close() cuts it short)
            self._wake.clear()
            self._write()

    def _write(self) -> None:
        with self._writing:
            with self._lock:
                saved, self._pending = self._pending, None
            if saved is None:
                return
            try:
                self.state.save(saved)
            except OSError as err:
                self.failures += 1
                log.error("cannot write the state file %s: %s", self.state.path, reason(err))

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._worker.join(timeout)
        self._write()
