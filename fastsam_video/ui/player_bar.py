"""The player bar under the video when the window plays a file: a frame back, pause / play, a
frame forward, the seek bar and the position ('frame 120 / 299 · 4.00 s'). It only shows and
asks: `keyPressed` (a button) and `seekRequested` (the slider, by the user) go to the window,
which turns them into playback commands (`player_state`)."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QSlider, QToolButton, QWidget

from ..sources.playback import PlaybackPosition
from .player_state import PlayerKey, enabled, position_text

PLAY, PAUSE = "▶", "❚❚"


class PlayerBar(QWidget):
    keyPressed = pyqtSignal(object)  # PlayerKey
    seekRequested = pyqtSignal(int)  # frame

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.back_button = self._button("◀❙", "One frame back (Left)", PlayerKey.BACK)
        self.play_button = self._button(PAUSE, "Pause (Space)", PlayerKey.TOGGLE)
        self.forward_button = self._button("❙▶", "One frame forward (Right)", PlayerKey.FORWARD)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Left / Right are the window's steps
        self.slider.setToolTip("Seek: drag or click")
        self.slider.setPageStep(10)
        self.slider.valueChanged.connect(self._moved)
        self.position_label = QLabel()
        self.position_label.setMinimumWidth(self.position_label.fontMetrics().horizontalAdvance(
            "frame 00000 / 00000 · 00:00.00") + 8)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        for button in (self.back_button, self.play_button, self.forward_button):
            row.addWidget(button)
        row.addWidget(self.slider, 1)
        row.addWidget(self.position_label)
        self.position: PlaybackPosition | None = None
        self.hide()

    def _button(self, text: str, tip: str, key: PlayerKey) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space stays play / pause, not a click on it
        button.setMinimumWidth(34)
        button.clicked.connect(lambda _=False: self.keyPressed.emit(key))
        return button

    def _moved(self, value: int) -> None:
        self.seekRequested.emit(value)  # programmatic moves are blocked in `show_position`

    def show_position(self, position: PlaybackPosition | None) -> None:
        """Shows `position` (None: no file under playback control; the bar hides)."""
        self.position = position
        self.setVisible(position is not None)
        if position is None:
            return
        allowed = enabled(position)
        self.back_button.setEnabled(allowed.back)
        self.forward_button.setEnabled(allowed.forward)
        self.play_button.setText(PLAY if position.paused else PAUSE)
        self.play_button.setToolTip("Play (Space)" if position.paused else "Pause (Space)")
        self.slider.setEnabled(allowed.seek)
        if not self.slider.isSliderDown():  # while dragging, the slider is the user's
            self.slider.blockSignals(True)
            self.slider.setRange(0, max(position.frames - 1, 0))
            self.slider.setValue(position.frame)
            self.slider.blockSignals(False)
        self.position_label.setText(position_text(position))

    def text(self) -> str:
        return self.position_label.text() if self.isVisible() else ""
