"""The HTTP API against a real server on the bundled model: each endpoint, its 4xx cases, the token."""

from __future__ import annotations

import json
import time

import cv2
import httpx
import numpy as np

from tests.web.conftest import OBJECT_POINT, STILL, make_server, wait_for


def running(client, cid: int = 0) -> dict:
    return wait_for(lambda: next((c for c in client.get("/api/cameras").json()
                                  if c["id"] == cid and c["state"] == "running"), None),
                    what=f"camera {cid} running")


def frames_of(client, cid: int = 0) -> int:
    return next(c["frames"] for c in client.get("/api/cameras").json() if c["id"] == cid)


def one_line_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    message = response.json()["error"]
    assert "\n" not in message and "Traceback" not in message and message
    return message


# ---------------------------------------------------------------- health, cameras, stream

def test_health_lists_each_camera_state(client):
    running(client)
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    camera = body["cameras"][0]
    assert camera["id"] == 0 and camera["state"] == "running" and camera["error"] is None
    assert camera["name"].endswith("/still.mp4 (loop)")
    assert body["model"]["imgsz"] == 320


def test_cameras_are_added_and_removed_while_it_runs(client, clip):
    running(client)
    cid = client.post("/api/cameras", json={"source": str(clip)}).json()["id"]
    assert cid != 0
    camera = running(client, cid)
    assert camera["size"] == [416, 320] and camera["frames"] > 0
    assert client.delete(f"/api/cameras/{cid}").status_code == 204
    assert cid not in [c["id"] for c in client.get("/api/cameras").json()]
    one_line_error(client.get(f"/api/cameras/{cid}"), 404)
    assert client.get("/api/cameras/0").json()["state"] == "running"  # the other camera went on


def test_bad_camera_requests_are_4xx_with_one_line(client):
    assert "no such file" in one_line_error(client.post("/api/cameras", json={"source": "/nope/missing.mp4"}), 422)
    one_line_error(client.post("/api/cameras", json={"src": "x"}), 422)
    bad_json = client.post("/api/cameras", content=b"{bad", headers={"content-type": "application/json"})
    assert "JSON" in one_line_error(bad_json, 422)
    one_line_error(client.delete("/api/cameras/99"), 404)
    one_line_error(client.get("/api/cameras/abc"), 422)
    one_line_error(client.get("/api/nothing-here"), 404)


def test_camera_passwords_are_never_returned(client):
    response = client.post("/api/cameras", json={"source": "rtsp://admin:s3cret@127.0.0.1:9/live"})
    assert response.status_code == 201, response.text
    cid = response.json()["id"]
    try:
        for path in ("/api/cameras", "/api/health", f"/api/cameras/{cid}"):
            text = client.get(path).text
            assert "s3cret" not in text and "admin:***@127.0.0.1" in text
    finally:
        client.delete(f"/api/cameras/{cid}")


def test_snapshot_and_mjpeg_stream(server, client):
    running(client)
    snap = client.get("/api/cameras/0/snapshot.jpg")
    assert snap.headers["content-type"] == "image/jpeg"
    assert cv2.imdecode(np.frombuffer(snap.content, np.uint8), cv2.IMREAD_COLOR).shape == (320, 416, 3)
    stream = server.live.camera(0).stream
    before = stream.encoded
    with client.stream("GET", "/api/cameras/0/stream.mjpg") as response:
        assert response.headers["content-type"].startswith("multipart/x-mixed-replace; boundary=frame")
        data = b""
        for chunk in response.iter_bytes():
            data += chunk
            if data.count(b"--frame") >= 3:
                break
    parts = [p for p in data.split(b"--frame")[1:3]]
    for part in parts:
        jpeg = part.split(b"\r\n\r\n", 1)[1]
        assert jpeg.startswith(b"\xff\xd8")
    assert stream.encoded > before
    time.sleep(0.5)
    idle = stream.encoded
    time.sleep(1.0)
    assert stream.encoded == idle, "JPEGs were encoded with nobody watching"


