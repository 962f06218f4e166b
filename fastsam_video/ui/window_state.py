"""What the window knows and how it words it, without Qt.

`WindowState` holds one `WindowCamera` per camera (its prompts, object states, notes from the
tracker's typed events, newest results), which camera is selected, and the rule that
everything mode follows the objects until the user sets it. The functions below turn
pipeline snapshots, connection states and recordings into the texts the panels show. The
window (`main_window`) only wires these to widgets; everything here is unit-tested without
a display (`tests/ui/test_window_state.py`).
"""

from __future__ import annotations

from dataclasses import replace
from enum import Enum
from pathlib import Path

from ..events import CameraState, Event, EventKind, ObjectState
from ..pipeline import CameraStatus, Result, StatsSnapshot
from ..tracker import ObjectPrompt, ObjectStatus, PromptSet
from .prompting import BACKGROUND, PromptEditor


class Note(str, Enum):
    """What the object list says of an object without a status in the newest result."""

    PENDING = "pending"  # prompt sent, no result for it yet
    NOT_FOUND = "not found"
    DROPPED = "dropped"
    WAITING = "waiting for a source"

    def __str__(self) -> str:
        return self.value


# the note an object keeps after its last event was one of these (any other event clears it)
EVENT_NOTES = {EventKind.OBJECT_NOT_FOUND: Note.NOT_FOUND, EventKind.OBJECT_DROPPED: Note.DROPPED}

Row = tuple[int, str, str, str]  # object id, prompt kind, prompt detail (tooltip), state


def prompt_text(prompt: ObjectPrompt) -> tuple[str, str]:
    """(short kind, tooltip) for the object list."""
    if prompt.points:
        fg = sum(prompt.labels)
        bg = len(prompt.labels) - fg
        return (f"points ({fg}+{bg})" if bg else f"points ({fg})",
                " ".join(f"({x:g},{y:g}){'' if label else ' bg'}"
                         for (x, y), label in zip(prompt.points, prompt.labels, strict=True)))
    if prompt.box is not None:
        return "box", "box " + ",".join(f"{v:g}" for v in prompt.box)
    return f'text "{prompt.text}"', f'text "{prompt.text}"'


def state_text(status: ObjectStatus | None, note: Note | None, running: bool) -> str:
    """An object's state in the list: the newest result's status, else its note."""
    if status is not None:
        return f"lost ({status.frames_lost} frames)" if status.state is ObjectState.LOST else status.state.value
    if note is not None:
        return str(note)
    return str(Note.PENDING if running else Note.WAITING)


class WindowCamera:
    """What the window keeps per camera: its prompts, object states and newest results."""

    def __init__(self, prompts: PromptSet):
        self.editor = PromptEditor(prompts)
        self.statuses: dict[int, ObjectStatus] = {}
        self.notes: dict[int, Note] = {}
        self.latest: Result | None = None
        self.pending: Result | None = None  # newest result not yet shown
        self.events: list[Event] = []  # of the results dropped unseen since the last one shown
        self.error: str | None = None  # the camera failed (the others go on)

    def receive(self, result: Result) -> None:
        """A result came (worker order): the newest wins, the events of those it replaces stay."""
        self.events.extend(result.events)
        self.pending = result

    def show_pending(self) -> tuple[Result, list[Event]] | None:
        """Make the pending result the latest; returns it with every event since the last shown."""
        result, self.pending = self.pending, None
        if result is None:
            return None
        self.latest = result
        self.statuses = {s.object_id: s for s in result.objects}
        events, self.events = self.events, []
        for event in events:
            if event.object_id is None:
                continue
            note = EVENT_NOTES.get(event.kind)
            if note is not None:
                self.notes[event.object_id] = note
            else:
                self.notes.pop(event.object_id, None)
        return result, events

    def rows(self, running: bool) -> list[Row]:
        """The object list, by id; `running`: a pipeline is on (else objects wait for a source)."""
        rows = []
        for prompt in sorted(self.editor.prompts.objects, key=lambda o: o.object_id):
            kind, detail = prompt_text(prompt)
            state = state_text(self.statuses.get(prompt.object_id), self.notes.get(prompt.object_id), running)
            rows.append((prompt.object_id, kind, detail, state))
        return rows

    def reset(self, keep_latest: bool) -> None:
        """A new pipeline: no status, note or error carries over."""
        self.statuses, self.notes, self.error = {}, {}, None
        if not keep_latest:
            self.latest = None


