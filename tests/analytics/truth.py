"""The true zone events of a generated clip, from its ground-truth masks (no inertia)."""

from __future__ import annotations

import cv2
import numpy as np

from fastsam_video.analytics import Line, Zone


def zone_mask(zone: Zone, height: int, width: int) -> np.ndarray:
    canvas = np.zeros((height, width), np.uint8)
    pts = np.round(np.asarray(zone.polygon) * [width, height] * 16).astype(np.int32)
    cv2.fillPoly(canvas, [pts], 1, shift=4)
    return canvas.astype(bool)


def changes(flags: list[bool | None]) -> list[tuple[int, bool]]:
    """(frame, new value) wherever the value changes; the first known value counts as a change
    to True only (an object seen inside from the start enters at once)."""
    out, current = [], False
    for f, flag in enumerate(flags):
        if flag is not None and flag != current:
            out.append((f, flag))
            current = flag
    return out


def zone_truth(labels: list[np.ndarray], object_id: int, zone: Zone) -> list[tuple[int, bool]]:
    h, w = labels[0].shape
    inside = zone_mask(zone, h, w)
    flags = []
    for label in labels:
        mask = label == object_id
        flags.append(None if not mask.any() else bool((mask & inside).sum() >= zone.min_fraction * mask.sum()))
    return changes(flags)


def line_truth(labels: list[np.ndarray], object_id: int, line: Line) -> list[tuple[int, str]]:
    h, w = labels[0].shape
    (ax, ay), (bx, by) = np.asarray(line.start) * [w, h], np.asarray(line.end) * [w, h]
    sides = []
    for label in labels:
        ys, xs = np.nonzero(label == object_id)
        if len(xs) == 0:
            sides.append(None)
            continue
        d = (bx - ax) * (ys.mean() - ay) - (by - ay) * (xs.mean() - ax)
        sides.append(d > 0)
    out, current = [], None
    for f, side in enumerate(sides):
        if side is None:
            continue
        if current is not None and side != current:
            out.append((f, "in" if side else "out"))
        current = side
    return out


def first_frame_points(labels: list[np.ndarray], objects=(1, 2)) -> list[tuple[int, int]]:
    """A point inside each object on the first frame (the visible pixel nearest its centroid)."""
    points = []
    for object_id in objects:
        ys, xs = np.nonzero(labels[0] == object_id)
        k = int(np.argmin((xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2))
        points.append((int(xs[k]), int(ys[k])))
    return points


def assert_zone_events(events: list[dict], labels: list[np.ndarray], zone: Zone, line: Line,
                       objects=(1, 2), loiter_frame: int | None = 30) -> None:
    """The zone events of the `patrol` clip (event dicts, any order of other kinds) against the
    truth: each entry, exit and crossing exactly once, in order, with the right direction,
    within inertia + 2 frames; loitering once, within a frame of the threshold."""
    inertia = zone.inertia
    for object_id in objects:
        got = [(e["frame"], e["kind"] == "zone_entered") for e in events
               if e["object_id"] == object_id and e["kind"] in ("zone_entered", "zone_left")]
        truth = zone_truth(labels, object_id, zone)
        assert len(got) == len(truth) and [g[1] for g in got] == [t[1] for t in truth], (object_id, got, truth)
        assert all(0 <= g[0] - t[0] <= inertia + 2 or abs(g[0] - t[0]) <= 1 for g, t in zip(got, truth)), (got, truth)
        crossed = [(e["frame"], e["direction"]) for e in events
                   if e["object_id"] == object_id and e["kind"] == "line_crossed"]
        truth = line_truth(labels, object_id, line)
        assert [c[1] for c in crossed] == [t[1] for t in truth], (object_id, crossed, truth)
        assert all(abs(c[0] - t[0]) <= line.inertia + 2 for c, t in zip(crossed, truth)), (crossed, truth)
    # object 2 waits 1.5 s inside: loitering once, at 1 s after its entry (frame 0), within a frame
    loitering = [e for e in events if e["kind"] == "loitering"]
    assert [(e["object_id"], e["zone"]) for e in loitering] == [(2, "left")]
    assert abs(loitering[0]["frame"] - loiter_frame) <= 1
    # the line events carry their zone name and pts; the file is in the order they happened
    assert all(e["zone"] == "mid" and e["pts"] is not None for e in events if e["kind"] == "line_crossed")