def test_mjpeg_encodes_once_per_camera_whatever_the_viewers(server):
    """Three viewers for 2 s: the encoder's count stays at most its display rate, not 3x."""
    import threading

    stream = server.live.camera(0).stream
    counts = []

    def view():
        n = 0
        with httpx.stream("GET", f"{server.url}/api/cameras/0/stream.mjpg", timeout=10) as r:
            end = time.monotonic() + 2.0
            for chunk in r.iter_bytes():
                n += chunk.count(b"--frame")
                if time.monotonic() > end:
                    break
        counts.append(n)

    before = stream.encoded
    viewers = [threading.Thread(target=view) for _ in range(3)]
    for v in viewers:
        v.start()
    for v in viewers:
        v.join(15)
    encoded = stream.encoded - before
    assert min(counts) > 0
    assert encoded <= stream.max_fps * 3 + 2  # ~2 s of viewing plus start-up, once for all three viewers
    assert sum(counts) > encoded  # each JPEG went to several viewers


# ---------------------------------------------------------------- objects

def test_object_from_a_point_is_tracked_and_removed(client):
    running(client)
    x, y = OBJECT_POINT
    oid = client.post("/api/cameras/0/objects", json={"points": [[x, y, 1]]}).json()["id"]
    obj = wait_for(lambda: next((o for o in client.get("/api/cameras/0/objects").json()
                                 if o["id"] == oid and o["state"] == "tracked"), None), what="object tracked")
    x1, y1, x2, y2 = obj["box"]
    assert x1 <= x <= x2 and y1 <= y <= y2
    assert obj["prompt"] == {"points": [[x, y, 1]]} and obj["color"].startswith("#")
    box = client.post("/api/cameras/0/objects", json={"box": [x1, y1, x2, y2]}).json()["id"]
    assert box == oid + 1
    assert client.put(f"/api/cameras/0/objects/{oid}", json={"points": [[x, y, 1], [5, 5, 0]]}).status_code == 200
    assert client.get("/api/cameras/0/objects").json()[0]["prompt"]["points"][1] == [5, 5, 0]
    for o in (oid, box):
        assert client.delete(f"/api/cameras/0/objects/{o}").status_code == 204
    assert client.get("/api/cameras/0/objects").json() == []


def test_bad_object_prompts_are_4xx(client):
    running(client)
    off_frame = client.post("/api/cameras/0/objects", json={"points": [[500, 10, 1]]})
    assert "off the 416x320" in one_line_error(off_frame, 422)
    one_line_error(client.post("/api/cameras/0/objects", json={"points": [[10, 10, 0]]}), 422)  # no foreground
    one_line_error(client.post("/api/cameras/0/objects", json={"box": [50, 50, 10, 10]}), 422)
    one_line_error(client.post("/api/cameras/0/objects", json={"box": [1, 2, 3]}), 422)
    one_line_error(client.post("/api/cameras/0/objects", json={"points": [[1, 1, 1]], "text": "a"}), 422)
    one_line_error(client.post("/api/cameras/0/objects", json={"text": "  "}), 422)
    one_line_error(client.post("/api/cameras/0/objects", json={"points": "12,4"}), 422)
    one_line_error(client.post("/api/cameras/7/objects", json={"points": [[1, 1, 1]]}), 404)
    one_line_error(client.delete("/api/cameras/0/objects/999"), 404)
    one_line_error(client.put("/api/cameras/0/objects/999", json={"box": [1, 1, 9, 9]}), 404)


def test_everything_toggle(client):
    assert client.put("/api/cameras/0/everything", json={"on": False}).json() == {"everything": False}
    assert client.get("/api/cameras/0").json()["everything"] is False
    client.put("/api/cameras/0/everything", json={"on": True})
    one_line_error(client.put("/api/cameras/0/everything", json={"on": "maybe"}), 422)


# ---------------------------------------------------------------- recording

