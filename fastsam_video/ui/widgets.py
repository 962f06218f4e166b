"""Small widgets of the main window: the error banner and the shortcuts overlay."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

# (keys, what) for the help overlay and the Help menu; the window's actions use the same keys.
SHORTCUTS = [
    ("Ctrl+O", "Open a file, camera or stream"),
    ("Ctrl+Shift+O", "Open a video file"),
    ("F5", "Restart the current source"),
    ("Ctrl+W", "Close the source"),
    ("L", "Loop video files"),
    ("Space", "Pause / play a video file"),
    ("Left / Right", "One frame back / forward (a video file)"),
    ("Ctrl+R", "Start / stop recording"),
    ("Ctrl+S", "Save a snapshot (PNG)"),
    ("E", "Everything mode: show every mask"),
    ("A", "Clicks add points to the selected object"),
    ("T", "Type a text prompt"),
    ("Delete", "Remove the selected object"),
    ("Shift+Delete", "Clear all objects"),
    ("F11", "Full screen"),
    ("F1", "Show / hide this help"),
    ("Ctrl+Q", "Quit"),
]
MOUSE = [
    ("Click", "New object under the pointer"),
    ("Drag", "New object from a box"),
    ("Right click / Shift+click", "Background point for the selected object"),
    ("Ctrl+click", "Foreground point for the selected object"),
]


class Banner(QFrame):
    """A dismissable one-line message above the video (errors are never modal)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("banner")
        self.setStyleSheet("#banner { background: #6b2020; border-radius: 4px; } "
                           "QLabel { color: white; } QToolButton { color: white; border: none; }")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 6, 6)
        row.addWidget(self.label, 1)
        row.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_message(self, text: str) -> None:
        self.label.setText(text)
        self.show()

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""


class HelpOverlay(QLabel):
    """The shortcuts, drawn over the video; F1, Esc or a click hides it."""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        rows = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in MOUSE)
        rows += "<tr><td colspan=2><hr></td></tr>"
        rows += "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in SHORTCUTS)
        self.setText(f"<h3>fastsam-video</h3><table cellspacing=6>{rows}</table>")
        self.setStyleSheet("background: rgba(15, 15, 20, 215); color: white; padding: 16px; border-radius: 8px;")
        self.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.hide()

    def mousePressEvent(self, event) -> None:
        self.hide()

    def place(self) -> None:
        self.adjustSize()
        parent = self.parentWidget()
        self.move(max(0, (parent.width() - self.width()) // 2), max(0, (parent.height() - self.height()) // 2))
        self.raise_()
