"""Where the letterboxed frame lies inside the video widget, and mapping between the two.

Pure functions, no Qt: sizes are (width, height) pairs (tuples or anything with
width()/height(), like QSize), positions (x, y) pairs (or anything with x()/y(), like
QPointF). Coordinates are continuous: the frame spans [0, width) x [0, height), so
frame pixel (i, j) covers [i, i + 1) x [j, j + 1); the tracker rounds to a pixel.
"""

from __future__ import annotations

from typing import Any


def _pair(value: Any, first: str, second: str) -> tuple[float, float]:
    if hasattr(value, first):
        return float(getattr(value, first)()), float(getattr(value, second)())
    a, b = value
    return float(a), float(b)


def fit_rect(widget_size: Any, frame_size: Any) -> tuple[float, float, float, float]:
    """(x, y, width, height) of the frame scaled to fit the widget with its aspect kept,
    centred (bars left/right or top/bottom). All zeros when either size is empty."""
    ww, wh = _pair(widget_size, "width", "height")
    fw, fh = _pair(frame_size, "width", "height")
    if min(ww, wh, fw, fh) <= 0:
        return 0.0, 0.0, 0.0, 0.0
    scale = min(ww / fw, wh / fh)
    dw, dh = fw * scale, fh * scale
    return (ww - dw) / 2, (wh - dh) / 2, dw, dh


def widget_to_frame(pos: Any, widget_size: Any, frame_size: Any, *,
                    clamp: bool = False) -> tuple[float, float] | None:
    """The frame point under widget position `pos`, or None where `pos` is on the bars
    around the image (or outside the widget). With `clamp=True` a position outside the
    image maps to the nearest point on its border instead (for box corners)."""
    x0, y0, dw, dh = fit_rect(widget_size, frame_size)
    if dw <= 0 or dh <= 0:
        return None
    fw, fh = _pair(frame_size, "width", "height")
    px, py = _pair(pos, "x", "y")
    fx = (px - x0) * fw / dw
    fy = (py - y0) * fh / dh
    if clamp:
        return min(max(fx, 0.0), fw), min(max(fy, 0.0), fh)
    if not (0.0 <= fx < fw and 0.0 <= fy < fh):
        return None
    return fx, fy


def frame_to_widget(point: Any, widget_size: Any, frame_size: Any) -> tuple[float, float]:
    """Where frame point `point` is drawn in the widget (the inverse of widget_to_frame)."""
    x0, y0, dw, dh = fit_rect(widget_size, frame_size)
    fw, fh = _pair(frame_size, "width", "height")
    fx, fy = _pair(point, "x", "y")
    if fw <= 0 or fh <= 0:
        return x0, y0
    return x0 + fx * dw / fw, y0 + fy * dh / fh
