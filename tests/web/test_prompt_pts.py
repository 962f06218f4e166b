"""A prompt drawn on the frame the viewer saw (its X-Frame-Pts) lands on that frame (issue 21):
on a fast object, with the pts it is tracked; without it, the box finds nothing on the newest frame."""

from __future__ import annotations

import math
import re

import cv2
import httpx
import numpy as np

from .conftest import make_server, wait_for

FPS, FRAMES, SIZE, RADIUS = 15, 45, 50, 72  # one turn in 3 s: 10 px a frame on a 72 px circle


def square_at(pts: float) -> list[float]:
    """The moving square's box at a frame time (the clip loops; its timeline does not restart)."""
    k = round(pts * FPS) % FRAMES
    angle = 2 * math.pi * k / FRAMES
    cx, cy = 160 + RADIUS * math.cos(angle), 120 + RADIUS * math.sin(angle)
    return [cx - SIZE / 2, cy - SIZE / 2, cx + SIZE / 2, cy + SIZE / 2]


def circling_clip(folder):
    path = folder / "circling.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (320, 240))
    for k in range(FRAMES):
        image = np.full((240, 320, 3), 96, np.uint8)
        x1, y1, x2, y2 = (int(round(v)) for v in square_at(k / FPS))
        image[y1:y2, x1:x2] = (40, 40, 220)
        writer.write(image)
    writer.release()
    return path


def states(client, oid):
    return next((o["state"] for o in client.get("/api/cameras/0/objects").json() if o["id"] == oid), None)


def test_a_box_drawn_on_a_frame_seen_a_while_ago_lands_on_that_frame(segmenter, tmp_path):
    srv = make_server(segmenter, tmp_path, sources=[circling_clip(tmp_path)])
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as client:
            shot = wait_for(lambda: (r := client.get("/api/cameras/0/snapshot.jpg")).status_code == 200 and r,
                            what="a first frame")
            assert re.fullmatch(r"\d+\.\d{6}", shot.headers["X-Frame-Pts"])
            with client.stream("GET", "/api/cameras/0/stream.mjpg") as stream:  # each part has it too
                head = next(stream.iter_bytes())
            assert re.search(rb"X-Frame-Pts: \d+\.\d{6}\r\n", head)

            seen = float(client.get("/api/cameras/0/snapshot.jpg").headers["X-Frame-Pts"])
            drawn = square_at(seen)  # where the user saw it
            # the user took a while: the square is across the circle now (waited for, not slept: a
            # loaded machine shows frames late, and the prompt without pts lands on the newest one)
            wait_for(lambda: abs((float(client.get("/api/cameras/0/snapshot.jpg").headers["X-Frame-Pts"]) - seen)
                                 % (FRAMES / FPS) - FRAMES / FPS / 2) < 0.3, what="the square across the circle")
            with_pts = client.post("/api/cameras/0/objects", json={"box": drawn, "pts": seen}).json()["id"]
            without = client.post("/api/cameras/0/objects", json={"box": drawn}).json()["id"]
            wait_for(lambda: states(client, with_pts) in ("tracked", "occluded", "predicted")
                     and states(client, without) == "not_found", what="the prompt with pts tracked, the other not")
            obj = next(o for o in client.get("/api/cameras/0/objects").json() if o["id"] == with_pts)
            x1, y1, x2, y2 = obj["box"]
            assert 0.6 * SIZE <= x2 - x1 <= 1.5 * SIZE and 0.6 * SIZE <= y2 - y1 <= 1.5 * SIZE  # the square
            bad = client.post("/api/cameras/0/objects", json={"box": drawn, "pts": "soon"})
            assert bad.status_code == 422
    finally:
        srv.close()
