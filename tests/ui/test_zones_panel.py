"""The window's Zones panel: draw a zone (clicks, double-click closes) and a line (drag), see
the counts live and the outline in the video, cancel with Esc, delete."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import QEvent, QPointF, Qt

from fastsam_video.analytics import Line
from fastsam_video.ui.zones_panel import ZoneDrawing
from tests.ui.conftest import CLIP
from tests.ui.test_window import WAIT, centre, ground_truth, send, widget_pos

pytestmark = pytest.mark.qt


def test_zone_drawing_gestures():
    drawing = ZoneDrawing("zone", "door", (320, 240))
    for t, (x, y) in enumerate([(0, 0), (160, 0), (160, 120)]):
        assert drawing.click(x, y, 0.4, now=float(t)) is None
    zone = drawing.click(161, 121, 0.4, now=2.1)  # the double-click's second click closes it
    assert zone.polygon == ((0, 0), (0.5, 0), (0.5, 0.5))
    line = ZoneDrawing("line", "gate", (320, 240)).drag(320, 240, 0, 0)
    assert line == Line("gate", (1.0, 1.0), (0.0, 0.0))  # the drag's direction is the line's


def test_zones_panel_draws_counts_and_deletes(qtbot, make_window, ui_segmenter):
    window = make_window(ui_segmenter)
    window.loop_action.setChecked(True)  # the clip plays on while the test draws
    results = []
    window.resultShown.connect(results.append)
    window.open_source(str(CLIP))
    qtbot.waitUntil(lambda: len(results) > 0, timeout=WAIT)
    shown = results[-1]
    qtbot.mouseClick(window.view, Qt.MouseButton.LeftButton,
                     pos=widget_pos(window, centre(ground_truth(shown.frame.index, 1))).toPoint())
    h, w = shown.frame.shape
    corners = [(4, 4), (w - 4, 4), (w - 4, h - 4), (4, h - 4)]
    window.zones_panel.name_edit.setText("all")
    window.zones_panel.zone_button.click()
    for corner in corners:
        qtbot.mouseClick(window.view, Qt.MouseButton.LeftButton, pos=widget_pos(window, corner).toPoint())
    qtbot.mouseClick(window.view, Qt.MouseButton.LeftButton, pos=widget_pos(window, corners[-1]).toPoint())
    assert window.zone_editor.drawing is None and len(window.prompts.objects) == 1  # corners are no prompts
    qtbot.waitUntil(lambda: any(r.startswith("all: 1 ") for r in window.zones_panel.rows()), timeout=WAIT)
    # the outline is in the video the window shows (red: something inside)
    qtbot.waitUntil(lambda: tuple(results[-1].annotated[4, w // 2]) == (40, 40, 240), timeout=WAIT)
    # a line by a drag, in the drag's direction; Esc cancels a drawing
    window.zones_panel.name_edit.setText("mid")
    window.zones_panel.line_button.click()
    a, b = widget_pos(window, (w / 2, h - 10)), widget_pos(window, (w / 2, 10))
    send(window.view, QEvent.Type.MouseButtonPress, a, Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton)
    send(window.view, QEvent.Type.MouseMove, QPointF(a.x(), (a.y() + b.y()) / 2), Qt.MouseButton.NoButton,
         Qt.MouseButton.LeftButton)
    send(window.view, QEvent.Type.MouseMove, b, Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton)
    send(window.view, QEvent.Type.MouseButtonRelease, b, Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton)
    line = window.pipeline.zones_of(0).get("mid")
    assert isinstance(line, Line) and line.start[1] > line.end[1] and np.isclose(line.start[0], 0.5, atol=0.02)
    assert len(window.prompts.objects) == 1  # the drag made no box object
    window.zones_panel.zone_button.click()
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert window.zone_editor.drawing is None
    qtbot.waitUntil(lambda: any(r.startswith("mid: in") for r in window.zones_panel.rows()), timeout=WAIT)
    window.zones_panel.zone_list.setCurrentRow(0)
    window.zones_panel.delete_button.click()
    assert [r.name for r in window.pipeline.zones_of(0)] == ["mid"]
