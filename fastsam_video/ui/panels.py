"""The side panels of the main window: Objects, Recording and Performance. They hold widgets
only; what they show comes from `window_state` and the window wires their actions."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import (QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSizePolicy,
                             QToolButton, QVBoxLayout, QWidget)

from .object_list import ObjectList
from .window_state import STAT_TITLES


def tool_button(action: QAction, text: str | None = None) -> QToolButton:
    """A text-only button that triggers (and shows the state of) `action`."""
    button = QToolButton()
    button.setDefaultAction(action)
    if text:
        button.setText(text)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    return button


class ObjectsPanel(QGroupBox):
    """The object list, its buttons, the gesture hint and the text prompt field
    (`textEntered` with the field's text on Enter or Add)."""

    textEntered = pyqtSignal(str)

    def __init__(self, *, remove: QAction, clear: QAction, everything: QAction, add_to_selected: QAction,
                 parent: QWidget | None = None):
        super().__init__("Objects", parent)
        box = QVBoxLayout(self)
        self.object_list = ObjectList()
        self.object_list.setMinimumHeight(120)
        box.addWidget(self.object_list, 1)
        for pair in ((remove, "Remove"), (clear, "Clear all")), ((everything, "Everything"),
                                                                 (add_to_selected, "Add to selected")):
            row = QHBoxLayout()
            for action, text in pair:
                row.addWidget(tool_button(action, text))
            box.addLayout(row)
        hint = QLabel("Click: new object · drag: box · right/shift-click: background point · "
                      "ctrl-click: add a point to the selected object")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: gray; font-size: 11px")
        box.addWidget(hint)
        row = QHBoxLayout()
        self.text_edit = QLineEdit()
        self.text_edit.setPlaceholderText("text prompt, e.g. a dog")
        self.text_edit.returnPressed.connect(self._entered)
        self.text_button = QPushButton("Add")
        self.text_button.clicked.connect(self._entered)
        row.addWidget(self.text_edit, 1)
        row.addWidget(self.text_button)
        box.addLayout(row)

    def _entered(self) -> None:
        self.textEntered.emit(self.text_edit.text())


class RecordingPanel(QGroupBox):
    """Record / Stop and Snapshot, and a line saying where files go or what is recording."""

    def __init__(self, *, record: QAction, snapshot: QAction, parent: QWidget | None = None):
        super().__init__("Recording", parent)
        box = QVBoxLayout(self)
        row = QHBoxLayout()
        self.record_button = tool_button(record, "● Record")
        row.addWidget(self.record_button)
        row.addWidget(tool_button(snapshot, "Snapshot"))
        box.addLayout(row)
        self.record_label = QLabel()
        self.record_label.setWordWrap(True)
        box.addWidget(self.record_label)

    def show_state(self, text: str, path: str | None) -> None:
        """`text` from `window_state.recording_text`; `path`: the file recording, or None."""
        self.record_button.setText("● Record" if path is None else "■ Stop")
        self.record_label.setText(text)
        self.record_label.setToolTip(path or "")
        self.record_label.setStyleSheet("color: gray" if path is None else "color: #e5484d; font-weight: bold")


class StatsPanel(QGroupBox):
    """Performance: one selectable value per `window_state.STAT_TITLES` entry."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Performance", parent)
        form = QFormLayout(self)
        self.labels: dict[str, QLabel] = {}
        for key, title in STAT_TITLES:
            label = QLabel("–")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.labels[key] = label
            form.addRow(title, label)

    def show_texts(self, texts: dict[str, str]) -> None:
        for key, text in texts.items():
            self.labels[key].setText(text)

    def text(self) -> str:
        return " | ".join(f"{k} {v.text()}" for k, v in self.labels.items())
