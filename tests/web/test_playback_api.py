"""A file camera's playback over the API (issue 26): pause, step back and forward, seek, each
giving exactly that frame (its number in X-Frame-Index and the mark in the picture, its content),
a prompt on the paused frame resolved there; bad commands get one-line 4xx answers."""

from __future__ import annotations

import cv2
import httpx
import numpy as np
import pytest

from fastsam_video.sources.seeking import SeekableVideo
from tests.media import marked_frame, write_marked_clip
from tests.web.conftest import OBJECT_POINT, STILL, make_server, wait_for

FRAMES = 30


def playback_opener(spec: str):
    from fastsam_video.sources import LoopingSource
    from fastsam_video.sources.playback import PlaybackSource

    return LoopingSource(spec) if "loop" in spec else PlaybackSource(spec)


@pytest.fixture(scope="module")
def marked(tmp_path_factory):
    return write_marked_clip(tmp_path_factory.mktemp("marked") / "marked.mp4", cv2.imread(str(STILL)), FRAMES)


@pytest.fixture(scope="module")
def player(segmenter, marked, tmp_path_factory):
    """Camera 0: the marked clip under playback control; camera 1: a looping (live) one."""
    srv = make_server(segmenter, tmp_path_factory.mktemp("player"), open_source=playback_opener)
    srv.live.add_camera(str(marked))
    loop = marked.with_name("loop.mp4")
    loop.write_bytes(marked.read_bytes())
    srv.live.add_camera(str(loop))
    yield srv
    srv.close()


def shows(client, n):
    """The snapshot once it is frame n: its number and the mark in its picture agree."""
    def check():
        r = client.get("/api/cameras/0/snapshot.jpg")
        return r.status_code == 200 and r.headers["X-Frame-Index"] == str(n) and r
    shot = wait_for(check, 20, f"frame {n} shown")
    assert marked_frame(cv2.imdecode(np.frombuffer(shot.content, np.uint8), cv2.IMREAD_COLOR)) == n
    return shot


def test_pause_seek_step_and_prompt_on_the_paused_frame(player, marked):
    with httpx.Client(base_url=player.url, timeout=30) as client, SeekableVideo(marked) as reference:
        client.put("/api/cameras/0/everything", json={"on": False})
        wait_for(lambda: client.get("/api/cameras/0").json()["frames"] > 2, 20, "frames playing")
        paused = client.post("/api/cameras/0/playback", json={"action": "pause"}).json()
        assert paused["paused"] is True and paused["frames"] == FRAMES
        asked = client.post("/api/cameras/0/playback", json={"action": "seek", "frame": 17}).json()
        assert (asked["frame"], asked["time"]) == (17, pytest.approx(reference.times[17], abs=1e-6))
        shows(client, 17)
        assert np.array_equal(player.live.camera(0).latest.frame.image, reference.frame(17)[0])  # exact content
        assert client.post("/api/cameras/0/playback", json={"action": "step", "delta": -1}).json()["frame"] == 16
        shows(client, 16)
        assert np.array_equal(player.live.camera(0).latest.frame.image, reference.frame(16)[0])
        assert client.post("/api/cameras/0/playback", json={"action": "step"}).json()["frame"] == 17
        shot = shows(client, 17)
        state = client.get("/api/cameras/0").json()["playback"]
        assert state == client.get("/api/cameras/0/playback").json()
        assert (state["frame"], state["paused"], state["frames"]) == (17, True, FRAMES)

        pts = float(shot.headers["X-Frame-Pts"])
        oid = client.post("/api/cameras/0/objects", json={"points": [[*OBJECT_POINT, 1]], "pts": pts}).json()["id"]
        obj = wait_for(lambda: next((o for o in client.get("/api/cameras/0/objects").json()
                                     if o["id"] == oid and o["state"] == "tracked"), None), 20, "the object tracked")
        assert obj["pts"] == pytest.approx(reference.times[17], abs=1e-6)
        x1, y1, x2, y2 = obj["box"]
        assert x1 <= OBJECT_POINT[0] <= x2 and y1 <= OBJECT_POINT[1] <= y2
        assert client.get("/api/cameras/0/playback").json()["frame"] == 17  # shown on the paused frame, not played on
        mask = player.live.camera(0).latest.segmentation
        assert mask.masks[mask.object_ids.tolist().index(oid)][OBJECT_POINT[1], OBJECT_POINT[0]]
        client.delete(f"/api/cameras/0/objects/{oid}")
        assert client.post("/api/cameras/0/replay").status_code == 200  # a paused file: from its start
        wait_for(lambda: int(client.get("/api/cameras/0/snapshot.jpg").headers["X-Frame-Index"]) < 7, 20,
                 "playing from the start")


@pytest.mark.parametrize("body, status, words", [
    ({"action": "seek", "frame": FRAMES}, 422, f"outside marked.mp4, which has {FRAMES} frames (0-{FRAMES - 1})"),
    ({"action": "seek"}, 422, "a seek needs the frame number"),
    ({"action": "step", "delta": 0}, 422, "non-zero"),
    ({"action": "step", "delta": "back"}, 422, "delta"),
    ({"action": "rewind"}, 422, "action"),
    ({}, 422, "action"),
])
def test_bad_commands_are_one_line_422s(player, body, status, words):
    r = httpx.post(f"{player.url}/api/cameras/0/playback", json=body, timeout=30)
    assert r.status_code == status and words in r.json()["error"] and "\n" not in r.json()["error"]


def test_unknown_and_live_cameras(player):
    r = httpx.post(f"{player.url}/api/cameras/9/playback", json={"action": "pause"}, timeout=30)
    assert r.status_code == 404 and "unknown camera id 9" in r.json()["error"]
    r = httpx.post(f"{player.url}/api/cameras/1/playback", json={"action": "pause"}, timeout=30)
    assert r.status_code == 409 and "camera 1" in r.json()["error"] and "need a video file camera" in r.json()["error"]
    assert httpx.get(f"{player.url}/api/cameras/1", timeout=30).json()["playback"] is None
