"""The window's parts without a model: the video view's mouse mapping, the result bridge's
stale-frame dropping, the source dialog, shortcuts and the help overlay."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, QPointF, Qt
from PyQt6.QtGui import QMouseEvent
from PyQt6.QtWidgets import QApplication

from fastsam_video.events import Event, EventKind, ObjectState
from fastsam_video.pipeline import Result
from fastsam_video.tracker import ObjectStatus
from fastsam_video.types import Frame, Segmentation
from fastsam_video.ui.geometry import fit_rect, frame_to_widget
from fastsam_video.ui.video_view import VideoView

pytestmark = pytest.mark.qt


def frame_image(width=320, height=240) -> np.ndarray:
    image = np.zeros((height, width, 3), np.uint8)
    image[:, :, 1] = np.linspace(0, 255, width, dtype=np.uint8)[None]
    return image


def fake_result(index: int, *, events=(), objects=()) -> Result:
    image = frame_image()
    frame = Frame(image=image, index=index, t_capture=time.monotonic())
    return Result(frame, Segmentation.empty(240, 320), image, (), tuple(objects), tuple(events), time.monotonic())


def press(widget, kind, pos: QPointF, button=Qt.MouseButton.LeftButton, buttons=None,
          modifiers=Qt.KeyboardModifier.NoModifier):
    buttons = button if buttons is None else buttons
    global_pos = QPointF(widget.mapToGlobal(pos.toPoint()))
    QApplication.sendEvent(widget, QMouseEvent(kind, pos, global_pos, button, buttons, modifiers))


@pytest.fixture
def view(qtbot):
    view = VideoView()
    qtbot.addWidget(view)
    view.set_frame(frame_image())
    view.show()
    qtbot.waitExposed(view)
    return view


@pytest.mark.parametrize("size", [(800, 300), (300, 700)])  # bars left/right, then top/bottom
def test_clicks_map_to_frame_pixels_at_any_size(qtbot, view, size):
    view.resize(*size)
    qtbot.waitUntil(lambda: (view.width(), view.height()) == size, timeout=5000)
    clicks = []
    view.pointClicked.connect(lambda x, y, button, mods: clicks.append((x, y, button, mods)))
    target = (80.0, 200.0)
    wx, wy = frame_to_widget(target, size, (320, 240))
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(round(wx), round(wy)))
    assert len(clicks) == 1
    x, y, button, _ = clicks[0]
    scale = min(size[0] / 320, size[1] / 240)
    assert abs(x - target[0]) <= 1 / scale and abs(y - target[1]) <= 1 / scale  # within a widget pixel
    assert button == Qt.MouseButton.LeftButton
    # right click with shift keeps its button and modifiers
    qtbot.mouseClick(view, Qt.MouseButton.RightButton, Qt.KeyboardModifier.ShiftModifier,
                     pos=QPoint(round(wx), round(wy)))
    assert clicks[-1][2] == Qt.MouseButton.RightButton and clicks[-1][3] & Qt.KeyboardModifier.ShiftModifier
    # a click on the bars is no prompt
    x0, y0, dw, dh = fit_rect(size, (320, 240))
    bar = QPoint(int(x0 / 2), size[1] // 2) if x0 > 0 else QPoint(size[0] // 2, int(y0 / 2))
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=bar)
    assert len(clicks) == 2


def test_drag_draws_a_box_in_frame_pixels(qtbot, view):
    view.resize(640, 600)  # scale 2, bars top and bottom
    qtbot.waitUntil(lambda: view.height() == 600, timeout=5000)
    boxes, clicks = [], []
    view.boxDrawn.connect(lambda *box: boxes.append(box))
    view.pointClicked.connect(lambda *args: clicks.append(args))
    a = QPointF(*frame_to_widget((20, 30), (640, 600), (320, 240)))
    b = QPointF(*frame_to_widget((120, 90), (640, 600), (320, 240)))
    press(view, QMouseEvent.Type.MouseButtonPress, a)
    press(view, QMouseEvent.Type.MouseMove, (a + b) / 2, Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton)
    press(view, QMouseEvent.Type.MouseMove, b, Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton)
    press(view, QMouseEvent.Type.MouseButtonRelease, b, buttons=Qt.MouseButton.NoButton)
    assert clicks == [] and len(boxes) == 1
    assert boxes[0] == pytest.approx((20, 30, 120, 90), abs=0.5)
    # a drag that starts on a bar is clamped to the image
    press(view, QMouseEvent.Type.MouseButtonPress, QPointF(5, 5))
    press(view, QMouseEvent.Type.MouseButtonRelease, b, buttons=Qt.MouseButton.NoButton)
    assert boxes[-1] == pytest.approx((2.5, 0, 120, 90), abs=0.5)  # y from the top bar: 0
    # a press and release a pixel apart is a click, not a box
    press(view, QMouseEvent.Type.MouseButtonPress, a)
    press(view, QMouseEvent.Type.MouseButtonRelease, a + QPointF(1, 0), buttons=Qt.MouseButton.NoButton)
    assert len(boxes) == 2 and len(clicks) == 1


def test_only_the_newest_queued_result_is_shown(qtbot, make_window):
    window = make_window()
    shown = []
    window.resultShown.connect(shown.append)
    window.add_text("a cat")  # object 1: its state comes from the results
    generation = window._generation

    def burst():  # like the inference thread: results faster than the UI shows them
        for i in range(10):
            window._bridge.result.emit(generation, fake_result(
                i, events=(Event(EventKind.OBJECT_LOST, object_id=1),), objects=(ObjectStatus(1, "text", ObjectState.TRACKED if i == 9 else ObjectState.LOST, 0),)))

    thread = threading.Thread(target=burst)
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: len(shown) > 0, timeout=5000)
    qtbot.wait(50)
    assert [r.frame.index for r in shown] == [9]  # the nine stale ones were dropped
    assert window.latest_result.frame.index == 9
    assert window.view.frame is not None
    assert window.object_list.rows() == [(1, 'text "a cat"', "tracked")]
    window._bridge.result.emit(generation - 1, fake_result(10))  # a closed pipeline's result: ignored
    qtbot.wait(50)
    assert len(shown) == 1


def test_shortcuts_and_help(qtbot, make_window):
    window = make_window()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    assert window.prompts.everything  # no prompt given: everything mode
    qtbot.keyClick(window, Qt.Key.Key_E)
    assert not window.prompts.everything and not window.everything_action.isChecked()
    qtbot.keyClick(window, Qt.Key.Key_F1)
    assert window.help.isVisible() and "Ctrl+R" in window.help.text()
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert not window.help.isVisible()
    window.add_text("a dog")
    window.add_text("a cat")
    window.select_object(1)
    qtbot.keyClick(window, Qt.Key.Key_Delete)
    assert [o.object_id for o in window.prompts.objects] == [2]
    qtbot.keyClick(window, Qt.Key.Key_Delete, Qt.KeyboardModifier.ShiftModifier)
    assert window.prompts.objects == ()
    qtbot.keyClick(window, Qt.Key.Key_T)
    assert window.text_edit.hasFocus()
    qtbot.keyClicks(window.text_edit, "e")  # typed into the field, not the Everything shortcut
    assert window.text_edit.text() == "e" and not window.prompts.everything
    # recording and snapshots need a source; they say so instead of failing
    assert window.start_recording() is None and window.save_snapshot() is None
    assert "open a source" in window.statusBar().currentMessage()


def test_everything_follows_the_objects_until_the_user_sets_it(make_window):
    window = make_window()
    assert window.prompts.everything and window.everything_action.isChecked()
    window.add_text("a dog")
    assert not window.prompts.everything and not window.everything_action.isChecked()
    window.clear_prompts()
    assert window.prompts.everything
    window.everything_action.trigger()  # the user's choice sticks from now on
    assert not window.prompts.everything
    window.add_text("a cat")
    window.clear_prompts()
    assert not window.prompts.everything


def test_source_dialog_keeps_no_password(qtbot, settings):
    from fastsam_video.ui.source_dialog import SourceDialog, recent_sources, remember_source

    remember_source(settings, "rtsp://admin:hunter2@cam.local/live")
    remember_source(settings, "/videos/a.mp4")
    remember_source(settings, "rtsp://admin:hunter2@cam.local/live")
    assert recent_sources(settings) == ["rtsp://admin:***@cam.local/live", "/videos/a.mp4"]
    dialog = SourceDialog(settings)
    qtbot.addWidget(dialog)
    dialog.recent.setCurrentRow(0)
    assert dialog.tabs.currentIndex() == 2 and dialog.url.text() == "rtsp://admin:***@cam.local/live"
    dialog._accept_if_ready()  # no password yet: asks for it instead of opening
    assert "password" in dialog.message.text().lower() and not dialog.result()
    dialog.password.setText("hunter2")
    assert dialog.spec() == "rtsp://admin:hunter2@cam.local/live"
    dialog.recent.setCurrentRow(1)
    assert dialog.tabs.currentIndex() == 0 and dialog.spec() == "/videos/a.mp4"
    dialog.tabs.setCurrentIndex(1)
    dialog.camera.setValue(2)
    assert dialog.spec() == "2"