class WindowState:
    """The cameras, the selected one and the prompt editing rules (`edit_*` return the object id
    and the status-bar line; a PromptError propagates with its one-line message)."""

    def __init__(self, prompts: PromptSet, *, everything_explicit: bool = False):
        self.cams = [WindowCamera(prompts)]
        self.camera = 0  # the selected camera: the object list, recording and snapshots act on it
        self.everything_explicit = everything_explicit  # set by the user (or --everything): kept

    @property
    def cam(self) -> WindowCamera:
        return self.cams[self.camera]

    @property
    def editor(self) -> PromptEditor:
        return self.cam.editor

    @property
    def prompts(self) -> PromptSet:
        return self.cam.editor.prompts

    @property
    def several(self) -> bool:
        return len(self.cams) > 1

    def select(self, camera: int) -> bool:
        """Select `camera`; True if the selection changed."""
        if not 0 <= camera < len(self.cams) or camera == self.camera:
            return False
        self.camera = camera
        return True

    def set_cameras(self, count: int, keep: bool) -> None:
        """One WindowCamera per source; `keep`: the prompts stay (same sources, or prompts made
        before the first source: copied to every camera)."""
        first = self.cams[0].editor.prompts
        if len(self.cams) == count:
            cams = self.cams
            if not keep:
                for cam in cams:
                    cam.editor.clear()  # ids keep growing: a new object never takes an old colour
        elif keep:
            cams = [WindowCamera(first) for _ in range(count)]
        else:
            cams = [WindowCamera(replace(first, objects=())) for _ in range(count)]
        for cam in cams:
            cam.reset(keep_latest=keep)
        self.cams = cams
        self.camera = 0

    # -------------------------------------------------------------- prompt edits (the selected camera)
    def _made(self, object_id: int) -> int:
        self.cam.notes[object_id] = Note.PENDING
        self.follow_everything_rule()
        return object_id

    def shown_pts(self) -> float | None:
        """The time of the frame the window shows: a prompt drawn on it is resolved on it."""
        latest = self.cam.latest
        if latest is None:
            return None
        return latest.frame.pts if latest.frame.pts is not None else latest.frame.t_capture

    def edit_click(self, x: float, y: float, gesture: str, selected: int | None) -> tuple[int, str]:
        object_id = self._made(self.editor.click(x, y, gesture, selected, pts=self.shown_pts()))
        label = "background point" if gesture == BACKGROUND else "point"
        return object_id, f"object {object_id}: {label} at ({x:.0f}, {y:.0f})"

    def edit_box(self, x1: float, y1: float, x2: float, y2: float) -> tuple[int, str]:
        object_id = self._made(self.editor.box(x1, y1, x2, y2, pts=self.shown_pts()))
        return object_id, f"object {object_id}: box ({x1:.0f}, {y1:.0f}) – ({x2:.0f}, {y2:.0f})"

    def edit_text(self, text: str) -> tuple[int, str]:
        object_id = self._made(self.editor.text(text))
        return object_id, f'object {object_id}: looking for "{text.strip()}" (the first text prompt loads CLIP)'

    def remove(self, object_id: int) -> str:
        self.editor.remove(object_id)
        self.cam.notes.pop(object_id, None)
        self.follow_everything_rule()
        return f"object {object_id} removed"

    def clear(self) -> str:
        self.editor.clear()
        self.cam.notes.clear()
        self.follow_everything_rule()
        return "all objects cleared"

    def set_everything(self, on: bool) -> None:
        """The user's choice (E, the button): kept from now on."""
        self.everything_explicit = True
        self.editor.set_everything(on)

    def follow_everything_rule(self) -> None:
        """Until the user sets it, everything mode follows the command line's rule: on while
        there is no object, off once there is one."""
        want = not self.editor.prompts.objects
        if not self.everything_explicit and self.editor.prompts.everything != want:
            self.editor.set_everything(want)

    # -------------------------------------------------------------- results
    def receive(self, result: Result) -> bool:
        """A result of the running pipeline; False if its camera is unknown (ignored)."""
        camera = result.camera
        if not 0 <= camera < len(self.cams):
            return False
        self.cams[camera].receive(result)
        return True

    def status_line(self, camera: int, events: list[Event]) -> str | None:
        """The status bar's line for the events of a result shown on `camera` (None: nothing to
        say, or another camera than the selected one of several)."""
        if not events or (self.several and camera != self.camera):
            return None
        prefix = f"camera {camera + 1}: " if self.several else ""
        return prefix + " · ".join(e.message() for e in events[-3:])


