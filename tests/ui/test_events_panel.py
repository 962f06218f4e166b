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
