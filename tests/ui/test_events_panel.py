"""The window's Events panel on the sample clip: the session's events appear as they happen, and
a double-click shows the frame of the event."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import Qt

from fastsam_video.events import EventKind

pytestmark = [pytest.mark.qt, pytest.mark.timeout(120)]


def test_events_panel_lists_events_and_double_click_shows_the_snapshot(qtbot, window_on_clip, results):
    window = window_on_clip
    panel = window.events_panel
    oid = window.add_box(60, 60, 200, 200)
    qtbot.waitUntil(lambda: any(e.kind is EventKind.OBJECT_ADDED and e.object_id == oid for e in panel.events()),
                    timeout=60_000)
    row = next(k for k in range(panel.list.count())
               if panel.list.item(k).data(Qt.ItemDataRole.UserRole)[0].kind is EventKind.OBJECT_ADDED)
    item = panel.list.item(row)
    assert f"object {oid} added" in item.text() and "camera 1" in item.text()
    event, frame = item.data(Qt.ItemDataRole.UserRole)
    # the frame shown with the event: the one it was found on (or, if that one was skipped, the next)
    assert any(frame is r.annotated for r in results)

    with qtbot.waitSignal(panel.snapshotShown, timeout=5000) as signal:
        panel.list.itemDoubleClicked.emit(item)
    dialog = signal.args[0]
    qtbot.waitExposed(dialog)
    image = dialog.image.pixmap().toImage().convertToFormat(dialog.image.pixmap().toImage().Format.Format_RGB888)
    h, w = frame.shape[:2]
    assert (image.width(), image.height()) == (w, h)
    pixels = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), np.uint8).reshape(h, image.bytesPerLine())
    rgb = pixels[:, :3 * w].reshape(h, w, 3)
    assert np.abs(rgb.astype(int) - frame[:, :, ::-1]).mean() < 1  # the event's own frame, not the newest one
    dialog.close()


def test_rows_keep_frames_within_the_memory_budget(qtbot, monkeypatch):
    from fastsam_video.events import Event
    from fastsam_video.ui import events_panel
    from fastsam_video.ui.events_panel import EventsPanel

    monkeypatch.setattr(events_panel, "MAX_FRAME_BYTES", 3 * 100 * 100 * 3)  # three frames of 100 x 100
    panel = EventsPanel()
    qtbot.addWidget(panel)
    frames = [np.full((100, 100, 3), k, np.uint8) for k in range(5)]
    for k, frame in enumerate(frames):
        for _ in range(2):  # two events on each frame: they share it
            panel.add(Event(EventKind.OBJECT_LOST, object_id=k), frame, "camera 1")
    kept = [panel.list.item(i).data(Qt.ItemDataRole.UserRole)[1] for i in range(panel.list.count())]
    assert len(kept) == 10
    assert [f is not None for f in kept] == [True] * 6 + [False] * 4  # the newest three frames
    assert kept[0] is frames[4] and kept[5] is frames[2]
    panel.add(Event(EventKind.RECORDING_SEGMENT, detail="/x.mp4"), frames[0], "camera 1")  # bookkeeping: not shown
    assert panel.list.count() == 10