# ------------------------------------------------------------------ texts for the panels
STAT_TITLES = (("capture", "Capture"), ("inference", "Inference"), ("display", "Display"),
               ("latency", "Latency"), ("dropped", "Dropped"), ("device", "Device"), ("source", "Source"))


def stats_texts(snap: StatsSnapshot | None) -> dict[str, str]:
    """The Performance panel's values ("–" without a snapshot), all but `source`."""
    if snap is None:
        return {key: "–" for key, _ in STAT_TITLES if key != "source"}
    return {
        "capture": f"{snap.capture_fps:.1f} fps",
        "inference": f"{snap.inference_fps:.1f} fps  ({snap.frames} frames)",
        "display": f"{snap.display_fps:.1f} fps",
        "latency": f"p50 {snap.latency_p50 * 1e3:.0f} ms · p95 {snap.latency_p95 * 1e3:.0f} ms",
        "dropped": f"{snap.dropped}" + (f" (+{snap.sink_dropped} by the recorder)" if snap.sink_dropped else ""),
        "device": f"{snap.device} · {snap.precision}",
    }


def source_text(status: CameraStatus, kind: str, cameras: int) -> str:
    """The Performance panel's Source line for the selected camera (`kind`: "file", "camera",
    "stream"... as `source_dialog.kind_of` names its spec)."""
    prefix = f"camera {status.camera + 1}: " if cameras > 1 else ""
    if status.state is CameraState.FAILED:
        return prefix + "failed"
    connection = status.connection
    if connection is not None:
        return prefix + str(connection.state) + (f" ({connection.reconnects} reconnects)"
                                                 if connection.reconnects else "")
    if kind == "file" and status.live:
        return prefix + "file, real time"
    return prefix + kind


def tile_text(status: CameraStatus) -> str:
    """One tile's stats line (several cameras)."""
    if status.state is CameraState.FAILED:
        return "failed"
    snap = status.stats
    parts = [f"{snap.inference_fps:.1f} fps", f"latency {snap.latency_p50 * 1e3:.0f} ms", f"{snap.frames} frames"]
    connection = status.connection
    if connection is not None and not connection.connected:
        parts.append(connection.describe())
    elif status.state is CameraState.ENDED:
        parts.append("ended")
    return " · ".join(parts)


def recording_text(path: Path | None, elapsed: float, *, cameras: int, camera: int | None,
                   output_dir: Path) -> str:
    """The Recording panel's line: where recordings go, or what is recording for how long
    (`camera`: the one recording, None for every camera)."""
    if path is None:
        return f"Saves to {output_dir}"
    seconds = int(elapsed)
    which = ""
    if cameras > 1:
        which = "all cameras  " if camera is None else f"camera {camera + 1}  "
    return f"● REC {seconds // 60:02d}:{seconds % 60:02d}  {which}{path.name}"


def recording_file(output_dir: Path, stamp: str, camera: int, cameras: int) -> Path:
    """Where a recording started from the window goes."""
    return output_dir / f"fastsam-{stamp}{f'-cam{camera + 1}' if cameras > 1 else ''}.mp4"
