"""The window's recording and snapshots (mixed into `main_window.MainWindow`): start and stop
recording the selected camera (or every camera, with --record), save the frame on screen, the
output folder, the Recording panel's line."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
from PyQt6.QtWidgets import QFileDialog

from ..pipeline import Pipeline
from .window_state import recording_file, recording_text


class RecordingMixin:
    """MainWindow's recording and snapshots; uses the window's actions, panels and `state`."""

    def _recording_note(self, pipeline: Pipeline | None) -> str | None:
        if pipeline is not None and self._recording is not None:
            return f"recording saved: {self._recording[0]}"
        return None


    def _toggle_recording(self, on: bool) -> None:
        if on and self._recording is None:
            if self.start_recording() is None:
                self.record_action.setChecked(False)
        elif not on and self._recording is not None:
            self.stop_recording()

    def _stamp(self) -> str:
        now = time.time()
        return time.strftime("%Y%m%d-%H%M%S", time.localtime(now)) + f"-{int(now * 1000) % 1000:03d}"

    def start_recording(self, path: str | Path | None = None, camera: int | None = None) -> Path | None:
        """Record the annotated video of `camera` (default: the selected one) to `path` (default:
        the output folder); None if it cannot."""
        if self._pipeline is None:
            self.show_status("open a source first, then record")
            self._update_recording()
            return None
        camera = self.state.camera if camera is None else camera
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
        self.save_state()
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
        self.save_state()
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

