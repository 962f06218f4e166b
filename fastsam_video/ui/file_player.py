"""The file player: a video file frame by frame, with pause / play (Space), one frame back and
forward (Left / Right), a seek bar with the frame number and time, and prompts by click on the
shown frame (the result at once). The work is `file_review.FileReview`'s; this is its window."""

from __future__ import annotations

import threading
from pathlib import Path

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QKeyEvent
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from ..file_review import FileReview
from ..workers import reason
from .video_view import VideoView


class FilePlayer(QWidget):
    """Left click: a new object's point; Shift+click: one more point of the last object;
    right click: a background point of the last object; T: track the prompts over the file
    (forwards and backwards, on a worker thread; clicks wait until it is done)."""

    def __init__(self, path: str | Path, segmenter, parent: QWidget | None = None):
        super().__init__(parent)
        self.review = FileReview(path, segmenter)
        self.view = VideoView(self)
        self.view.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the keys are the player's
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(0, len(self.review) - 1)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.position = QLabel(self)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._advance)
        bar = QHBoxLayout()
        bar.addWidget(self.slider, 1)
        bar.addWidget(self.position)
        hint = QLabel("Space: play / pause   Left / Right: one frame   click: prompt an object   "
                      "Shift+click / right click: one more point / a background point   T: track", self)
        hint.setEnabled(False)  # drawn faint
        hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addLayout(bar)
        layout.addWidget(hint)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.slider.valueChanged.connect(self.seek)
        self.view.pointClicked.connect(self._clicked)
        self._last_object: int | None = None
        self._tracking: threading.Thread | None = None
        self._tracking_error: str | None = None
        self._poll = QTimer(self)
        self._poll.timeout.connect(self._check_tracking)
        self.seek(0)

    @property
    def tracking(self) -> bool:
        return self._tracking is not None and self._tracking.is_alive()

    def track(self) -> None:
        """Tracks the prompts over the file on a worker thread; the frames show the result after."""
        if self.tracking or not self.review.entries:
            return
        self.pause()

        def work() -> None:
            try:
                self.review.track()
            except Exception as err:  # shown in the bar; the player goes on
                self._tracking_error = reason(err)

        self._tracking_error = None
        self._tracking = threading.Thread(target=work, name="file-player-track", daemon=True)
        self._tracking.start()
        self.position.setText("tracking forwards and backwards...")
        self._poll.start(100)

    def _check_tracking(self) -> None:
        if self.tracking:
            return
        self._poll.stop()
        self._tracking = None
        self.seek(self.review.index)
        if self._tracking_error:
            self.position.setText(f"tracking failed: {self._tracking_error}")

    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    @property
    def index(self) -> int:
        return self.review.index

    def seek(self, n: int) -> None:
        self._show(self.review.go(n))

    def step(self, delta: int) -> None:
        self.pause()
        self._show(self.review.step(delta))

    def play(self) -> None:
        times = self.review.video.times
        interval = (times[-1] - times[0]) / max(len(times) - 1, 1)
        self.timer.start(max(int(interval * 1000), 1))

    def pause(self) -> None:
        self.timer.stop()

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def _advance(self) -> None:
        if self.review.index >= len(self.review) - 1:
            self.pause()
            return
        self._show(self.review.step(1))

    def _show(self, image) -> None:
        self.view.set_frame(image)
        self.slider.blockSignals(True)
        self.slider.setValue(self.review.index)
        self.slider.blockSignals(False)
        self.position.setText(f"frame {self.review.index} / {len(self.review) - 1}   {self.review.time:.3f} s")

    def _clicked(self, x: float, y: float, button, modifiers) -> None:
        if self.tracking:
            return  # the model is busy with the file
        self.pause()  # a prompt is on the frame shown: playing on would move away from it
        more = self._last_object is not None and (button == Qt.MouseButton.RightButton or
                                                  bool(modifiers & Qt.KeyboardModifier.ShiftModifier))
        positive = button != Qt.MouseButton.RightButton
        if not positive and not more:
            return  # a background point needs an object
        self._last_object = self.review.click(x, y, positive, self._last_object if more else None)
        self.view.set_frame(self.review.annotated())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Space:
            self.toggle()
        elif key == Qt.Key.Key_Left:
            self.step(-1)
        elif key == Qt.Key.Key_Right:
            self.step(1)
        elif key == Qt.Key.Key_T:
            self.track()
        else:
            super().keyPressEvent(event)

    def closeEvent(self, event) -> None:
        self.pause()
        if self._tracking is not None:
            self._tracking.join()  # the worker reads the video: it finishes before the file closes
        self.review.close()
        super().closeEvent(event)
