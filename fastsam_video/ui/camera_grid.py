"""Several cameras in one window: a grid of tiles, each a VideoView with its camera's
number, display-safe name and stats line. With one camera the tile shows no chrome, so the
window looks as it does with one source."""

from __future__ import annotations

import math

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from .video_view import VideoView

COLUMNS = 2


class CameraTile(QFrame):
    """One camera: a title ("1 · name"), its VideoView and a stats line."""

    def __init__(self, index: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.index = index
        self.setObjectName("tile")
        self.title = QLabel()
        self.title.setStyleSheet("font-weight: bold")
        self.view = VideoView()
        self.stats = QLabel("–")
        self.stats.setStyleSheet("color: gray; font-size: 11px")
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(self.title)
        column.addWidget(self.view, 1)
        column.addWidget(self.stats)
        self._chrome = False
        self._selected = False
        self.set_chrome(False)

    def set_name(self, name: str) -> None:
        self.title.setText(f"{self.index + 1} · {name}")
        self.title.setToolTip(name)

    def set_chrome(self, on: bool) -> None:
        """Title, stats line and the selection frame: only with several cameras."""
        self._chrome = on
        self.title.setVisible(on)
        self.stats.setVisible(on)
        self.layout().setContentsMargins(*(3,) * 4 if on else (0,) * 4)
        self._style()

    def set_selected(self, on: bool) -> None:
        self._selected = on
        self._style()

    @property
    def selected(self) -> bool:
        return self._selected

    def _style(self) -> None:
        if self._chrome:
            colour = "#3b82f6" if self._selected else "#3f3f46"
            self.setStyleSheet(f"#tile {{ border: 2px solid {colour}; border-radius: 4px; }}")
        else:
            self.setStyleSheet("")


class CameraGrid(QWidget):
    """The tiles, COLUMNS per row. Tile 0 (and so its view) lives as long as the grid."""

    activated = pyqtSignal(int)  # a tile was pressed
    pointClicked = pyqtSignal(int, float, float, object, object)  # camera, x, y, button, modifiers
    boxDrawn = pyqtSignal(int, float, float, float, float)
    dragged = pyqtSignal(int, float, float, float, float)  # camera, from (x1, y1) to (x2, y2)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._layout = QGridLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(4)
        self.tiles: list[CameraTile] = []
        self.set_count(1)

    def _make(self, index: int) -> CameraTile:
        tile = CameraTile(index)
        view = tile.view
        view.pressed.connect(lambda i=index: self.activated.emit(i))
        view.pointClicked.connect(lambda x, y, b, m, i=index: self.pointClicked.emit(i, x, y, b, m))
        view.boxDrawn.connect(lambda x1, y1, x2, y2, i=index: self.boxDrawn.emit(i, x1, y1, x2, y2))
        view.dragged.connect(lambda x1, y1, x2, y2, i=index: self.dragged.emit(i, x1, y1, x2, y2))
        return tile

    def set_count(self, count: int) -> None:
        count = max(1, count)
        while len(self.tiles) > count:
            tile = self.tiles.pop()
            self._layout.removeWidget(tile)
            tile.deleteLater()
        while len(self.tiles) < count:
            self.tiles.append(self._make(len(self.tiles)))
        columns = 1 if count == 1 else COLUMNS
        for i, tile in enumerate(self.tiles):
            self._layout.addWidget(tile, i // columns, i % columns)
            tile.set_chrome(count > 1)
            tile.show()
        for r in range(math.ceil(count / columns) + 2):
            self._layout.setRowStretch(r, 1 if r < math.ceil(count / columns) else 0)
        for c in range(COLUMNS):
            self._layout.setColumnStretch(c, 1 if c < columns else 0)

    def select(self, index: int) -> None:
        for i, tile in enumerate(self.tiles):
            tile.set_selected(i == index)

    def __len__(self) -> int:
        return len(self.tiles)


__all__ = ["COLUMNS", "CameraGrid", "CameraTile"]
