"""MainWindow: the video with its overlays, mouse prompts, the object list, sources,
recording, snapshots and live statistics.

Several sources (`open_sources`) run as the cameras of one Pipeline and show as a grid of
tiles (`camera_grid`); each camera has its own prompts, object states and newest result
(`window_state.CameraState`). The selected tile (click it) is the one the object list,
prompts, recording and snapshots act on.

This module builds the window and wires widgets (`widgets`, `panels`, `camera_grid`) to the
Qt-free window state (`window_state`: per-camera state, object rows, notes from typed events,
status texts, prompt editing rules). Sources, results and the pipeline's end live in
`window_sources`, a file's player bar in `window_playback`, recording and snapshots in
`window_recording`, the state file (--state) in `window_restore` (all mixed in here).

Threads: the window never decodes or runs the model: opening and closing sources run on
worker threads (`session.Sessions`), results come through queued signals.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

from PyQt6.QtCore import QObject, QSettings, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PyQt6.QtWidgets import QLabel, QMainWindow, QSplitter, QVBoxLayout, QWidget

from .. import assets
from ..pipeline import Pipeline, Result, StatsSnapshot
from ..tracker import PromptSet
from ..types import PromptError
from .camera_grid import CameraGrid
from .events_panel import EventsPanel
from .panels import ObjectsPanel, RecordingPanel, StatsPanel
from .prompting import NEW, point_gesture
from .session import PipelineFactory, Sessions
from .video_view import VideoView
from . import WindowOptions
from .widgets import MOUSE, SHORTCUTS, Banner, HelpOverlay
from .zones_panel import ZoneEditor, ZonesPanel
from .window_playback import PlaybackMixin
from .window_recording import RecordingMixin
from .window_restore import StateFileMixin
from .window_sources import SourcesMixin
from .window_state import WindowState, source_text, stats_texts

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


class MainWindow(SourcesMixin, PlaybackMixin, RecordingMixin, StateFileMixin, QMainWindow):
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
        self._init_state_file()

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
        self._build_player_actions()  # Space, Left, Right: only while a file plays

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
        self._add_player_menu(bar)
        bar.addMenu("&View").addAction(self.fullscreen_action)
        menu = bar.addMenu("&Help")
        menu.addAction(self.help_action)
        keys = menu.addMenu("Shortcuts")
        for key, what in MOUSE + SHORTCUTS:
            keys.addAction(f"{key}\t{what}").setEnabled(False)

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
        column.addWidget(self._build_player())  # shown only while a file plays
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
                                      self._frame_size, self.show_status, self.show_error, changed=self.save_state)
        self.events_panel = EventsPanel()

        panel = QWidget()
        panel.setMinimumWidth(270)
        panel.setMaximumWidth(420)
        side = QVBoxLayout(panel)
        side.setContentsMargins(6, 0, 0, 0)
        side.addWidget(objects, 1)
        side.addWidget(self.zones_panel)
        side.addWidget(self.events_panel)
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

    # ------------------------------------------------------------------ prompts
    def _push_prompts(self) -> None:
        self._update_everything_action()
        if self._pipeline is not None and self.state.camera in self._pipeline.camera_ids():
            self._pipeline.set_prompts(self.state.prompts, camera=self.state.camera)
        self._refresh_objects()
        self.save_state()

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
        if self._state_writer is not None:
            self._state_writer.close()  # first: what is pending reaches the disk before anything slow
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
