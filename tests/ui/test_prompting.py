"""Mouse gestures -> prompt edits, the source dialog's password handling (no model, no window)."""

from __future__ import annotations

import pytest

from fastsam_video.tracker import ObjectPrompt, PromptSet
from fastsam_video.types import PromptError
from fastsam_video.ui.prompting import ADD, BACKGROUND, NEW, PromptEditor, point_gesture


def test_gestures():
    assert point_gesture() == NEW
    assert point_gesture(right=True, has_selection=True) == BACKGROUND
    assert point_gesture(shift=True, has_selection=True) == BACKGROUND
    assert point_gesture(ctrl=True, has_selection=True) == ADD
    assert point_gesture(ctrl=True) == NEW  # nothing selected: a new object
    assert point_gesture(add_to_selected=True, has_selection=True) == ADD
    assert point_gesture(add_to_selected=True) == NEW


def test_points_refine_the_selected_object():
    editor = PromptEditor()
    first = editor.click(10, 20, NEW)
    second = editor.click(100, 120, NEW)
    assert (first, second) == (1, 2)
    assert editor.click(12, 22, ADD, selected=first) == first
    assert editor.click(30, 40, BACKGROUND, selected=first) == first
    prompt = editor.get(first)
    assert prompt.points == ((10, 20), (12, 22), (30, 40)) and prompt.labels == (1, 1, 0)
    assert [o.object_id for o in editor.prompts.objects] == [2, 1]  # the edited one replaced, same id


def test_background_needs_a_point_prompted_selection():
    editor = PromptEditor()
    with pytest.raises(PromptError, match="select an object"):
        editor.click(1, 1, BACKGROUND)
    box = editor.box(50, 60, 10, 20)
    assert editor.get(box).box == (10, 20, 50, 60)  # corners in any order
    with pytest.raises(PromptError, match="box"):
        editor.click(1, 1, BACKGROUND, selected=box)


def test_ids_never_come_back_and_state_edits():
    editor = PromptEditor(PromptSet((ObjectPrompt(1, points=((1, 1),), labels=(1,)),)))
    assert editor.prompts.everything is False
    two = editor.text("  a   red car ")
    assert editor.get(two).text == "a red car"
    editor.remove(two)
    assert editor.box(0, 0, 5, 5) == 3  # not 2 again: a new object gets a new colour
    editor.set_everything(True)
    editor.clear()
    assert editor.prompts == PromptSet(everything=True)
    assert editor.click(3, 3, NEW) == 4
    with pytest.raises(PromptError):
        editor.text("   ")


@pytest.mark.qt
def test_merge_password():
    from fastsam_video.ui.source_dialog import kind_of, merge_password

    assert merge_password("rtsp://admin:***@cam/live", "s3:cr@t") == "rtsp://admin:s3:cr@t@cam/live"
    assert merge_password("rtsp://admin@cam:554/live", "pw") == "rtsp://admin:pw@cam:554/live"
    assert merge_password("rtsp://cam/live", "pw") == "rtsp://cam/live"
    assert merge_password("rtsp://admin:***@cam/live", "") == "rtsp://admin:***@cam/live"
    assert [kind_of(s) for s in ("0", "webcam:1", "rtsp://x", "a/b.mp4")] == ["camera", "camera", "stream", "file"]