def test_recording_start_stop_inside_the_output_folder(server, client):
    running(client)
    start = frames_of(client)
    assert client.post("/api/cameras/0/recording", json={"name": "first.mp4"}).json() == {"recording": "first.mp4"}
    one_line_error(client.post("/api/cameras/0/recording"), 409)
    # some frames into the recording, however loaded the machine: counted, not slept for
    wait_for(lambda: frames_of(client) >= start + 10, 60, "10 frames recorded")
    assert client.delete("/api/cameras/0/recording").json() == {"recorded": "first.mp4"}
    path = server.live.output_dir / "first.mp4"
    wait_for(lambda: path.exists() and path.stat().st_size > 1000, what="the recording written")
    one_line_error(client.delete("/api/cameras/0/recording"), 409)
    for name in ("../escape.mp4", "/tmp/x.mp4", "a/b.mp4", "..", ".hidden.mp4"):
        one_line_error(client.post("/api/cameras/0/recording", json={"name": name}), 422)
    assert not (server.live.output_dir.parent / "escape.mp4").exists()
    name = client.post("/api/cameras/0/recording").json()["recording"]  # default name
    assert name.startswith("camera0-") and name.endswith(".mp4")
    client.delete("/api/cameras/0/recording")
    one_line_error(client.post("/api/cameras/5/recording"), 404)


# ---------------------------------------------------------------- events

def test_events_stream_typed_events(server, client):
    running(client)
    received = []
    with httpx.stream("GET", f"{server.url}/api/events?camera=0", timeout=20) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines).startswith(":")  # connected
        oid = client.post("/api/cameras/0/objects", json={"points": [[*OBJECT_POINT, 1]]}).json()["id"]
        client.post("/api/cameras/0/recording", json={"name": "events.mp4"})
        for line in lines:
            if line.startswith("data: "):
                received.append(json.loads(line[6:]))
                kinds = {e["kind"] for e in received}
                if {"object_added", "recording_started"} <= kinds:
                    break
    client.delete("/api/cameras/0/recording")
    client.delete(f"/api/cameras/0/objects/{oid}")
    added = next(e for e in received if e["kind"] == "object_added")
    assert added["camera"] == 0 and added["object_id"] == oid
    assert added["pts"] is not None and abs(added["wall_time"] - time.time()) < 60
    assert "object" in added["message"]


# ---------------------------------------------------------------- segment (the image page)

def upload(client, **fields):
    files = {"image": ("scene.jpg", STILL.read_bytes(), "image/jpeg")}
    return client.post("/api/segment", files=files, data={k: str(v) for k, v in fields.items()})


def test_segment_everything_then_each_prompt_reuses_the_model_output(client):
    first = upload(client, mode="everything").json()
    assert first["width"] == 416 and first["height"] == 320 and len(first["masks"]) >= 3
    assert first["cached"] is False and first["overlay_png"].startswith("data:image/png;base64,")
    mask = first["masks"][0]
    assert set(mask) >= {"box", "score", "area", "bbox", "rle"} and mask["rle"]["size"] == [320, 416]
    image_id = first["image_id"]
    x, y = OBJECT_POINT
    points = client.post("/api/segment", data={"image_id": image_id, "mode": "points",
                                               "points": json.dumps([[x, y, 1]])}).json()
    assert points["cached"] is True and len(points["masks"]) == 1
    bx, by, bw, bh = points["masks"][0]["bbox"]
    assert bx <= x <= bx + bw and by <= y <= by + bh
    assert points["select_ms"] < 500  # the selection alone, well under a second
    box = client.post("/api/segment", data={"image_id": image_id, "mode": "box",
                                            "box": json.dumps([bx, by, bx + bw, by + bh])}).json()
    assert box["cached"] is True and box["masks"][0]["bbox"] == points["masks"][0]["bbox"]
    text = client.post("/api/segment", data={"image_id": image_id, "mode": "text", "text": "a purple disc"}).json()
    assert text["cached"] is True and len(text["masks"]) == 1
    other = client.post("/api/segment", data={"image_id": image_id, "mode": "everything", "imgsz": 448,
                                              "conf": 0.3}).json()
    assert other["cached"] is False  # new settings: the model runs again


def test_segment_bad_requests_are_4xx(client):
    image_id = upload(client).json()["image_id"]
    post = lambda **data: client.post("/api/segment", data={"image_id": image_id, **data})  # noqa: E731
    assert "mode" in one_line_error(post(mode="magic"), 422)
    assert "off the" in one_line_error(post(mode="points", points="[[900, 10, 1]]"), 422)
    one_line_error(post(mode="points", points="[[10, 10"), 422)
    one_line_error(post(mode="points"), 422)
    one_line_error(post(mode="box", box="[10, 10, 5, 5]"), 422)
    one_line_error(post(mode="text", text=""), 422)
    one_line_error(post(mode="everything", conf="1.5"), 422)
    one_line_error(post(mode="everything", imgsz="abc"), 422)
    one_line_error(client.post("/api/segment", data={"image_id": "nope"}), 404)
    one_line_error(client.post("/api/segment", data={"mode": "everything"}), 422)
    files = {"image": ("x.jpg", b"not an image at all", "image/jpeg")}
    assert "not an image" in one_line_error(client.post("/api/segment", files=files), 422)


