"""The Events panel: the session's events, newest at the top; a double-click shows the event's
snapshot (the annotated frame it happened on) in a window of its own."""

from __future__ import annotations

import time

import numpy as np
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QImage, QPixmap
from PyQt6.QtWidgets import QDialog, QGroupBox, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from ..events import Event, EventKind

MAX_ROWS = 500  # rows kept (the oldest go)
MAX_FRAME_BYTES = 200 * 2**20  # the newest rows keep their frame (a reference to the result's image, no
# copy) within this much memory: about 70 frames at 720p; events of one frame share it
QUIET = {EventKind.RECORDING_SEGMENT}  # bookkeeping, not shown


def to_pixmap(image_bgr: np.ndarray) -> QPixmap:
    rgb = np.ascontiguousarray(image_bgr[:, :, ::-1])
    h, w = rgb.shape[:2]
    return QPixmap.fromImage(QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy())


def row_text(event: Event, camera_name: str) -> str:
    return f"{time.strftime('%H:%M:%S', time.localtime(event.wall_time))}  {camera_name}: {event.message()}"


class SnapshotDialog(QDialog):
    """One event's frame, at its own size (scaled down to fit 1280 x 800)."""

    def __init__(self, title: str, image_bgr: np.ndarray, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(title)
        box = QVBoxLayout(self)
        self.image = QLabel()
        pixmap = to_pixmap(image_bgr)
        if pixmap.width() > 1280 or pixmap.height() > 800:
            pixmap = pixmap.scaled(1280, 800, Qt.AspectRatioMode.KeepAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation)
        self.image.setPixmap(pixmap)
        box.addWidget(self.image)
        caption = QLabel(title)
        caption.setWordWrap(True)
        box.addWidget(caption)


class EventsPanel(QGroupBox):
    """`add(event, frame, camera_name)` on the UI thread; `snapshotShown(dialog)` after a double-click."""

    snapshotShown = pyqtSignal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Events", parent)
        box = QVBoxLayout(self)
        self.list = QListWidget()
        self.list.setMinimumHeight(90)
        self.list.setToolTip("double-click: the frame of the event")
        self.list.itemDoubleClicked.connect(self.show_snapshot)
        box.addWidget(self.list)
        self._frames: list[QListWidgetItem] = []  # rows holding a frame, oldest first
        self._bytes = 0  # memory of the distinct frames they hold
        self.dialog: SnapshotDialog | None = None

    def add(self, event: Event, frame: np.ndarray | None, camera_name: str) -> None:
        if event.kind in QUIET:
            return
        item = QListWidgetItem(row_text(event, camera_name))
        item.setData(Qt.ItemDataRole.UserRole, (event, frame))
        if frame is None:
            item.setForeground(Qt.GlobalColor.gray)
        else:
            if not any(f is frame for f in self._frame_refs()):
                self._bytes += frame.nbytes
            self._frames.append(item)
            while self._bytes > MAX_FRAME_BYTES and len(self._frames) > 1:
                self._drop_frame(self._frames[0])
        self.list.insertItem(0, item)
        while self.list.count() > MAX_ROWS:
            gone = self.list.takeItem(self.list.count() - 1)
            if gone in self._frames:
                self._drop_frame(gone)

    def _frame_refs(self) -> list[np.ndarray]:
        return [item.data(Qt.ItemDataRole.UserRole)[1] for item in self._frames]

    def _drop_frame(self, item: QListWidgetItem) -> None:
        """The row forgets its frame (its memory is freed once no other row holds it)."""
        self._frames.remove(item)
        event, frame = item.data(Qt.ItemDataRole.UserRole)
        item.setData(Qt.ItemDataRole.UserRole, (event, None))
        item.setForeground(Qt.GlobalColor.gray)
        if not any(f is frame for f in self._frame_refs()):
            self._bytes -= frame.nbytes

    def events(self) -> list[Event]:
        """The rows' events, newest first."""
        return [self.list.item(k).data(Qt.ItemDataRole.UserRole)[0] for k in range(self.list.count())]

    def show_snapshot(self, item: QListWidgetItem) -> None:
        event, frame = item.data(Qt.ItemDataRole.UserRole)
        if frame is None:
            self.window().statusBar().showMessage("no frame kept for this event (a camera event, or an old row)", 4000)
            return
        self.dialog = SnapshotDialog(item.text(), frame, self)
        self.dialog.show()
        self.snapshotShown.emit(self.dialog)
