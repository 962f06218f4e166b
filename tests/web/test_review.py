"""The event history over HTTP on a real server: ids in the SSE, history pages and filters, the
snapshot, the object's thumbnail, the clip around an event (holding the event's frame), marking
reviewed, and one-line 4xx answers to bad requests."""

from __future__ import annotations

import json
import time

import av
import cv2
import httpx
import numpy as np
import pytest

from tests.conftest import SAMPLES
from tests.web.conftest import make_server, wait_for

CLIP = SAMPLES / "clips" / "crossing" / "video.mp4"  # moving shapes: every frame differs


@pytest.fixture(scope="module")
def review_server(segmenter, tmp_path_factory):
    from fastsam_video.history import Review

    folder = tmp_path_factory.mktemp("review")
    srv = make_server(segmenter, folder, review=Review(folder / "events.db"), segment_seconds=3.0,
                      sources=[CLIP])
    yield srv
    srv.close()


@pytest.fixture
def rclient(review_server):
    with httpx.Client(base_url=review_server.url, timeout=30) as c:
        yield c


def sse_until(url: str, kind: str, seconds: float) -> list[dict]:
    """The SSE stream's events up to the first of `kind`."""
    out = []
    with httpx.stream("GET", url, timeout=seconds) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                out.append(json.loads(line[6:]))
                if out[-1]["kind"] == kind:
                    break
    return out


def decode_frames(data: bytes, tmp_path) -> list[tuple[float, np.ndarray]]:
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as c:
        return [(float(f.time), f.to_ndarray(format="bgr24")) for f in c.decode(video=0)]