def test_segment_state_is_per_visitor(client):
    """Two visitors' uploads get different ids; neither sees the other's points."""
    a, b = upload(client).json(), upload(client).json()
    assert a["image_id"] != b["image_id"]
    x, y = OBJECT_POINT
    pa = client.post("/api/segment", data={"image_id": a["image_id"], "mode": "points",
                                           "points": json.dumps([[x, y, 1]])}).json()
    pb = client.post("/api/segment", data={"image_id": b["image_id"], "mode": "everything"}).json()
    assert len(pa["masks"]) == 1 and len(pb["masks"]) == len(a["masks"])


# ---------------------------------------------------------------- limits and the token

def test_upload_size_limit(segmenter, tmp_path):
    server = make_server(segmenter, tmp_path, max_upload=10_000)
    try:
        files = {"image": ("big.jpg", b"\xff" * 20_000, "image/jpeg")}
        assert "limit" in one_line_error(httpx.post(f"{server.url}/api/segment", files=files), 413)
    finally:
        server.close()


def test_token_required_on_every_request(segmenter, tmp_path):
    server = make_server(segmenter, tmp_path, token="t0ken")
    try:
        for path in ("/api/health", "/", "/image", "/docs", "/openapi.json", "/api/events",
                     "/api/cameras/0/stream.mjpg", "/static/live.js"):
            one_line_error(httpx.get(server.url + path), 401)
        one_line_error(httpx.post(server.url + "/api/segment"), 401)
        one_line_error(httpx.get(server.url + "/api/health", headers={"Authorization": "Bearer wrong"}), 401)
        # past the token check: 503 (no camera runs on this server), not 401
        assert httpx.get(server.url + "/api/health", headers={"Authorization": "Bearer t0ken"}).status_code == 503
        with httpx.Client(base_url=server.url) as browser:
            page = browser.get("/?token=t0ken")
            assert page.status_code == 200 and "fastsam-video" in page.text
            assert browser.get("/api/health").status_code == 503  # the cookie the page request set
    finally:
        server.close()


def test_token_resolution(monkeypatch):
    from fastsam_video.web.auth import TOKEN_ENV, resolve_token

    monkeypatch.delenv(TOKEN_ENV, raising=False)
    assert resolve_token("127.0.0.1", None) == (None, False)
    token, generated = resolve_token("0.0.0.0", None)
    assert generated and len(token) >= 24
    assert resolve_token("0.0.0.0", "mine") == ("mine", False)
    monkeypatch.setenv(TOKEN_ENV, "from-env")
    assert resolve_token("0.0.0.0", None) == ("from-env", False)


def test_docs_and_pages_are_served(client):
    assert "/api/segment" in client.get("/openapi.json").json()["paths"]
    assert client.get("/docs").status_code == 200
    assert "live.js" in client.get("/").text and "image.js" in client.get("/image").text
    assert "pointerPrompts" in client.get("/static/common.js").text
    one_line_error(client.get("/static/..%2Fapp.py"), 404)


def test_a_stalled_viewer_never_stalls_the_camera(server, client):
    """A viewer that connects and never reads: the camera goes on and the frames it misses are
    dropped (at most one JPEG is held per camera), not queued."""
    import socket

    running(client)
    stalled = socket.create_connection(("127.0.0.1", server.port))
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.sendall(b"GET /api/cameras/0/stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        stream = server.live.camera(0).stream
        wait_for(lambda: stream.viewers >= 1, 10, "the stalled viewer connected")
        frames = client.get("/api/cameras/0").json()["frames"]
        encoded = stream.encoded
        time.sleep(3)
        assert client.get("/api/cameras/0").json()["frames"] > frames + 5
        assert stream.encoded - encoded < 3 * stream.max_fps + 2
        assert len(stream._waiters) <= 1
    finally:
        stalled.close()
