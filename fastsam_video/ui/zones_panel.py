"""The Zones panel: name a zone or line, draw it on the video (a zone: click its corners,
double-click to close; a line: drag from its first to its second point), see each one's counts
live, delete it. `ZoneDrawing` is the Qt-free gesture logic; the window routes the view's
clicks and drags to it while a drawing is under way."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (QApplication, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem,
                             QPushButton, QVBoxLayout, QWidget)

from ..analytics.geometry import Line, Region, Zone, ZoneError, ZoneSet

CLOSE_PIXELS = 6.0  # a second click this near the last corner, quickly, closes the zone


@dataclass
class ZoneDrawing:
    """One zone or line being drawn, in frame pixels of a `size` (width, height) frame."""

    kind: str  # "zone" or "line"
    name: str
    size: tuple[int, int]
    points: list[tuple[float, float]] = field(default_factory=list)
    last_click: float = 0.0

    def _unit(self, x: float, y: float) -> tuple[float, float]:
        w, h = self.size
        return min(max(x / w, 0.0), 1.0), min(max(y / h, 0.0), 1.0)

    def click(self, x: float, y: float, interval: float, now: float | None = None) -> Region | None:
        """A click at (x, y); the finished Zone when it closes the polygon (a double-click)."""
        now = time.monotonic() if now is None else now
        if self.kind != "zone":
            return None
        if self.points and now - self.last_click <= interval and \
                abs(self.points[-1][0] - x) + abs(self.points[-1][1] - y) <= CLOSE_PIXELS:
            return self.finish()
        self.points.append((x, y))
        self.last_click = now
        return None

    def drag(self, x1: float, y1: float, x2: float, y2: float) -> Region | None:
        """A drag from (x1, y1) to (x2, y2): the finished Line."""
        if self.kind != "line":
            return None
        return Line(self.name, self._unit(x1, y1), self._unit(x2, y2))

    def finish(self) -> Zone:
        """The zone of the corners so far (ZoneError when they cannot make one)."""
        return Zone(self.name, tuple(self._unit(x, y) for x, y in self.points))


class ZonesPanel(QGroupBox):
    """`drawRequested(kind, name)` from Draw zone / Draw line; `deleteRequested(name)`."""

    drawRequested = pyqtSignal(str, str)
    deleteRequested = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Zones", parent)
        box = QVBoxLayout(self)
        row = QHBoxLayout()
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("name, e.g. door")
        row.addWidget(self.name_edit, 1)
        self.zone_button = QPushButton("Draw zone")
        self.line_button = QPushButton("Draw line")
        self.zone_button.clicked.connect(lambda: self.drawRequested.emit("zone", self.name_edit.text().strip()))
        self.line_button.clicked.connect(lambda: self.drawRequested.emit("line", self.name_edit.text().strip()))
        row.addWidget(self.zone_button)
        row.addWidget(self.line_button)
        box.addLayout(row)
        self.hint = QLabel("zone: click its corners, double-click to close · line: drag from its first to its "
                           "second point (in = crossing to its right) · Esc cancels")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: gray; font-size: 11px")
        box.addWidget(self.hint)
        self.zone_list = QListWidget()
        self.zone_list.setMaximumHeight(110)
        box.addWidget(self.zone_list)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self._delete)
        box.addWidget(self.delete_button)

    def _delete(self) -> None:
        item = self.zone_list.currentItem()
        if item is not None:
            self.deleteRequested.emit(item.data(0x0100))  # Qt.ItemDataRole.UserRole

    def show_zones(self, rows: list[tuple[str, str]]) -> None:
        """(name, text) per zone or line, in order; the selection is kept."""
        current = self.zone_list.currentItem()
        keep = current.data(0x0100) if current is not None else None
        if [(self.zone_list.item(i).data(0x0100), self.zone_list.item(i).text())
                for i in range(self.zone_list.count())] == [(n, t) for n, t in rows]:
            return
        self.zone_list.clear()
        for name, text in rows:
            item = QListWidgetItem(text)
            item.setData(0x0100, name)
            self.zone_list.addItem(item)
            if name == keep:
                self.zone_list.setCurrentItem(item)

    def rows(self) -> list[str]:
        return [self.zone_list.item(i).text() for i in range(self.zone_list.count())]

    def set_drawing(self, kind: str | None) -> None:
        self.zone_button.setText("Drawing zone..." if kind == "zone" else "Draw zone")
        self.line_button.setText("Drawing line..." if kind == "line" else "Draw line")


def double_click_seconds() -> float:
    return QApplication.doubleClickInterval() / 1000


__all__ = ["ZoneDrawing", "ZonesPanel", "ZoneError", "double_click_seconds"]


class ZoneEditor:
    """The window's side of zones: the panel, the drawing under way, and the pipeline's zones of
    the selected camera. `pipeline()` / `camera()` / `frame_size(camera)` read the window's
    state; `status(text)` / `error(text)` report; `changed()` follows each zone added or deleted."""

    def __init__(self, panel: ZonesPanel, pipeline, camera, frame_size, status, error, changed=lambda: None):
        self.panel = panel
        self._changed = changed
        self._pipeline, self._camera, self._frame_size = pipeline, camera, frame_size
        self._status, self._error = status, error
        self.drawing: ZoneDrawing | None = None
        self.zones: dict[int, ZoneSet] = {}  # per camera: kept when the pipeline restarts (a file looping)
        self._seen = None  # the pipeline the zones were last applied to
        panel.drawRequested.connect(self.start)
        panel.deleteRequested.connect(self.delete)

    def start(self, kind: str, name: str) -> None:
        pipeline = self._pipeline()
        size = self._frame_size(self._camera())
        if pipeline is None or size is None:
            self._error("open a source first: zones are drawn on its video")
            return
        if not name:
            self._error("name the zone or line first (e.g. door)")
            return
        self.drawing = ZoneDrawing(kind, name, size)
        self.panel.set_drawing(kind)
        self._status(f"{kind} {name}: " + ("click its corners, double-click to close" if kind == "zone"
                                           else "drag from its first to its second point"))

    def cancel(self) -> None:
        self.drawing = None
        self.panel.set_drawing(None)

    def click(self, x: float, y: float) -> bool:
        """A click on the video: True when it was part of a drawing (not a prompt)."""
        if self.drawing is None:
            return False
        try:
            region = self.drawing.click(x, y, double_click_seconds())
        except ZoneError as err:
            self._error(str(err))
            self.cancel()
            return True
        if region is not None:
            self._save(region)
        else:
            self._status(f"zone {self.drawing.name}: {len(self.drawing.points)} corners (double-click to close)")
        return True

    def drag(self, x1: float, y1: float, x2: float, y2: float) -> bool:
        if self.drawing is None:
            return False
        if self.drawing.kind == "line":
            try:
                self._save(self.drawing.drag(x1, y1, x2, y2))
            except ZoneError as err:
                self._error(str(err))
                self.cancel()
        return True

    def _save(self, region: Region) -> None:
        self.cancel()
        pipeline, camera = self._pipeline(), self._camera()
        if pipeline is None:
            return
        zones = pipeline.zones_of(camera)
        if zones.get(region.name) is not None:
            self._error(f"{region.kind} {region.name!r}: the name is used already: delete it first or pick another")
            return
        self._set(pipeline, camera, zones.put(region))
        self._status(f"{region.kind} {region.name} added")

    def delete(self, name: str) -> None:
        pipeline = self._pipeline()
        if pipeline is not None:
            camera = self._camera()
            self._set(pipeline, camera, pipeline.zones_of(camera).remove(name))

    def _set(self, pipeline, camera: int, zones: ZoneSet) -> None:
        self.zones[camera] = zones
        pipeline.set_zones(zones, camera)
        self.refresh()
        self._changed()

    def _adopt(self, pipeline) -> None:
        """A new pipeline (a source opened, a file looping): it gets the zones drawn so far;
        cameras with none drawn keep the command line's."""
        self._seen = pipeline
        for camera in pipeline.camera_ids():
            if camera in self.zones:
                pipeline.set_zones(self.zones[camera], camera)
            else:
                self.zones[camera] = pipeline.zones_of(camera)

    def refresh(self) -> None:
        """The selected camera's zones and their counts, in the panel."""
        pipeline = self._pipeline()
        if pipeline is None:
            self.panel.show_zones([])
            return
        if pipeline is not self._seen:
            self._adopt(pipeline)
        camera = self._camera()
        try:
            zones, counts = pipeline.zones_of(camera), {c.name: c for c in pipeline.status(camera).zones}
        except Exception:  # the camera is gone (a new source is opening)
            return
        self.panel.show_zones([(r.name, counts[r.name].label() if r.name in counts else f"{r.name}: -")
                               for r in zones])
