"""The video widget: the newest annotated frame, letterboxed, and the mouse prompts on it."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PyQt6.QtWidgets import QApplication, QSizePolicy, QWidget

from .geometry import fit_rect, widget_to_frame


def bgr_to_qimage(image: np.ndarray) -> QImage:
    """A QImage sharing `image`'s memory (keep the array alive as long as the QImage)."""
    image = np.ascontiguousarray(image)
    h, w = image.shape[:2]
    return QImage(image.data, w, h, image.strides[0], QImage.Format.Format_BGR888)


class VideoView(QWidget):
    """Shows frames scaled to fit with their aspect kept. A click (press and release within a
    few pixels) emits `pointClicked(x, y, button, modifiers)` in frame pixels; a drag emits
    `boxDrawn(x1, y1, x2, y2)`. Clicks on the bars around the image are ignored."""

    pointClicked = pyqtSignal(float, float, object, object)  # x, y, Qt.MouseButton, Qt.KeyboardModifier
    boxDrawn = pyqtSignal(float, float, float, float)
    dragged = pyqtSignal(float, float, float, float)  # from (x1, y1) to (x2, y2), in the drag's direction (lines)
    pressed = pyqtSignal()  # any mouse press (a camera tile is selected by it)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 120)
        self.setMouseTracking(False)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self._array: np.ndarray | None = None
        self._image: QImage | None = None
        self._press: QPointF | None = None
        self._press_button = Qt.MouseButton.NoButton
        self._drag_to: QPointF | None = None
        self.placeholder = "No source. Open a video file, a camera or a stream: Ctrl+O"
        self.overlay: str | None = None  # an error drawn over the last frame (a failed camera)

    # ------------------------------------------------------------------ frames
    def set_frame(self, image: np.ndarray | None) -> None:
        self._array = None if image is None else np.ascontiguousarray(image)
        self._image = None if self._array is None else bgr_to_qimage(self._array)
        self.update()

    @property
    def frame(self) -> np.ndarray | None:
        return self._array

    def frame_size(self) -> QSize:
        return QSize() if self._array is None else QSize(self._array.shape[1], self._array.shape[0])

    def set_placeholder(self, text: str) -> None:
        self.placeholder = text
        if self._image is None:
            self.update()

    def set_overlay(self, text: str | None) -> None:
        if text != self.overlay:
            self.overlay = text
            self.update()

    def image_rect(self) -> QRectF:
        """Where the frame is drawn, in widget pixels."""
        return QRectF(*fit_rect(self.size(), self.frame_size()))

    def to_frame(self, pos: QPointF, clamp: bool = False) -> tuple[float, float] | None:
        if self._array is None:
            return None
        return widget_to_frame(pos, self.size(), self.frame_size(), clamp=clamp)

    def sizeHint(self) -> QSize:
        return QSize(960, 720)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(24, 24, 27))
        if self._image is None:
            if self.overlay:
                self._draw_overlay(painter)
                return
            painter.setPen(QColor(170, 170, 175))
            painter.drawText(self.rect().adjusted(20, 20, -20, -20),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(self.image_rect(), self._image)
        if self._press is not None and self._drag_to is not None:
            pen = QPen(QColor(255, 255, 255), 1.5, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.setBrush(QColor(255, 255, 255, 40))
            painter.drawRect(QRectF(self._press, self._drag_to).normalized())
        if self.overlay:
            self._draw_overlay(painter)

    def _draw_overlay(self, painter: QPainter) -> None:
        painter.fillRect(self.rect(), QColor(107, 32, 32, 190))
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(self.rect().adjusted(16, 16, -16, -16),
                         Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.overlay)

    # ------------------------------------------------------------------ mouse
    def _is_drag(self, pos: QPointF) -> bool:
        if self._press is None:
            return False
        delta = pos - self._press
        return abs(delta.x()) + abs(delta.y()) >= min(QApplication.startDragDistance(), 6)  # "a few pixels"

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.pressed.emit()
        if event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton) and self._array is not None:
            self._press = event.position()
            self._press_button = event.button()
            self._drag_to = None
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._press is not None and self._press_button == Qt.MouseButton.LeftButton:
            if self._drag_to is not None or self._is_drag(event.position()):
                self._drag_to = event.position()
                self.update()
            event.accept()
        else:
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._press is None or event.button() != self._press_button:
            super().mouseReleaseEvent(event)
            return
        start, pos, button = self._press, event.position(), self._press_button
        dragged = self._drag_to is not None or (button == Qt.MouseButton.LeftButton and self._is_drag(pos))
        self._press, self._drag_to = None, None
        self.update()
        event.accept()
        if dragged:
            a, b = self.to_frame(start, clamp=True), self.to_frame(pos, clamp=True)
            if a is not None and b is not None:
                self.dragged.emit(a[0], a[1], b[0], b[1])
                x1, x2 = sorted((a[0], b[0]))
                y1, y2 = sorted((a[1], b[1]))
                if x2 - x1 >= 2 and y2 - y1 >= 2:  # a box squashed against the border is no box
                    self.boxDrawn.emit(x1, y1, x2, y2)
            return
        point = self.to_frame(pos)
        if point is not None:
            self.pointClicked.emit(point[0], point[1], button, event.modifiers())
