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


def visible_sides(box: np.ndarray, predicted: np.ndarray, guess: Patch, stride: int) -> np.ndarray:
    """The box of a partly hidden object, per axis: the measured sides where the visible pieces
    span (about) as far as the remembered shape; else the measured side nearer its prediction
    (the other one is cut short by the occluder) and the shape's extent from it."""
    guess_box = guess.box()
    if guess_box is None:
        return predicted
    shape_box = guess_box * stride
    shape_span = shape_box[2:] - shape_box[:2] + stride
    out = box.copy()
    for a in (0, 1):
        lo, hi = box[a], box[a + 2]
        if hi - lo >= 0.9 * shape_span[a]:
            continue
        if abs(lo - predicted[a]) <= abs(hi - predicted[a + 2]):
            out[a + 2] = lo + shape_span[a]
        else:
            out[a] = hi - shape_span[a]
    return out
