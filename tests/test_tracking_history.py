"""Prompts given on the frame the user saw (its pts): resolved there from the frames the tracker
keeps, then carried to the present (issue 21)."""

from __future__ import annotations

import numpy as np
import pytest

from fastsam_video.events import EventKind
from fastsam_video.prompts import masks_to_boxes
from fastsam_video.tracking import ObjectPrompt, PromptSet, PromptTracker, TrackerConfig
from fastsam_video.tracking.frames import FrameHistory, PastFrame
from fastsam_video.types import PromptError, Segmentation

SHAPE = (120, 640)
RED, GREEN = (40, 40, 220), (60, 200, 60)


def scene(index):
    """A red square moving 30 px a frame, a green one standing still; the oracle masks."""
    rects = [(20 + 30 * index, 40, 50 + 30 * index, 70), (560, 60, 600, 100)]
    image = np.full((*SHAPE, 3), 90, np.uint8)
    masks = np.zeros((2, *SHAPE), bool)
    for k, ((x1, y1, x2, y2), colour) in enumerate(zip(rects, (RED, GREEN))):
        masks[k, y1:y2, x1:x2] = True
        image[masks[k]] = colour
    return Segmentation.of(masks, masks_to_boxes(masks), np.ones(2)), image, rects[0]


def run_until(tracker, last):
    for i in range(last + 1):
        seg, image, _ = scene(i)
        result = tracker.update(seg, image, i, i / 30)
    return result


def test_a_box_drawn_half_a_second_ago_on_a_fast_object_is_tracked_with_its_pts():
    tracker = PromptTracker()
    run_until(tracker, 15)
    shown_at = 0  # the user drew on frame 0 (0.5 s ago): the object has moved 450 px since
    _, _, then = scene(shown_at)
    tracker.set_prompts(PromptSet((ObjectPrompt(1, box=then, pts=shown_at / 30),)))
    seg, image, now = scene(16)
    result = tracker.update(seg, image, 16, 16 / 30)
    assert [e.kind for e in result.events] == [EventKind.OBJECT_ADDED]
    mask = result.segmentation.masks[list(result.segmentation.object_ids).index(1)]
    x1, y1, x2, y2 = now
    assert mask[y1:y2, x1:x2].mean() > 0.9 and mask.sum() < 1.2 * (x2 - x1) * (y2 - y1)
    seg, image, later = scene(17)  # and it goes on being tracked
    result = tracker.update(seg, image, 17, 17 / 30)
    assert result.segmentation.masks[0][55, later[0] + 15]


def test_without_its_pts_the_same_box_finds_nothing_on_the_newest_frame():
    tracker = PromptTracker()
    run_until(tracker, 15)
    _, _, then = scene(0)
    tracker.set_prompts(PromptSet((ObjectPrompt(1, box=then),)))
    seg, image, _ = scene(16)
    result = tracker.update(seg, image, 16, 16 / 30)
    assert [e.kind for e in result.events] == [EventKind.OBJECT_NOT_FOUND] and result.objects == ()


def test_a_pts_older_than_what_is_kept_resolves_on_the_oldest_kept_frame():
    tracker = PromptTracker(TrackerConfig(history_seconds=0.2))  # 6 frames kept
    run_until(tracker, 15)
    _, _, oldest = scene(9)  # 15 - 6: the oldest kept frame (t >= 15/30 - 0.2)
    tracker.set_prompts(PromptSet((ObjectPrompt(1, points=((oldest[0] + 15, 55),), labels=(1,), pts=-5.0),)))
    seg, image, now = scene(16)
    result = tracker.update(seg, image, 16, 16 / 30)
    assert [e.kind for e in result.events] == [EventKind.OBJECT_ADDED]
    assert result.segmentation.masks[0][55, now[0] + 15]


def test_the_history_keeps_its_seconds_and_masks_in_their_boxes_only():
    history = FrameHistory(0.5)
    for i in range(40):
        seg, image, _ = scene(min(i, 18))
        history.add(PastFrame.of(seg, image[::2, ::2], i, i / 30, 2))
    assert len(history) == 16  # 0.5 s at 30 fps, both ends
    kept = history.since(0.0)[0]
    assert kept.index == 24 and sum(p.size for p, _, _ in kept.crops) == 30 * 30 + 40 * 40
    assert (kept.segmentation().masks == scene(18)[0].masks).all()
    assert history.since(10.0) == [] and [f.index for f in history.since(38.5 / 30)] == [38, 39]


def test_a_pts_that_is_no_time_is_a_clear_error():
    with pytest.raises(PromptError, match="pts: expected a frame time in seconds, got nan"):
        ObjectPrompt(1, box=(1, 1, 5, 5), pts=float("nan"))


def test_the_window_prompts_carry_the_time_of_the_frame_it_shows():
    from fastsam_video.ui.prompting import ADD, NEW, PromptEditor

    editor = PromptEditor()
    oid = editor.click(10, 20, NEW, pts=3.5)
    assert editor.get(oid).pts == 3.5
    editor.click(12, 22, ADD, selected=oid, pts=4.0)  # a refinement lands on the frame it was drawn on too
    assert editor.get(oid).pts == 4.0 and len(editor.get(oid).points) == 2
    assert editor.get(editor.box(1, 1, 9, 9, pts=5.0)).pts == 5.0
