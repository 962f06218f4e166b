"""The window's sources and its running pipeline (mixed into `main_window.MainWindow`): opening
and closing sources on worker threads (`session.Sessions`), the pipeline's results and camera
events on the UI thread, its end, connection states and the cameras' tiles.

Threads: the pipeline calls `on_result` on its inference thread; that only emits a queued signal,
and the UI thread keeps the newest result of those queued (older ones are dropped, their tracker
events kept).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QFileDialog

from ..events import CameraState, Event, EventKind
from ..pipeline import CameraStatus, Pipeline, Result
from ..sources import FrameSource, redact_url
from ..types import FastSAMVideoError
from .session import one_line
from .source_dialog import VIDEO_FILTER, SourceDialog, kind_of, recent_sources, remember_source
from .window_state import tile_text

log = logging.getLogger(__name__)


class SourcesMixin:
    """MainWindow's sources, pipeline results and pipeline end; uses the window's widgets,
    `state`, `_sessions` and `_bridge`."""

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        entries = recent_sources(self.settings)
        if not entries:
            self.recent_menu.addAction("(none)").setEnabled(False)
        for entry in entries:
            action = self.recent_menu.addAction(entry)
            action.triggered.connect(lambda _=False, e=entry: self._open_recent(e))

    def _open_recent(self, entry: str) -> None:
        if "***" in entry:  # the password was not kept: ask for it
            self.open_dialog(initial=entry)
        else:
            self.open_source(entry)


    def _set_cameras(self, specs: list[str], keep: bool) -> None:
        """One CameraState and tile per source; `keep`: the prompts stay (same sources, or
        prompts made before the first source: copied to every camera)."""
        self.state.set_cameras(len(specs), keep)
        self.grid.set_count(len(specs))
        for cam, tile, spec in zip(self.state.cams, self.grid.tiles, specs, strict=True):
            tile.set_name(redact_url(spec))
            tile.stats.setText("–")
            tile.view.set_overlay(None)
            if not keep or len(specs) > 1 and cam.latest is None:
                tile.view.set_frame(None)
        self.grid.select(0 if len(specs) > 1 else -1)
        self._update_everything_action()


    # ------------------------------------------------------------------ sources
    def open_dialog(self, initial: str | None = None) -> None:
        dialog = SourceDialog(self.settings, self, initial=initial)
        if dialog.exec():
            self.open_source(dialog.spec())

    def open_file_dialog(self) -> None:
        start = str(self.settings.value("last_folder", str(Path.cwd())))
        path, _ = QFileDialog.getOpenFileName(self, "Open a video", start, VIDEO_FILTER)
        if path:
            self.settings.setValue("last_folder", str(Path(path).parent))
            self.open_source(path)

    def open_source(self, spec: str) -> None:
        """Open `spec` (file, folder, glob, camera index, stream URL) on a worker thread. The
        running source keeps playing until the new one is open; a failure is shown in the
        window and leaves it as it was."""
        self.open_sources([spec])

    def open_sources(self, specs: list[str]) -> None:
        """Open several sources as cameras of one pipeline, shown in a grid (one: as
        `open_source`). A camera that cannot be opened shows its error; the others play."""
        specs = [str(spec).strip() for spec in specs if str(spec).strip()]
        if not specs or self._shut:
            return
        self._request = next(self._tickets)
        self._opening = specs
        name = self._describe(specs)
        self.show_status(f"Opening {name}…", 0)
        if self._pipeline is None:
            self.view.set_placeholder(f"Opening {name}…")
        if len(specs) == 1:
            # a file plays under control (the player bar), except for --export-*: every frame once, in order
            self._sessions.open_source(self._request, specs[0], realtime=self._realtime(),
                                       playback=not self._exports_on_open)
        else:
            self._sessions.open_sources(self._request, specs, realtime=self._realtime())

    @staticmethod
    def _describe(specs: list[str]) -> str:
        return redact_url(specs[0]) if len(specs) == 1 else f"{len(specs)} cameras"

    def restart_source(self) -> None:
        if self._specs:
            self.open_sources(self._specs)

    def close_source(self) -> None:
        self._request = next(self._tickets)  # forget an open in progress too
        self._opening = None
        pipeline = self._detach()
        if pipeline is not None:
            self._sessions.close_later(pipeline, self._recording_note(pipeline))
        self._recording = None
        self._update_recording()
        for cam in self.state.cams:
            cam.latest = None  # the specs stay: F5 opens them again, with the prompts made on them
        for tile in self.grid.tiles:
            tile.view.set_frame(None)
            tile.view.set_overlay(None)
        self.view.set_placeholder("No source. Open a video file, a camera or a stream: Ctrl+O")
        self.source_label.setText("no source")
        self.setWindowTitle("fastsam-video")
        self._source_closed = True
        self.save_state()

    def _realtime(self) -> bool:
        return self.realtime_action.isChecked()

    def _detach(self) -> Pipeline | None:
        pipeline, self._pipeline = self._pipeline, None
        self._generation = next(self._tickets)
        for cam in self.state.cams:
            cam.pending = None
        return pipeline

    def _on_source_ready(self, request: int, source: FrameSource | list[FrameSource]) -> None:
        if request != self._request or self._shut or not self._sessions.claim(source):
            self._sessions.discard(source)
            return
        specs = self._opening or [""]
        same = not self._specs or specs == self._specs  # prompts made before the first source stay
        previous = self._detach()
        note = self._recording_note(previous)
        self._recording = None
        self._update_recording()
        # not `same`: the prompts' coordinates belong to the other video
        self._set_cameras(specs, keep=same)
        self._restore_cameras()  # --state: the saved objects and zones, when these are the saved sources
        self._specs = list(specs)
        self._source_closed = False
        self._refresh_objects()
        name = self._describe(specs)
        for tile in self.grid.tiles:
            tile.view.set_placeholder(f"Starting {name}…")
        record, self._record_on_open = self._record_on_open, None
        exports, self._exports_on_open = self._exports_on_open, False
        generation = self._generation
        self._sessions.start_pipeline(generation, source, self.state.prompts,
                                      lambda result, g=generation: self._bridge.result.emit(g, result),
                                      record=record, exports=exports, previous=previous, previous_note=note)

    def _on_opened(self, generation: int, pipeline: Pipeline) -> None:
        if generation != self._generation or self._shut or not self._sessions.claim(pipeline):
            self._sessions.discard(pipeline)
            return
        self._opening = None
        self._pipeline = pipeline
        for camera in pipeline.camera_ids():
            pipeline.set_prompts(self.state.cams[camera].editor.prompts, camera=camera)  # edits made while opening
        pipeline.subscribe(lambda event, g=generation: self._bridge.event.emit(g, event))
        pipeline.start()
        recording = pipeline.status(0).recording
        if recording is not None:
            self._recording = (recording, time.monotonic())
            self._recording_camera = None  # --record: every camera
        self._update_recording()
        self._restore_recording()
        self.save_state()
        for spec in self._specs:
            if kind_of(spec) == "file" and Path(spec).expanduser().exists():
                spec = str(Path(spec).expanduser().resolve())  # reopens from anywhere
            remember_source(self.settings, spec)
        name = self._describe(self._specs)
        self.setWindowTitle(f"{name} — fastsam-video")
        self.source_label.setText(name)
        self.banner.hide()
        self._connection_shown = False
        self.show_status(f"Playing {name}")
        self.sourceOpened.emit(name)

    def _on_failed(self, number: int, message: str) -> None:
        # `number` is a request (the source failed to open) or a generation (the model failed)
        if self._shut or number not in (self._request, self._generation):
            return
        if number == self._request:
            self._opening = None
        self._restoring = None  # the saved sources did not open: the file stays as it was until a change
        if self._pipeline is None and all(cam.latest is None for cam in self.state.cams):
            self.view.set_placeholder(f"{message}\n\nOpen another source: Ctrl+O")
        self.show_error(message)
        self.sourceFailed.emit(message)

    def _set_loop(self, on: bool) -> None:
        self.settings.setValue("loop", bool(on))

    # ------------------------------------------------------------------ results (UI thread)
    def _on_result(self, generation: int, result: Result) -> None:
        if generation != self._generation or not self.state.receive(result):
            return
        if not self._present_scheduled:  # newest wins (per camera); older ones queued before it are dropped unseen
            self._present_scheduled = True
            QTimer.singleShot(0, self._present)

    def _present(self) -> None:
        self._present_scheduled = False
        if self._shut:
            return
        for camera, cam in enumerate(self.state.cams):
            shown = cam.show_pending()
            if shown is None:
                continue
            result, events = shown
            self.grid.tiles[camera].view.set_frame(result.annotated)
            for event in events:  # the tracker's events, with the frame they were found on
                self.events_panel.add(event, result.annotated, f"camera {camera + 1}")
            if self._pipeline is not None:
                self._pipeline.mark_displayed(camera)
            line = self.state.status_line(camera, events)
            if line is not None:
                self.show_status(line, 4000)
            if camera == self.state.camera:
                self._refresh_objects()
            self.resultShown.emit(result)

    def _on_event(self, generation: int, event: Event) -> None:
        """A camera event of the running pipeline (object events come with the results)."""
        pipeline = self._pipeline
        if generation != self._generation or pipeline is None or event.object_id is not None:
            return  # an object's event is listed with its result's frame (`_present`), not twice
        latest = self.camera_latest(event.camera) if event.camera < self.camera_count else None
        self.events_panel.add(event, latest.annotated if latest is not None else None, f"camera {event.camera + 1}")
        if event.kind is EventKind.SINK_FAILED:  # that output stopped; the camera goes on
            self.show_error(one_line(event.message()))
            mine = self._recording_camera == event.camera or (self._recording_camera is None and
                                                              self.camera_count == 1)
            if self._recording is not None and mine and pipeline.status(event.camera).recording is None:
                self._recording = None  # it was the recorder
                self._update_recording()
        elif event.kind is EventKind.CAMERA_RESIZED:
            self.show_status(event.message(), 6000)

    def _kind(self, camera: int) -> str:
        return kind_of(self._specs[camera] if camera < len(self._specs) else "")

    def _shown_camera(self, pipeline: Pipeline) -> int:
        """The selected camera, within the pipeline's."""
        return min(self.state.camera, len(pipeline.camera_ids()) - 1)

    def _tick(self) -> None:
        pipeline = self._pipeline
        if pipeline is not None:
            error = None
            try:
                done = pipeline.wait(0)
            except FastSAMVideoError as err:
                done, error = True, str(err)
            if done:
                self._snapshot = pipeline.status(self._shown_camera(pipeline)).stats
                self._ended(error)
            elif len(pipeline.camera_ids()) > 1:
                self._update_tiles(pipeline)
            else:
                self._update_connection(pipeline)
        self._update_stats()
        self._update_recording()
        self.zone_editor.refresh()

    def _update_connection(self, pipeline: Pipeline) -> None:
        """A network source reconnects by itself (a camera down at start, or lost): say so."""
        connection = pipeline.status(0).connection
        if connection is None:
            return
        name = redact_url(self._spec or "")
        if connection.state == "reconnecting":
            text = f"{name}: {connection.describe()}"
            if self.banner.text() != text:
                if not self._connection_shown:
                    log.warning("%s", text)
                self.banner.show_message(text)
                self.statusBar().showMessage(text)
                self._connection_shown = True
            if self.state.cam.latest is None:
                self.view.set_placeholder(f"{text}\n\nOpen another source: Ctrl+O")
        elif self._connection_shown and connection.connected:
            self._connection_shown = False
            self.banner.hide()
            self.show_status(f"{name}: {connection.describe()}", 6000)

    def _update_tiles(self, pipeline: Pipeline) -> None:
        """Several cameras: each tile's stats line, connection state and error overlay."""
        for camera, tile in zip(pipeline.camera_ids(), self.grid.tiles):
            status: CameraStatus = pipeline.status(camera)
            cam = self.state.cams[camera]
            if status.state is CameraState.FAILED and cam.error is None:
                cam.error = one_line(status.error or "failed")
                tile.view.set_overlay(f"camera {camera + 1} failed:\n{cam.error}")
                self.show_status(f"camera {camera + 1}: {cam.error}", 10000)  # the pipeline logged it
            tile.stats.setText(tile_text(status))

    def _ended(self, error: str | None) -> None:
        spec = self._spec or ""
        specs = list(self._specs)
        pipeline, self._pipeline = self._pipeline, None  # same generation: its last results still show
        note = self._recording_note(pipeline)
        self._recording = None
        self._update_recording()
        self._sessions.close_later(pipeline, note)
        name = redact_url(spec) if len(specs) <= 1 else self._describe(specs)
        if error:
            self.show_error(error)
            self.sourceFailed.emit(error)
        elif (self.loop_action.isChecked() and specs and all(kind_of(s) == "file" for s in specs)
              and self._opening is None):
            self.open_sources(specs)
        else:
            self.show_status(f"End of {name}" + (f" · {note}" if note else ""), 10000)
        self.sourceEnded.emit(name)

