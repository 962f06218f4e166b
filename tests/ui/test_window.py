"""The real window on the sample clip with the bundled model (CPU, offscreen): click and
box prompts, removal, recording, failing sources, pipeline errors, a full disk, shutdown."""

from __future__ import annotations

import os
import threading

import av
import numpy as np
import pytest
from PyQt6.QtCore import QPointF, Qt
from PyQt6.QtGui import QMouseEvent
from PyQt6.QtWidgets import QApplication

from fastsam_video.sinks import read_davis_png
from fastsam_video.ui.geometry import frame_to_widget

from .conftest import CLIP, CLIP_DIR

pytestmark = [pytest.mark.qt, pytest.mark.timeout(120)]

WAIT = 60_000  # ms: generous, the CI machine may be busy training


def ground_truth(index: int, object_id: int) -> np.ndarray:
    return read_davis_png(CLIP_DIR / "Annotations" / f"{index:05d}.png") == object_id


def centre(mask: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    return float(xs.mean()), float(ys.mean())


def widget_pos(window, point) -> QPointF:
    view = window.view
    return QPointF(*frame_to_widget(point, view.size(), view.frame_size()))


def tracked(result, object_id: int) -> bool:
    return any(s.object_id == object_id and s.state == "tracked" for s in result.objects)


def mask_of(result, object_id: int) -> np.ndarray:
    return result.segmentation.label_map() == object_id


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def send(widget, kind, pos: QPointF, button, buttons):
    QApplication.sendEvent(widget, QMouseEvent(kind, pos, QPointF(widget.mapToGlobal(pos.toPoint())), button,
                                               buttons, Qt.KeyboardModifier.NoModifier))


def test_click_tracks_the_object_under_the_pointer(qtbot, window_on_clip, results):
    window = window_on_clip
    shown = results[-1]
    point = centre(ground_truth(shown.frame.index, 1))
    pos = widget_pos(window, point)
    qtbot.mouseClick(window.view, Qt.MouseButton.LeftButton, pos=pos.toPoint())
    (prompt,) = window.prompts.objects
    assert prompt.kind == "points" and np.allclose(prompt.points[0], point, atol=2)  # widget -> frame mapping
    object_id = prompt.object_id
    assert window.selected_object() == object_id
    assert not window.prompts.everything  # the first object ends everything mode, as on the command line
    qtbot.waitUntil(lambda: tracked(results[-1], object_id), timeout=WAIT)
    first = next(r for r in results if tracked(r, object_id))
    x, y = (round(v) for v in prompt.points[0])
    assert first.segmentation.label_map()[y, x].item() == object_id  # the mask covers the click
    assert iou(mask_of(first, object_id), ground_truth(first.frame.index, 1)) > 0.5
    assert window.object_list.rows() == [(object_id, "points (1)", "tracked")]
    # right click: a background point for the selected object, same id
    qtbot.mouseClick(window.view, Qt.MouseButton.RightButton, pos=widget_pos(window, (5, 120)).toPoint())
    (prompt,) = window.prompts.objects
    assert prompt.object_id == object_id and prompt.labels == (1, 0)


def test_drag_makes_a_box_object_and_remove_drops_it(qtbot, window_on_clip, results):
    window = window_on_clip
    shown = results[-1]
    ys, xs = np.nonzero(ground_truth(shown.frame.index, 2))
    a = widget_pos(window, (xs.min() - 3, ys.min() - 3))
    b = widget_pos(window, (xs.max() + 4, ys.max() + 4))
    send(window.view, QMouseEvent.Type.MouseButtonPress, a, Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton)
    send(window.view, QMouseEvent.Type.MouseMove, b, Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton)
    send(window.view, QMouseEvent.Type.MouseButtonRelease, b, Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton)
    (prompt,) = window.prompts.objects
    assert prompt.kind == "box"
    assert np.allclose(prompt.box, (xs.min() - 3, ys.min() - 3, xs.max() + 4, ys.max() + 4), atol=2)
    object_id = prompt.object_id
    qtbot.waitUntil(lambda: tracked(results[-1], object_id), timeout=WAIT)
    first = next(r for r in results if tracked(r, object_id))
    assert iou(mask_of(first, object_id), ground_truth(first.frame.index, 2)) > 0.5
    assert window.object_list.rows()[0][1:] == ("box", "tracked")

    window.set_everything(False)  # kept off without objects: else every mask shows, numbered 1..N
    window.select_object(object_id)
    window.remove_action.trigger()  # the Delete key (shortcut tested in test_widgets)
    assert window.prompts.objects == () and window.object_list.rows() == []
    count = len(results)
    qtbot.waitUntil(lambda: len(results) > count and not results[-1].objects, timeout=WAIT)
    assert len(results[-1].segmentation) == 0


def test_recording_start_stop_writes_a_playable_file(qtbot, window_on_clip, results, tmp_path):
    window = window_on_clip
    target = tmp_path / "rec" / "clip.mp4"
    assert window.start_recording(target) == target
    assert window.record_action.isChecked() and "REC" in window.record_label.text()
    assert target.name in window.record_label.text()
    qtbot.waitUntil(lambda: window.pipeline.record_path == target, timeout=WAIT)  # applied by the pipeline
    count = len(results)
    qtbot.waitUntil(lambda: len(results) >= count + 5, timeout=WAIT)
    pipeline = window.pipeline
    assert window.stop_recording() == target
    assert not window.record_action.isChecked()
    qtbot.waitUntil(lambda: pipeline.record_path is None or pipeline.finished.is_set(), timeout=WAIT)
    window.close()  # finalises whatever is left
    with av.open(str(target)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames >= 5
    snapshot = window.save_snapshot(tmp_path / "snap.png")
    assert snapshot is not None and snapshot.stat().st_size > 0


def test_failing_sources_leave_the_window_working(qtbot, make_window, ui_segmenter, tmp_path, settings):
    window = make_window(ui_segmenter, "--fast")
    failures, shown = [], []
    window.sourceFailed.connect(failures.append)
    window.resultShown.connect(shown.append)

    window.open_source(str(tmp_path / "missing.mp4"))
    qtbot.waitUntil(lambda: len(failures) == 1, timeout=WAIT)
    assert "no such file" in window.message_text() and "missing.mp4" in window.message_text()
    assert "no such file" in window.statusBar().currentMessage()
    # still responsive: a button click works, the view says what happened
    before = window.prompts.everything
    everything = [b for b in window.findChildren(type(window.record_button)) if b.text() == "Everything"][0]
    qtbot.mouseClick(everything, Qt.MouseButton.LeftButton)
    assert window.prompts.everything is not before

    # a stream that is down: the source keeps retrying (a camera may be rebooting); the window
    # says why, with the password hidden
    window.open_source("rtsp://admin:hunter2@127.0.0.1:9/x")
    qtbot.waitUntil(lambda: "127.0.0.1" in window.message_text(), timeout=WAIT)
    message = window.message_text()
    assert "admin:***@" in message and "refused" in message.lower() and "reconnecting" in message
    assert "reconnecting" in window.stat_labels["source"].text()
    for text in (message, window.statusBar().currentMessage(), window.windowTitle(),
                 " ".join(str(v) for v in settings.value("recent_sources", []) or [])):
        assert "hunter2" not in text

    window.open_source(str(CLIP))  # and a good source still opens
    qtbot.waitUntil(lambda: len(shown) > 0, timeout=WAIT)
    assert window.pipeline is not None and window.source_label.text().endswith("video.mp4")
    assert not window.banner.isVisible()


def test_a_pipeline_error_is_shown_and_the_window_stays(qtbot, window_on_clip, results):
    window = window_on_clip
    failures = []
    window.sourceFailed.connect(failures.append)

    def broken(*args, **kwargs):
        raise RuntimeError("tracker exploded")

    window.pipeline.tracker.update = broken  # the inference thread fails on the next frame
    qtbot.waitUntil(lambda: len(failures) == 1, timeout=WAIT)
    assert "RuntimeError: tracker exploded" in window.message_text()
    assert window.pipeline is None and window.latest_result is not None  # the last frame stays
    window.add_point(40, 70)  # prompts still editable; applied to the next source
    assert len(window.prompts.objects) == 1


def test_closing_leaves_no_thread_behind(qtbot, make_window, ui_segmenter, tmp_path):
    before = set(threading.enumerate())
    window = make_window(ui_segmenter, "--fast")
    shown = []
    window.resultShown.connect(shown.append)
    window.open_source(str(CLIP))
    qtbot.waitUntil(lambda: len(shown) > 0, timeout=WAIT)
    window.add_point(40, 70)
    target = window.start_recording(tmp_path / "closing.mp4")
    count = len(shown)
    qtbot.waitUntil(lambda: len(shown) >= count + 2, timeout=WAIT)
    window.open_source(str(tmp_path / "missing.mp4"))  # an opener thread, too
    assert set(threading.enumerate()) - before  # capture, inference, recorder...
    window.close()
    assert set(threading.enumerate()) - before == set()
    with av.open(str(target)) as container:  # the recording was finalised by close()
        assert sum(1 for _ in container.decode(video=0)) > 0


def test_command_line_prompts_record_and_loop(qtbot, make_window, ui_segmenter, tmp_path):
    """--point starts tracking at once, --record records the first source from its start,
    --max-frames ends it, and with Loop on a file starts over with the same prompts."""
    target = tmp_path / "from-start.mp4"
    window = make_window(ui_segmenter, "--fast", "--point", "40,70", "--record", str(target), "--max-frames", "4")
    assert not window.prompts.everything and window.object_list.rows() == [(1, "points (1)", "waiting for a source")]
    opened, ended, shown = [], [], []
    window.sourceOpened.connect(opened.append)
    window.sourceEnded.connect(ended.append)
    window.resultShown.connect(shown.append)
    window.open_source(str(CLIP))
    qtbot.waitUntil(lambda: len(opened) == 1, timeout=WAIT)
    assert window.recording_path == target and "REC" in window.record_label.text()
    qtbot.waitUntil(lambda: len(ended) == 1, timeout=WAIT)
    assert window.recording_path is None and ended[0].endswith("video.mp4") and window.latest_result is not None
    assert any(tracked(r, 1) for r in shown)
    qtbot.waitUntil(lambda: target.exists() and target.stat().st_size > 0, timeout=WAIT)

    window.loop_action.setChecked(True)
    window.restart_action.trigger()  # F5
    qtbot.waitUntil(lambda: len(ended) >= 2 and len(opened) >= 3, timeout=WAIT)  # ended, then reopened
    assert [o.object_id for o in window.prompts.objects] == [1]  # a restart keeps the prompts
    window.close_source()
    assert window.pipeline is None and window.source_label.text() == "no source"


def test_a_full_disk_stops_the_recording_and_the_video_goes_on(qtbot, window_on_clip, results, tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full (Linux): every write fails with ENOSPC, as on a full disk")
    window = window_on_clip
    target = tmp_path / "full.mp4"
    target.symlink_to("/dev/full")
    assert window.start_recording(target) == target
    qtbot.waitUntil(lambda: "output failed" in window.message_text(), timeout=WAIT)
    assert "camera 1" in window.message_text()
    qtbot.waitUntil(lambda: window.recording_path is None, timeout=5000)
    assert not window.record_action.isChecked() and "REC" not in window.record_label.text()
    count = len(results)
    qtbot.waitUntil(lambda: len(results) >= count + 3, timeout=WAIT)  # the video plays on
    assert window.pipeline is not None