def test_an_event_is_stored_with_its_id_snapshot_and_clip(review_server, rclient, tmp_path):
    import threading

    got: list[dict] = []
    listener = threading.Thread(target=lambda: got.extend(sse_until(review_server.url + "/api/events", "object_added", 30)))
    listener.start()
    time.sleep(0.5)
    wait_for(lambda: rclient.get("/api/cameras").json()[0]["state"] == "running", 30, "the camera running")
    time.sleep(4.0)  # a few seconds recorded before the event: the clip has its pre-roll
    oid = rclient.post("/api/cameras/0/objects", json={"box": [40, 40, 200, 200]}).json()["id"]
    listener.join(30)
    added = next(e for e in got if e["kind"] == "object_added")
    assert isinstance(added["id"], int) and added["object_id"] == oid  # the SSE carries the store's id

    stored = wait_for(lambda: (r := rclient.get(f"/api/events/{added['id']}")).status_code == 200 and r.json(), 10,
                      "the event stored")
    assert stored["kind"] == "object_added" and stored["camera"] == 0 and stored["has_clip"]
    history = rclient.get("/api/events/history", params={"camera": 0, "kind": "object_added"}).json()
    assert added["id"] in [e["id"] for e in history["events"]]

    snap = wait_for(lambda: (r := rclient.get(f"/api/events/{added['id']}/snapshot.jpg")).status_code == 200 and r,
                    10, "the snapshot written")
    annotated = cv2.imdecode(np.frombuffer(snap.content, np.uint8), cv2.IMREAD_COLOR)
    clean = cv2.imdecode(np.frombuffer(rclient.get(f"/api/events/{added['id']}/snapshot.jpg?clean=true").content,
                                       np.uint8), cv2.IMREAD_COLOR)
    assert annotated.shape == clean.shape == (240, 320, 3)
    assert np.abs(annotated.astype(int) - clean).mean() > 2  # the overlay is drawn on one, not the other
    thumb = wait_for(lambda: (r := rclient.get(f"/api/events/{added['id']}/thumbnail.jpg")).status_code == 200 and r,
                     10, "the thumbnail")
    assert cv2.imdecode(np.frombuffer(thumb.content, np.uint8), cv2.IMREAD_COLOR) is not None

    time.sleep(5.5)  # the post-roll recorded (and a segment roll on the way: 3 s segments)
    start = time.perf_counter()
    response = rclient.get(f"/api/events/{added['id']}/clip.mp4")
    served = time.perf_counter() - start
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/mp4"
    offset = float(response.headers["x-event-offset"])
    frames = decode_frames(response.content, tmp_path)
    duration = frames[-1][0] - frames[0][0]
    assert 8.0 < duration < 12.5 and 4.0 <= offset <= 6.5, (duration, offset)
    # the event's frame is in the clip, at the offset given: the frame there is the snapshot's
    # (the sample loops every 2 s: frames 2 s apart are the same, so look within 0.9 s of the offset)
    near = [(abs(t - offset), float(np.abs(f.astype(int) - annotated).mean())) for t, f in frames
            if abs(t - offset) < 0.9]
    best = min(near, key=lambda d: d[1])
    assert best[1] < 6 and best[0] < 0.35, (best, sorted(near, key=lambda d: d[1])[:3])
    assert max(d for _, d in near) > best[1] + 3  # the scene moves: a match elsewhere would be worse
    print(f"clip of {len(frames)} frames served in {served * 1e3:.0f} ms, remuxed={response.headers['x-clip-remuxed']}")

    size = len(response.content)
    part = rclient.get(f"/api/events/{added['id']}/clip.mp4", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == response.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{size}"
    assert rclient.get(f"/api/events/{added['id']}/clip.mp4", headers={"Range": f"bytes={size}-"}).status_code == 416

    marked = rclient.post(f"/api/events/{added['id']}/reviewed")
    assert marked.status_code == 200 and marked.json()["reviewed"] is True
    reviewed = rclient.get("/api/events/history", params={"reviewed": "true"}).json()["events"]
    assert [e["id"] for e in reviewed] == [added["id"]]
    assert rclient.post(f"/api/events/{added['id']}/reviewed", json={"reviewed": False}).json()["reviewed"] is False


def test_the_history_counts_in_the_metrics(review_server, rclient):
    text = wait_for(lambda: (m := rclient.get("/api/metrics")).status_code == 200 and m.text, 10, "metrics")
    stored = [line for line in text.splitlines() if line.startswith("fastsam_video_events_stored_total ")]
    assert stored and float(stored[0].split()[1]) >= 1
    assert "fastsam_video_events_dropped_total 0.0" in text


def test_history_pages_and_the_timeline(review_server, rclient):
    wait_for(lambda: len(rclient.get("/api/events/history").json()["events"]) >= 3, 30, "a few events")
    first = rclient.get("/api/events/history", params={"limit": 2}).json()
    assert len(first["events"]) == 2 and first["events"][0]["id"] > first["events"][1]["id"]
    second = rclient.get("/api/events/history", params={"limit": 2, "before_id": first["next_before_id"]}).json()
    assert second["events"] and second["events"][0]["id"] < first["events"][1]["id"]
    assert rclient.get("/api/events/history", params={"since": time.time() + 3600}).json()["events"] == []
    iso = rclient.get("/api/events/history", params={"since": "2000-01-01T00:00"}).json()["events"]
    assert iso
    marks = rclient.get("/api/events/timeline").json()["marks"]
    assert any(m["kind"] == "camera_added" and m["camera"] == 0 for m in marks)


@pytest.mark.parametrize("path, status, words", [
    ("/api/events/history?limit=0", 422, "limit: expected 1 to 500, got 0"),
    ("/api/events/history?limit=abc", 422, "limit"),
    ("/api/events/history?kind=nope", 422, "kind: expected one of"),
    ("/api/events/history?since=yesterday", 422, "since: expected seconds since 1970 or an ISO 8601 time"),
    ("/api/events/history?camera=x", 422, "camera"),
    ("/api/events/999999", 404, "no event 999999"),
    ("/api/events/abc", 422, "eid"),
    ("/api/events/999999/snapshot.jpg", 404, "no event"),
    ("/api/events/999999/clip.mp4", 404, "no event"),
    ("/api/events/1/clip.mp4?pre=-1", 422, "pre: expected 0 to 60 seconds"),
    ("/api/events/timeline?since=10&until=5", 422, "until must be after since"),
])
def test_bad_requests_get_one_line_4xx(rclient, path, status, words):
    response = rclient.get(path)
    assert response.status_code == status, response.text
    assert words in response.json()["error"] and "\n" not in response.json()["error"]


def test_reviewing_an_unknown_event_is_404(rclient):
    response = rclient.post("/api/events/999999/reviewed")
    assert response.status_code == 404 and "no event 999999" in response.json()["error"]


def test_where_the_event_history_lives():
    from argparse import Namespace

    from fastsam_video.web.server import events_db_path

    assert events_db_path(Namespace(output="rec", events_db=None)).as_posix() == "rec/events.db"
    assert events_db_path(Namespace(output="rec", events_db="/data/h.db")).as_posix() == "/data/h.db"
    assert events_db_path(Namespace(output="rec", events_db="none")) is None
    assert events_db_path(Namespace(output="rec", events_db=None, state="/etc/site/state.json")).as_posix() == \
        "/etc/site/events.db"  # beside the state file, once the server has one
    assert events_db_path(Namespace(output="rec", events_db=None, state_path="/srv/s/state.json")).as_posix() == \
        "/srv/s/events.db"


def test_zone_events_are_stored_with_their_zone(review_server, rclient):
    """A kind the store was written before (issue 22's zones) goes in with its zone and comes out
    through the zone filter, with its snapshot and clip."""
    if not rclient.get("/api/cameras/0/objects").json():
        rclient.post("/api/cameras/0/objects", json={"box": [40, 40, 200, 200]})
    made = rclient.post("/api/cameras/0/zones", json={"name": "everywhere",
                                                     "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]})
    assert made.status_code == 201, made.text
    entered = wait_for(lambda: rclient.get("/api/events/history", params={"zone": "everywhere"}).json()["events"]
                       or None, 30, "a zone event stored")
    event = entered[-1]
    assert event["kind"] == "zone_entered" and event["zone"] == "everywhere" and event["object_id"] is not None
    assert rclient.get("/api/events/history", params={"zone": "everywhere", "kind": "zone_entered"}).json()["events"]
    wait_for(lambda: rclient.get(f"/api/events/{event['id']}/snapshot.jpg").status_code == 200, 10, "its snapshot")
    assert event["has_clip"]
