"""The window's state file, `gui --state FILE` (mixed into `main_window.MainWindow`): the hooks
that restore the saved sources, objects, zones and recording at the start, and hand a snapshot
to the writer after each change the user makes. The logic (what is saved and read back, the
debounced writes off the UI thread) is Qt-free, in `window_persistence`."""

from __future__ import annotations

from ..state import StateFile
from .prompting import PromptEditor
from .window_persistence import StateWriter, WindowStart, window_snapshot


class StateFileMixin:
    """MainWindow's side of the state file; uses its `options`, `state`, `zone_editor` and sources."""

    def _init_state_file(self) -> None:
        path = self.options.state_path
        self._state_writer = StateWriter(StateFile(path)) if path else None  # writes off the UI thread
        self._restoring: WindowStart | None = None  # the saved cameras, while they open
        self._source_closed = False  # by the user (Ctrl+W): the state keeps no camera

    def restore_state(self) -> bool:
        """Open the state file's cameras with their objects, zones and recording; True when there
        was a state file (then the command line's SOURCEs are not opened, as in `serve`)."""
        start = self.options.start
        if start is None:
            return False
        self.state.everything_explicit |= start.everything_explicit
        if start.cameras:
            self._restoring = start
            self.open_sources(start.specs)
        return True

    def _restore_cameras(self) -> None:
        """The restored sources are ready: each camera takes its saved objects and zones."""
        start = self._restoring
        if start is None or len(start.cameras) != len(self.state.cams):
            return
        for camera, (cam, saved) in enumerate(zip(self.state.cams, start.cameras)):
            cam.editor = PromptEditor(saved.prompts)
            if saved.zones is not None:
                self.zone_editor.zones[camera] = saved.zones
        self._update_everything_action()

    def _restore_recording(self) -> None:
        """The restored pipeline runs: recording goes on again (into a new file), unless --record does it."""
        start, self._restoring = self._restoring, None
        if start is not None and self._recording is None:
            camera = next((i for i, c in enumerate(start.cameras) if c.recording), None)
            if camera is not None and camera < self.camera_count:
                self.start_recording(camera=camera)

    def save_state(self) -> None:
        """Hand the window's state to the writer (a no-op without --state, and while restoring)."""
        if self._state_writer is None or self._restoring is not None or self._shut:
            return
        specs = [] if self._source_closed else list(self._specs)
        if not specs and not self._source_closed:  # nothing opened yet: the command line's SOURCE stays the start
            return
        recording = [self._recording is not None and self._recording_camera in (None, i) for i in range(len(specs))]
        self._state_writer.submit(window_snapshot(specs, [cam.editor.prompts for cam in self.state.cams], recording,
                                                  [self.zone_editor.zones.get(i) for i in range(len(specs))]))
