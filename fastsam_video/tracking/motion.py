"""The motion model: a constant-velocity Kalman filter on the box, and the box of a partly hidden object."""

from __future__ import annotations

import numpy as np

from .patches import Patch


class BoxKalman:
    """Constant-velocity Kalman filter on (cx, cy, w, h); time in frames."""

    def __init__(self, box: np.ndarray):
        self.x = np.r_[cxcywh(box), np.zeros(4)]
        scale = max(box[2] - box[0], box[3] - box[1], 1.0)
        self.P = np.diag([scale, scale, scale, scale, 4 * scale, 4 * scale, scale, scale]) ** 2 * 0.01

    @staticmethod
    def _transition(dt: float) -> np.ndarray:
        F = np.eye(8)
        F[:4, 4:] = np.eye(4) * dt
        return F

    def predict(self, dt: float = 1.0, damping: float = 1.0) -> np.ndarray:
        F = self._transition(dt)
        self.x = F @ self.x
        self.x[4:] *= damping  # lost objects slow down instead of flying off
        size = max(self.x[2], self.x[3], 1.0)
        q = np.r_[np.full(4, 0.05 * size), np.full(4, 0.02 * size)] ** 2
        self.P = F @ self.P @ F.T + np.diag(q) * dt
        self.x[2:4] = np.maximum(self.x[2:4], 1.0)
        return self.box

    def update(self, box: np.ndarray) -> None:
        z = cxcywh(box)
        H = np.hstack([np.eye(4), np.zeros((4, 4))])
        size = max(z[2], z[3], 1.0)
        R = np.diag(np.full(4, 0.05 * size) ** 2)
        S = H @ self.P @ H.T + R
        K = self.P @ H.T @ np.linalg.inv(S)
        self.x = self.x + K @ (z - H @ self.x)
        self.P = (np.eye(8) - K @ H) @ self.P

    @property
    def box(self) -> np.ndarray:
        cx, cy, w, h = self.x[:4]
        return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def cxcywh(box: np.ndarray) -> np.ndarray:
    x1, y1, x2, y2 = box
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], float)


SPAN_CUT = 0.97  # a box shorter than the remembered shape by more than this on an axis is cut short


def shape_span(guess: Patch, stride: int) -> np.ndarray | None:
    """(w, h) frame pixels of the remembered shape."""
    guess_box = guess.box()
    return None if guess_box is None else (guess_box[2:] - guess_box[:2]) * stride + stride


def cut_short(box: np.ndarray, guess: Patch, stride: int) -> bool:
    """Whether a measured box is shorter than the remembered shape on an axis (something in front)."""
    span = shape_span(guess, stride)
    return span is not None and bool(np.any(box[2:] - box[:2] < SPAN_CUT * span - stride))


def visible_sides(box: np.ndarray, predicted: np.ndarray, guess: Patch, stride: int,
                  last_box: np.ndarray | None = None, velocity: np.ndarray | None = None) -> np.ndarray:
    """The box of a partly hidden object, per axis: the measured sides where the visible pieces
    span as far as the remembered shape; else the side nearer its prediction and that moved with
    the object since `last_box` (by `velocity`, per frame; the other one is cut short by the
    occluder, which does not move with it), and the shape's extent from it."""
    span = shape_span(guess, stride)
    if span is None:
        return predicted
    out = box.copy()
    for a in (0, 1):
        lo, hi = box[a], box[a + 2]
        if hi - lo >= SPAN_CUT * span[a] - stride:
            continue
        off_lo, off_hi = abs(lo - predicted[a]), abs(hi - predicted[a + 2])
        if last_box is not None and velocity is not None:
            off_lo += abs(lo - last_box[a] - velocity[a])
            off_hi += abs(hi - last_box[a + 2] - velocity[a])
        keep_lo = off_lo <= off_hi
        if keep_lo:
            out[a + 2] = lo + span[a]
        else:
            out[a] = hi - span[a]
    return out


def within_reach(predicted: np.ndarray, boxes: np.ndarray, unseen: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(R, N) whether each candidate box lies where an object can be: its centre within a radius
    of the predicted centre (kept inside the frame: an object that left comes back where it left)
    that grows with the frames the object went unseen, up to three sizes. A look-alike across the
    frame is not the object that just went out of view."""
    h, w = shape
    centre = np.clip((predicted[:, :2] + predicted[:, 2:]) / 2, 0, (w - 1, h - 1))
    size = np.maximum(predicted[:, 2:] - predicted[:, :2], 1).max(1)
    radius = size * np.minimum(1.5 + 0.05 * unseen, 3.0)
    cand = (boxes[:, :2] + boxes[:, 2:]) / 2
    return np.linalg.norm(cand[None] - centre[:, None], axis=-1) <= radius[:, None]

