"""MainWindow: the video with its overlays, mouse prompts, the object list, sources,
recording, snapshots and live statistics.

Several sources (`open_sources`) run as the cameras of one Pipeline and show as a grid of
tiles (`camera_grid`); each camera has its own prompts, object states and newest result
(`window_state.CameraState`). The selected tile (click it) is the one the object list,
prompts, recording and snapshots act on.

This module wires widgets (`widgets`, `panels`, `camera_grid`) to the Qt-free window state
(`window_state`: per-camera state, object rows, notes from typed events, status texts,
prompt editing rules) and to the pipelines (`session`).

Threads: the window never decodes or runs the model. The pipeline calls `on_result` on its
inference thread; that only emits a queued signal, and the UI thread keeps the newest
result of those queued (older ones are dropped, their tracker events kept). Opening and
closing sources run on worker threads (`session.Sessions`).
"""

from __future__ import annotations

import itertools
import logging
import time
from pathlib import Path

import cv2
from PyQt6.QtCore import QObject, QSettings, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PyQt6.QtWidgets import QFileDialog, QLabel, QMainWindow, QSplitter, QVBoxLayout, QWidget

from .. import assets
from ..events import CameraState, Event, EventKind
from ..pipeline import CameraStatus, Pipeline, Result, StatsSnapshot
from ..sources import FrameSource, redact_url
from ..tracker import PromptSet
from ..types import FastSAMVideoError, PromptError
from .camera_grid import CameraGrid
from .panels import ObjectsPanel, RecordingPanel, StatsPanel
from .prompting import NEW, point_gesture
from .session import PipelineFactory, Sessions, one_line
from .source_dialog import VIDEO_FILTER, SourceDialog, kind_of, recent_sources, remember_source
from .video_view import VideoView
from . import WindowOptions
from .widgets import MOUSE, SHORTCUTS, Banner, HelpOverlay
from .zones_panel import ZoneEditor, ZonesPanel
from .window_state import (WindowState, recording_file, recording_text, source_text, stats_texts,
                           tile_text)

log = logging.getLogger(__name__)

SAMPLE_CLIP = assets.demo_clip() / "video.mp4"  # in the wheel, or the checkout's samples/


class ResultBridge(QObject):
    """Signals emitted from worker threads, delivered (queued) on the UI thread."""

    result = pyqtSignal(int, object)  # generation, Result
    event = pyqtSignal(int, object)  # generation, events.Event (camera events: outputs, frame size)
    sourceReady = pyqtSignal(int, object)  # request, FrameSource
    opened = pyqtSignal(int, object)  # generation, Pipeline
    failed = pyqtSignal(int, str)  # request or generation, message
    message = pyqtSignal(str)
    problem = pyqtSignal(str)


