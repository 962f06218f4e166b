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
