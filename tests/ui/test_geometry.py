"""widget_to_frame / frame_to_widget: letterboxing on either axis, two window sizes."""

from __future__ import annotations

import pytest

from fastsam_video.ui.geometry import fit_rect, frame_to_widget, widget_to_frame

FRAME = (320, 240)  # width, height (4:3)


def test_same_aspect_scales_without_bars():
    assert fit_rect((640, 480), FRAME) == (0, 0, 640, 480)
    assert widget_to_frame((0, 0), (640, 480), FRAME) == (0, 0)
    assert widget_to_frame((100, 50), (640, 480), FRAME) == (50, 25)
    assert widget_to_frame((639, 479), (640, 480), FRAME) == pytest.approx((319.5, 239.5))


@pytest.mark.parametrize("widget", [(800, 300), (1600, 600)])
def test_wide_widget_has_bars_left_and_right(widget):
    w, h = widget
    scale = h / 240
    x0, y0, dw, dh = fit_rect(widget, FRAME)
    assert (y0, dh) == (0, h) and dw == pytest.approx(320 * scale) and x0 == pytest.approx((w - 320 * scale) / 2)
    # the frame centre is the widget centre at any size
    assert widget_to_frame((w / 2, h / 2), widget, FRAME) == pytest.approx((160, 120))
    # a point on the image: its frame position does not depend on the window size
    assert widget_to_frame((x0 + 40 * scale, 200 * scale), widget, FRAME) == pytest.approx((40, 200))
    # the bars are not the image
    assert widget_to_frame((x0 / 2, h / 2), widget, FRAME) is None
    assert widget_to_frame((w - x0 / 2, h / 2), widget, FRAME) is None
    assert widget_to_frame((x0 - 0.5, 10), widget, FRAME) is None
    assert widget_to_frame((x0 + dw, 10), widget, FRAME) is None  # the right edge is outside: [0, width)


@pytest.mark.parametrize("widget", [(300, 700), (600, 1400)])
def test_tall_widget_has_bars_top_and_bottom(widget):
    w, h = widget
    scale = w / 320
    x0, y0, dw, dh = fit_rect(widget, FRAME)
    assert (x0, dw) == (0, w) and y0 == pytest.approx((h - 240 * scale) / 2)
    assert widget_to_frame((w / 2, h / 2), widget, FRAME) == pytest.approx((160, 120))
    assert widget_to_frame((300 * scale, y0 + 10 * scale), widget, FRAME) == pytest.approx((300, 10))
    assert widget_to_frame((w / 2, y0 / 2), widget, FRAME) is None
    assert widget_to_frame((w / 2, h - y0 / 2), widget, FRAME) is None


@pytest.mark.parametrize("widget", [(800, 300), (300, 700), (1001, 333)])
def test_frame_to_widget_inverts_widget_to_frame(widget):
    for point in [(0, 0), (12.5, 200), (319, 239), (160, 120)]:
        assert widget_to_frame(frame_to_widget(point, widget, FRAME), widget, FRAME) == pytest.approx(point)


def test_clamp_maps_outside_points_to_the_border():
    widget = (800, 300)  # bars left and right
    assert widget_to_frame((0, -50), widget, FRAME, clamp=True) == (0, 0)
    assert widget_to_frame((800, 400), widget, FRAME, clamp=True) == (320, 240)


def test_no_frame_or_empty_widget_maps_nothing():
    assert widget_to_frame((5, 5), (640, 480), (0, 0)) is None
    assert widget_to_frame((5, 5), (0, 0), FRAME) is None


@pytest.mark.qt
def test_qt_types_are_accepted():
    from PyQt6.QtCore import QPointF, QSize

    assert widget_to_frame(QPointF(100, 50), QSize(640, 480), QSize(320, 240)) == (50, 25)