class MainWindow(QMainWindow):
    """The application window. `options`: a `ui.WindowOptions` (default: all defaults; from a
    command line: `ui.window_options(argv)`); `segmenter`: an already loaded model to use
    instead of loading one from `options.model`;
    `settings`: where recent sources and preferences live; `output_dir`: where recordings and
    snapshots go (default: the setting, else ./output)."""

    resultShown = pyqtSignal(object)  # the Result just put on screen
    sourceOpened = pyqtSignal(str)  # display name (passwords redacted)
    sourceFailed = pyqtSignal(str)  # the one-line message shown
    sourceEnded = pyqtSignal(str)

    def __init__(self, options: WindowOptions | None = None, *, segmenter=None, settings: QSettings | None = None,
                 output_dir: str | Path | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.options = options = options if options is not None else WindowOptions()
        self.settings = settings if settings is not None else QSettings("fastsam-video", "fastsam-video")
        self.output_dir = Path(output_dir or self.settings.value("output_dir", str(Path.cwd() / "output")))
        self.state = WindowState(options.prompts, everything_explicit=options.everything)

        self._bridge = ResultBridge(self)
        queued = Qt.ConnectionType.QueuedConnection
        self._bridge.result.connect(self._on_result, queued)
        self._bridge.event.connect(self._on_event, queued)
        self._bridge.sourceReady.connect(self._on_source_ready, queued)
        self._bridge.opened.connect(self._on_opened, queued)
        self._bridge.failed.connect(self._on_failed, queued)
        self._bridge.message.connect(self._on_message, queued)
        self._bridge.problem.connect(self.show_error, queued)
        self._sessions = Sessions(PipelineFactory(options, segmenter), source_ready=self._bridge.sourceReady.emit,
                                  opened=self._bridge.opened.emit, failed=self._bridge.failed.emit,
                                  message=self._bridge.message.emit, problem=self._bridge.problem.emit)

        self._pipeline: Pipeline | None = None
        self._tickets = itertools.count(1)  # one sequence for both, so a number names one thing
        self._generation = 0  # of the running pipeline: results of older ones are ignored
        self._request = 0  # of the newest open request
        self._opening: list[str] | None = None
        self._specs: list[str] = []  # the running (or last) sources
        self._present_scheduled = False
        self._recording: tuple[Path, float] | None = None
        self._recording_camera: int | None = None  # None: every camera (--record)
        self._record_on_open = options.output.record  # --record: the first source records from its start
        self._exports_on_open = bool(options.output.export_masks or options.output.export_coco)
        self._snapshot: StatsSnapshot | None = None
        self._connection_shown = False  # the banner shows a stream's connection trouble
        self._shut = False

        self.setWindowTitle("fastsam-video")
        self.setAcceptDrops(True)
        self._build_actions()
        self._build_ui()
        self._build_menus()
        self._refresh_objects()
        self._update_stats()
        self._update_recording()

        self._timer = QTimer(self)
        self._timer.setInterval(250)  # stats, recording time and the pipeline's end / errors, 4 Hz
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1180, 700)

    # ------------------------------------------------------------------ building
    def _action(self, text: str, slot, shortcut: str | None = None, *, checkable: bool = False,
                checked: bool = False, tip: str | None = None) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if checkable:
            action.setCheckable(True)
            action.setChecked(checked)
            action.toggled.connect(slot)
        else:
            action.triggered.connect(lambda _=False: slot())
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        self.addAction(action)  # shortcuts work wherever the focus is in the window
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.open_action = a("&Open source…", self.open_dialog, "Ctrl+O")
        self.open_file_action = a("Open &file…", self.open_file_dialog, "Ctrl+Shift+O")
        self.sample_action = a("Open the sample &clip", lambda: self.open_source(str(SAMPLE_CLIP)))
        self.sample_action.setEnabled(SAMPLE_CLIP.exists())
        self.restart_action = a("&Restart source", self.restart_source, "F5")
        self.close_source_action = a("&Close source", self.close_source, "Ctrl+W")
        self.loop_action = a("&Loop video files", self._set_loop, "L", checkable=True,
                             checked=self.settings.value("loop", False, type=bool))
        self.realtime_action = a("Play files in &real time", lambda on: None, checkable=True,
                                 checked=not self.options.fast,
                                 tip="On: files play at their frame rate and drop frames like a camera. "
                                     "Off: every frame is processed, as fast as the model goes.")
        self.record_action = a("&Record", self._toggle_recording, "Ctrl+R", checkable=True)
        self.snapshot_action = a("&Snapshot", self.save_snapshot, "Ctrl+S", tip="Save the current frame as PNG")
        self.output_action = a("Output &folder…", self.choose_output_dir)
        self.quit_action = a("&Quit", self.close, "Ctrl+Q")
        self.everything_action = a("&Everything", self.set_everything, "E", checkable=True,
                                   checked=self.state.prompts.everything,
                                   tip="Show every mask the model finds (faintly, beside tracked objects)")
        self.add_to_selected_action = a("&Add clicks to selected", lambda on: None, "A", checkable=True,
                                        tip="Plain clicks add foreground points to the selected object")
        self.text_focus_action = a("&Text prompt", lambda: self.text_edit.setFocus(), "T")
        self.remove_action = a("Remo&ve selected", self.remove_selected, "Delete")
        self.clear_action = a("&Clear all", self.clear_prompts, "Shift+Delete")
        self.fullscreen_action = a("&Full screen", self._set_fullscreen, "F11", checkable=True)
        self.help_action = a("&Keyboard and mouse…", self.toggle_help, "F1")
        self.escape_action = a("Hide help", self._escape, "Esc")

    def _build_menus(self) -> None:
        bar = self.menuBar()
        menu = bar.addMenu("&File")
        for action in (self.open_action, self.open_file_action, self.sample_action):
            menu.addAction(action)
        self.recent_menu = menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        for group in ((self.restart_action, self.close_source_action, self.loop_action, self.realtime_action),
                      (self.record_action, self.snapshot_action, self.output_action), (self.quit_action,)):
            menu.addSeparator()
            for action in group:
                menu.addAction(action)
        menu = bar.addMenu("&Prompts")
        for action in (self.everything_action, self.add_to_selected_action, self.text_focus_action,
                       self.remove_action, self.clear_action):
            menu.addAction(action)
        bar.addMenu("&View").addAction(self.fullscreen_action)
        menu = bar.addMenu("&Help")
        menu.addAction(self.help_action)
        keys = menu.addMenu("Shortcuts")
        for key, what in MOUSE + SHORTCUTS:
            keys.addAction(f"{key}\t{what}").setEnabled(False)

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

    def _build_ui(self) -> None:
        self.grid = CameraGrid()
        self.grid.activated.connect(self.select_camera)
        self.grid.pointClicked.connect(self._on_tile_click)
        self.grid.boxDrawn.connect(self._on_tile_box)
        self.grid.dragged.connect(lambda camera, *line: self.zone_editor.drag(*line))
        self.banner = Banner()
        video = QWidget()
        column = QVBoxLayout(video)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        column.addWidget(self.banner)
        column.addWidget(self.grid, 1)
        self.help = HelpOverlay(self.grid)

        objects = ObjectsPanel(remove=self.remove_action, clear=self.clear_action,
                               everything=self.everything_action, add_to_selected=self.add_to_selected_action)
        objects.textEntered.connect(self._add_text_from_field)
        self.object_list, self.text_edit, self.text_button = objects.object_list, objects.text_edit, objects.text_button
        self.recording_panel = RecordingPanel(record=self.record_action, snapshot=self.snapshot_action)
        self.record_button, self.record_label = self.recording_panel.record_button, self.recording_panel.record_label
        self.stats_panel = StatsPanel()
        self.stat_labels = self.stats_panel.labels
        self.zones_panel = ZonesPanel()
        self.zone_editor = ZoneEditor(self.zones_panel, lambda: self._pipeline, lambda: self.camera,
                                      self._frame_size, self.show_status, self.show_error)

        panel = QWidget()
        panel.setMinimumWidth(270)
        panel.setMaximumWidth(420)
        side = QVBoxLayout(panel)
        side.setContentsMargins(6, 0, 0, 0)
        side.addWidget(objects, 1)
        side.addWidget(self.zones_panel)
        side.addWidget(self.recording_panel)
        side.addWidget(self.stats_panel)

        splitter = QSplitter()
        splitter.addWidget(video)
        splitter.addWidget(panel)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setCollapsible(0, False)
        self.setCentralWidget(splitter)
        self.source_label = QLabel("no source")
        self.statusBar().addPermanentWidget(self.source_label)

    # ------------------------------------------------------------------ public state
    @property
    def pipeline(self) -> Pipeline | None:
        return self._pipeline

    @property
    def view(self) -> VideoView:
        """The selected camera's view (the only one with one source)."""
        return self.grid.tiles[min(self.state.camera, len(self.grid.tiles) - 1)].view

    @property
    def tiles(self):
        return self.grid.tiles

    @property
    def camera(self) -> int:
        """The selected camera (0-based)."""
        return self.state.camera

    @property
    def camera_count(self) -> int:
        return len(self.state.cams)

    @property
    def _spec(self) -> str | None:
        return self._specs[0] if self._specs else None

    @property
    def latest_result(self) -> Result | None:
        return self.state.cam.latest

    @property
    def prompts(self) -> PromptSet:
        return self.state.prompts

    @property
    def recording_path(self) -> Path | None:
        return self._recording[0] if self._recording else None

    def camera_prompts(self, camera: int) -> PromptSet:
        return self.state.cams[camera].editor.prompts

    def camera_latest(self, camera: int) -> Result | None:
        return self.state.cams[camera].latest

    def select_camera(self, camera: int) -> None:
        """Make `camera` the one the object list, prompts, recording and snapshots act on."""
        if self.state.select(camera):
            self._refresh_objects()
            self._update_stats()
            self._update_recording()
            self._update_everything_action()
        self.grid.select(self.state.camera if self.state.several else -1)

    def _update_everything_action(self) -> None:
        on = self.state.prompts.everything
        if self.everything_action.isChecked() != on:
            self.everything_action.blockSignals(True)
            self.everything_action.setChecked(on)
            self.everything_action.blockSignals(False)

    def _on_tile_click(self, camera: int, x: float, y: float, button, modifiers) -> None:
        self.select_camera(camera)
        if not self.zone_editor.click(x, y):  # a zone's corner, else a prompt
            self._on_view_click(x, y, button, modifiers)

    def _on_tile_box(self, camera: int, x1: float, y1: float, x2: float, y2: float) -> None:
        self.select_camera(camera)
        if self.zone_editor.drawing is None:  # while drawing, a drag is a line (`dragged`)
            self.add_box(x1, y1, x2, y2)

    def _escape(self) -> None:
        """Esc: hides the help, and cancels a zone or line being drawn."""
        self.help.hide()
        self.zone_editor.cancel()

    def _frame_size(self, camera: int) -> tuple[int, int] | None:
        frame = self.grid.tiles[camera].view.frame if camera < len(self.grid.tiles) else None
        return None if frame is None else (frame.shape[1], frame.shape[0])

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

    def selected_object(self) -> int | None:
        return self.object_list.selected_id()

    def select_object(self, object_id: int | None) -> None:
        self.object_list.select(object_id)

    def message_text(self) -> str:
        """The error banner's text ('' when hidden)."""
        return self.banner.text()

    # ------------------------------------------------------------------ messages
    def show_error(self, text: str) -> None:
        text = " ".join(text.split())
        self.banner.show_message(text)
        self.statusBar().showMessage(text, 15000)
        log.warning("%s", text)

    def show_status(self, text: str, ms: int = 4000) -> None:
        self.statusBar().showMessage(text, ms)

    def _on_message(self, text: str) -> None:
        self.show_status(text, 8000)

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
            self._sessions.open_source(self._request, specs[0], realtime=self._realtime())
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

    def _realtime(self) -> bool:
        return self.realtime_action.isChecked()

    def _detach(self) -> Pipeline | None:
        pipeline, self._pipeline = self._pipeline, None
        self._generation = next(self._tickets)
        for cam in self.state.cams:
            cam.pending = None
        return pipeline

    def _recording_note(self, pipeline: Pipeline | None) -> str | None:
        if pipeline is not None and self._recording is not None:
            return f"recording saved: {self._recording[0]}"
        return None

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
        self._specs = list(specs)
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
        if generation != self._generation or pipeline is None:
            return
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

    # ------------------------------------------------------------------ prompts
    def _push_prompts(self) -> None:
        self._update_everything_action()
        if self._pipeline is not None and self.state.camera in self._pipeline.camera_ids():
            self._pipeline.set_prompts(self.state.prompts, camera=self.state.camera)
        self._refresh_objects()

    def _edited(self, edit, *args) -> int | None:
        """Apply a `WindowState.edit_*`; select the object it made or changed and say so."""
        try:
            object_id, line = edit(*args)
        except PromptError as err:
            self.show_status(str(err), 6000)
            return None
        self._push_prompts()
        self.select_object(object_id)
        self.show_status(line)
        return object_id

    def _on_view_click(self, x: float, y: float, button, modifiers) -> None:
        gesture = point_gesture(right=button == Qt.MouseButton.RightButton,
                                shift=bool(modifiers & Qt.KeyboardModifier.ShiftModifier),
                                ctrl=bool(modifiers & (Qt.KeyboardModifier.ControlModifier |
                                                       Qt.KeyboardModifier.MetaModifier)),
                                add_to_selected=self.add_to_selected_action.isChecked(),
                                has_selection=self.selected_object() is not None)
        self.add_point(x, y, gesture)

    def add_point(self, x: float, y: float, gesture: str = NEW) -> int | None:
        """Apply a click at frame point (x, y); returns the object id made or changed."""
        return self._edited(self.state.edit_click, x, y, gesture, self.selected_object())

    def add_box(self, x1: float, y1: float, x2: float, y2: float) -> int | None:
        return self._edited(self.state.edit_box, x1, y1, x2, y2)

    def _add_text_from_field(self, text: str) -> None:
        if self.add_text(text) is not None:
            self.text_edit.clear()

    def add_text(self, text: str) -> int | None:
        return self._edited(self.state.edit_text, text)

    def remove_selected(self) -> None:
        object_id = self.selected_object()
        if object_id is None:
            self.show_status("select an object in the list to remove it")
            return
        self.remove_object(object_id)

    def remove_object(self, object_id: int) -> None:
        line = self.state.remove(object_id)
        self._push_prompts()
        self.show_status(line)

    def clear_prompts(self) -> None:
        line = self.state.clear()
        self._push_prompts()
        self.show_status(line)

    def set_everything(self, on: bool) -> None:
        """Everything mode on or off. Until the user sets it (E, the button, --everything) it
        follows the command line's rule: on while there is no object, off once there is one."""
        if self.everything_action.isChecked() != bool(on):
            self.everything_action.setChecked(bool(on))  # comes back here through toggled
            return
        self.state.set_everything(on)
        self._push_prompts()

    def _refresh_objects(self) -> None:
        self.object_list.set_rows(self.state.cam.rows(running=self._pipeline is not None))

    # ------------------------------------------------------------------ recording and snapshots
    def _toggle_recording(self, on: bool) -> None:
        if on and self._recording is None:
            if self.start_recording() is None:
                self.record_action.setChecked(False)
        elif not on and self._recording is not None:
            self.stop_recording()

    def _stamp(self) -> str:
        now = time.time()
        return time.strftime("%Y%m%d-%H%M%S", time.localtime(now)) + f"-{int(now * 1000) % 1000:03d}"

    def start_recording(self, path: str | Path | None = None) -> Path | None:
        """Record the annotated video to `path` (default: the output folder); None if it cannot."""
        if self._pipeline is None:
            self.show_status("open a source first, then record")
            self._update_recording()
            return None
        camera = self.state.camera
        target = Path(path) if path else recording_file(self.output_dir, self._stamp(), camera, self.camera_count)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            self.show_error(f"cannot record to {target.parent}: {err.strerror or err} (choose another output "
                            "folder: File > Output folder)")
            self._update_recording()
            return None
        self._pipeline.set_recording(target, camera=camera)
        self._recording = (target, time.monotonic())
        self._recording_camera = camera
        self._update_recording()
        self.show_status(f"recording {f'camera {camera + 1} ' if self.state.several else ''}to {target}")
        return target

    def stop_recording(self) -> Path | None:
        if self._recording is None:
            return None
        path = self._recording[0]
        if self._pipeline is not None:
            cameras = self._pipeline.camera_ids() if self._recording_camera is None else [self._recording_camera]
            for camera in cameras:
                self._pipeline.set_recording(None, camera=camera)
        self._recording = None
        self._update_recording()
        self.show_status(f"recording saved: {path}", 8000)
        return path

    def save_snapshot(self, path: str | Path | None = None) -> Path | None:
        """The frame on screen, with its overlays, as a PNG; returns its path."""
        result = self.state.cam.latest
        if result is None:
            self.show_status("nothing to save yet: open a source first")
            return None
        target = Path(path) if path else self.output_dir / f"snapshot-{self._stamp()}.png"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            ok = cv2.imwrite(str(target), result.annotated)
        except (OSError, cv2.error) as err:
            ok, reason = False, str(err)
        else:
            reason = "check the folder is writable"
        if not ok:
            self.show_error(f"cannot save the snapshot to {target}: {reason}")
            return None
        self.show_status(f"snapshot saved: {target}", 6000)
        return target

    def choose_output_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for recordings and snapshots", str(self.output_dir))
        if folder:
            self.output_dir = Path(folder)
            self.settings.setValue("output_dir", folder)

    def _update_recording(self) -> None:
        recording = self._recording
        on = recording is not None
        if self.record_action.isChecked() != on:
            self.record_action.blockSignals(True)
            self.record_action.setChecked(on)
            self.record_action.blockSignals(False)
        self.record_action.setEnabled(self._pipeline is not None or on)
        self.snapshot_action.setEnabled(self.state.cam.latest is not None)
        path, started = recording if recording is not None else (None, 0.0)
        text = recording_text(path, time.monotonic() - started, cameras=self.camera_count,
                              camera=self._recording_camera, output_dir=self.output_dir)
        self.recording_panel.show_state(text, None if path is None else str(path))

    # ------------------------------------------------------------------ stats
    def _update_stats(self) -> None:
        pipeline = self._pipeline
        status = None
        if pipeline is not None:
            status = pipeline.status(self._shown_camera(pipeline))
            self._snapshot = status.stats
        if self._snapshot is None:
            self.stats_panel.show_texts(dict.fromkeys(self.stat_labels, "–"))
            return
        texts = stats_texts(self._snapshot)
        if status is not None:
            texts["source"] = source_text(status, self._kind(status.camera), len(pipeline.camera_ids()))
        else:
            texts["source"] = "–" if self._spec is None else "stopped"
        self.stats_panel.show_texts(texts)

    def stats_text(self) -> str:
        return self.stats_panel.text()

    # ------------------------------------------------------------------ view
    def toggle_help(self) -> None:
        if self.help.isVisible():
            self.help.hide()
        else:
            self.help.place()
            self.help.show()

    def _set_fullscreen(self, on: bool) -> None:
        self.showFullScreen() if on else self.showNormal()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.help.isVisible():
            self.help.place()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        for url in event.mimeData().urls():
            spec = url.toLocalFile() or url.toString()
            if spec:
                self.open_source(spec)
                event.acceptProposedAction()
                return

    # ------------------------------------------------------------------ closing
    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop every thread: the pipeline (its recording is finalised), openers, closers; the
        settings are written. Waits `timeout` seconds at most for a worker (a model loading)."""
        if self._shut:
            return
        self._shut = True
        self.settings.setValue("geometry", self.saveGeometry())
        self._timer.stop()
        self._request = next(self._tickets)
        pipeline = self._detach()
        for error in self._sessions.shutdown(pipeline, timeout):
            log.warning("%s", error)
        self._recording = None
        self.settings.sync()  # the program may end with os._exit (cli.entry): nothing is written later

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)
