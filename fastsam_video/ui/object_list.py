"""The object list: id with its overlay colour, how it was picked, and its tracking state."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QBrush, QColor, QIcon, QPixmap
from PyQt6.QtWidgets import QAbstractItemView, QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from ..render import color_of

STATE_COLORS = {"tracked": QColor(70, 170, 90), "occluded": QColor(110, 160, 90), "predicted": QColor(190, 170, 60),
                "lost": QColor(220, 150, 40), "not found": QColor(210, 80, 70),
                "dropped": QColor(150, 150, 150), "pending": QColor(140, 140, 160)}


def swatch(object_id: int, size: int = 14) -> QIcon:
    b, g, r = color_of(object_id)
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(r, g, b))
    return QIcon(pixmap)


class ObjectList(QTreeWidget):
    """Rows keyed by object id, updated in place (the selection survives updates)."""

    selectionChangedTo = pyqtSignal(object)  # int | None

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setColumnCount(3)
        self.setHeaderLabels(["Object", "Prompt", "State"])
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.header().setStretchLastSection(True)
        self._items: dict[int, QTreeWidgetItem] = {}
        self.itemSelectionChanged.connect(lambda: self.selectionChangedTo.emit(self.selected_id()))

    def selected_id(self) -> int | None:
        items = self.selectedItems()
        return int(items[0].data(0, Qt.ItemDataRole.UserRole)) if items else None

    def select(self, object_id: int | None) -> None:
        item = self._items.get(object_id) if object_id is not None else None
        if item is None:
            self.clearSelection()
        else:
            self.setCurrentItem(item)
            item.setSelected(True)

    def rows(self) -> list[tuple[int, str, str]]:
        """(id, kind, state) in display order (for tests and the status line)."""
        return [(int(self.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole)), self.topLevelItem(i).text(1),
                 self.topLevelItem(i).text(2)) for i in range(self.topLevelItemCount())]

    def set_rows(self, rows: list[tuple[int, str, str, str]]) -> None:
        """rows: (id, kind, detail, state). Adds, updates and removes rows in place."""
        wanted = {row[0] for row in rows}
        for object_id in [i for i in self._items if i not in wanted]:
            item = self._items.pop(object_id)
            self.takeTopLevelItem(self.indexOfTopLevelItem(item))
        for object_id, kind, detail, state in rows:
            item = self._items.get(object_id)
            if item is None:
                item = QTreeWidgetItem([f"{object_id}", kind, state])
                item.setData(0, Qt.ItemDataRole.UserRole, object_id)
                item.setIcon(0, swatch(object_id))
                self._items[object_id] = item
                self.addTopLevelItem(item)
            if item.text(1) != kind:
                item.setText(1, kind)
            if item.text(2) != state:
                item.setText(2, state)
                color = next((c for k, c in STATE_COLORS.items() if state.startswith(k)), QColor(200, 200, 200))
                item.setForeground(2, QBrush(color))
            item.setToolTip(1, detail)
