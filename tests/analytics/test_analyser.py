"""ZoneAnalyser on masks with known paths: exact event counts and frames."""

from __future__ import annotations

import numpy as np
import pytest

from fastsam_video.analytics import Line, Zone, ZoneSet
from fastsam_video.analytics.analyser import ZoneAnalyser
from fastsam_video.analytics.geometry import NewObjects, Presence
from fastsam_video.events import EventKind
from fastsam_video.types import Segmentation

H, W, FPS = 240, 320, 30.0


def discs(objects: dict[int, tuple[float, float]], radius: float = 20.0, size=(H, W)) -> Segmentation:
    """Disc masks at the given centres (object id -> (x, y) pixels)."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    masks, boxes, ids = [], [], []
    for object_id, (cx, cy) in objects.items():
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= radius ** 2
        if not mask.any():
            continue
        ys, xs = np.nonzero(mask)
        masks.append(mask)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        ids.append(object_id)
    if not masks:
        return Segmentation.empty(h, w)
    return Segmentation.of(np.stack(masks), boxes, np.ones(len(masks)), ids)


def run(analyser: ZoneAnalyser, paths: dict[int, list[tuple[float, float] | None]], radius=20.0):
    """Feeds the paths (None = the object is not seen that frame, but still tracked); all events."""
    frames = max(len(p) for p in paths.values())
    events = []
    for f in range(frames):
        seen = {i: p[f] for i, p in paths.items() if f < len(p) and p[f] is not None}
        alive = {i for i, p in paths.items() if f < len(p)}
        events += analyser.update(discs(seen, radius), alive, f, f / FPS).events
    return events


def straight(x0, y0, x1, y1, frames):
    return [(x0 + (x1 - x0) * f / (frames - 1), y0 + (y1 - y0) * f / (frames - 1)) for f in range(frames)]


def test_entry_and_exit_counted_once_at_the_true_frame():
    zone = Zone("right", ((0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)))
    path = straight(40, 120, 280, 120, 61) + straight(280, 120, 40, 120, 61)[1:]  # 4 px per frame, there and back
    events = run(ZoneAnalyser(ZoneSet((zone,))), {1: path})
    # half the disc is inside once its centre reaches x = 160 (frame 30 going, frame 90 back past it)
    entered = [e for e in events if e.kind is EventKind.ZONE_ENTERED]
    left = [e for e in events if e.kind is EventKind.ZONE_LEFT]
    assert len(entered) == 1 and len(left) == 1
    true_in = next(f for f, (x, _) in enumerate(path) if x >= 160)
    true_out = next(f for f, (x, _) in enumerate(path) if f > 60 and x < 160)
    assert abs(entered[0].frame - true_in) <= 1 and abs(left[0].frame - true_out) <= 1
    assert entered[0].zone == "right" and entered[0].object_id == 1
    assert entered[0].pts == pytest.approx(entered[0].frame / FPS)


def test_flicker_shorter_than_inertia_never_counts():
    zone = Zone("z", ((0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)), inertia=3)
    # centre alternates 2 frames inside, 2 outside, for 40 frames
    path = [(150.0 if (f // 2) % 2 == 0 else 170.0, 120.0) for f in range(40)]
    events = run(ZoneAnalyser(ZoneSet((zone,))), {1: path})
    assert events == []


def test_line_crossings_both_directions_and_counts():
    line = Line("gate", (0.5, 0.0), (0.5, 1.0))  # vertical, start at the top: its right is the frame's left
    path = straight(40, 120, 280, 120, 41) + straight(280, 120, 40, 120, 41)[1:]
    analyser = ZoneAnalyser(ZoneSet((line,)))
    events = run(analyser, {1: path})
    crossed = [e for e in events if e.kind is EventKind.LINE_CROSSED]
    assert [e.direction for e in crossed] == ["out", "in"]
    true = [next(f for f, (x, _) in enumerate(path) if x > 161.5),
            next(f for f, (x, _) in enumerate(path) if f > 40 and x < 158.5)]
    assert all(abs(e.frame - t) <= 1 for e, t in zip(crossed, true))
    count = analyser.counts[0]
    assert (count.crossed_in, count.crossed_out) == (1, 1)


@pytest.mark.parametrize("period", [1, 2])
def test_jitter_on_a_line_never_counts_twice(period):
    line = Line("gate", (0.0, 0.5), (1.0, 0.5), inertia=3)
    # approaches, jitters +-6 px across the line (changing side every `period` frames), then crosses for good
    path = straight(160, 60, 160, 120, 16)
    path += [(160.0, 120.0 + (6 if (f // period) % 2 else -6)) for f in range(60)]
    path += straight(160, 126, 160, 200, 20)
    events = run(ZoneAnalyser(ZoneSet((line,))), {1: path})
    crossed = [e for e in events if e.kind is EventKind.LINE_CROSSED]
    assert len(crossed) == 1 and crossed[0].direction == "in"  # downwards: to the right of left -> right


def test_going_round_the_end_of_a_line_is_no_crossing():
    line = Line("short", (0.45, 0.4), (0.55, 0.4))  # a short line in the middle
    path = straight(60, 60, 60, 200, 30)  # passes far to the left of it
    assert run(ZoneAnalyser(ZoneSet((line,))), {1: path}) == []


def test_loitering_at_the_threshold():
    zone = Zone("door", ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)), loiter_seconds=1.0)
    path = [(80.0, 120.0)] * 60
    events = run(ZoneAnalyser(ZoneSet((zone,))), {1: path})
    kinds = [(e.kind, e.frame) for e in events]
    assert kinds == [(EventKind.ZONE_ENTERED, 0), (EventKind.LOITERING, 30)]


def test_lost_object_keeps_its_state_and_a_dropped_one_leaves():
    zone = Zone("door", ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)))
    path = [(80.0, 120.0)] * 10 + [None] * 10 + [(80.0, 120.0)] * 5  # unseen for 10 frames: no exit
    analyser = ZoneAnalyser(ZoneSet((zone,)))
    events = run(analyser, {1: path})
    assert [e.kind for e in events] == [EventKind.ZONE_ENTERED]
    events = analyser.update(discs({}), set(), 25, 25 / FPS).events  # the tracker dropped it
    assert [(e.kind, e.detail) for e in events] == [(EventKind.ZONE_LEFT, "gone")]


def test_occupancy_objects_and_coverage():
    zone = Zone("bay", ((0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)), inertia=1)
    analyser = ZoneAnalyser(ZoneSet((zone,)))
    update = analyser.update(discs({1: (120, 120), 2: (200, 120), 3: (20, 20)}, radius=20), None, 0, 0.0)
    count = update.counts[0]
    assert count.objects == (1, 2)
    expected = 2 * np.pi * 20 ** 2 / (160 * 120)
    assert count.coverage == pytest.approx(expected, rel=0.08)


def test_bottom_centre_presence():
    zone = Zone("floor", ((0.0, 0.6), (1.0, 0.6), (1.0, 1.0), (0.0, 1.0)), presence=Presence.BOTTOM_CENTER,
                inertia=1)
    analyser = ZoneAnalyser(ZoneSet((zone,)))
    # a disc centred above the zone whose bottom reaches into it: by mask it is outside, by its feet inside
    assert analyser.update(discs({1: (160, 135)}, radius=20), None, 0, 0.0).counts[0].objects == (1,)


def test_changed_zone_starts_afresh_and_an_unchanged_one_keeps_its_totals():
    a = Zone("a", ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)), inertia=1)
    b = Line("b", (0.5, 0.0), (0.5, 1.0))
    analyser = ZoneAnalyser(ZoneSet((a, b)))
    analyser.update(discs({1: (80, 120)}), None, 0, 0.0)
    analyser.set_zones(ZoneSet((a,)))
    counts = analyser.update(discs({1: (80, 120)}), None, 1, 1 / FPS).counts
    assert [c.name for c in counts] == ["a"] and counts[0].entered == 1


def test_new_objects_are_found_in_a_detect_new_zone():
    zone = Zone("drive", ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)),
                detect_new=NewObjects(min_area=0.005, min_frames=4))
    analyser = ZoneAnalyser(ZoneSet((zone,)))
    empty = discs({})
    background = discs({1: (60, 60)}, radius=30)  # there from the start: background
    found = []
    for f in range(12):
        everything = background if f < 3 else discs({1: (60, 60), 2: (200 + 2 * f, 150)}, radius=30)
        found.append(analyser.update(empty, set(), f, f / FPS, everything).new_objects)
    assert [f for f, boxes in enumerate(found) if boxes] == [6]  # seen at frames 3, 4, 5, 6
    (new,) = found[6]
    x1, y1, x2, y2 = new.box
    assert x1 < 212 < x2 and y1 < 150 < y2 and (new.zone, new.frame) == ("drive", 3)
    # tracked from the next frame as object 5: its entry dates from frame 3, when the zone first saw it
    analyser.note_new(5, new)
    events = []
    for f in range(7, 12):
        events += analyser.update(discs({5: (200 + 2 * f, 150)}, radius=30), {5}, f, f / FPS).events
    assert [(e.kind, e.object_id, e.frame) for e in events] == [(EventKind.ZONE_ENTERED, 5, 3)]
