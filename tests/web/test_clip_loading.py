"""A text prompt added while the server runs loads CLIP on the request's thread: the cameras
never wait for it, and a CLIP that cannot load is a 503 with one line."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from fastsam_video.clip_loader import ClipLoader
from fastsam_video.errors import WeightsError
from tests.web.conftest import Server, opener, tiny_text_encoder, wait_for


def serve_with(segmenter, tmp_path, clip_factory, clip_source):
    from fastsam_video.pipeline import Pipeline
    from fastsam_video.web.app import create_app
    from fastsam_video.web.imaging import ImageSegmenter
    from fastsam_video.web.service import LiveService

    loader = ClipLoader(clip_factory, background=False)
    pipeline = Pipeline([], segmenter, queue_size=2, stay_open=True, text_encoder=loader)
    live = LiveService(pipeline, opener, output_dir=tmp_path, clip=loader)
    live.add_camera(str(clip_source))
    return Server(create_app(live, ImageSegmenter(segmenter, loader.load)), live)


def frames(client) -> int:
    return client.get("/api/cameras/0").json()["frames"]


@pytest.mark.slow
def test_a_slow_clip_load_never_stops_the_cameras(segmenter, tmp_path, clip):
    def slow_clip():
        time.sleep(3.0)  # what loading CLIP (or its download) costs
        return tiny_text_encoder()

    server = serve_with(segmenter, tmp_path, slow_clip, clip)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            wait_for(lambda: client.get("/api/cameras/0").json()["state"] == "running", what="the camera running")
            answer = {}
            request = threading.Thread(target=lambda: answer.update(
                r=client.post("/api/cameras/0/objects", json={"text": "a purple disc"})))
            request.start()
            time.sleep(0.5)
            before = frames(client)
            time.sleep(2.0)  # CLIP is still loading
            during = frames(client) - before
            request.join(30)
            assert answer["r"].status_code == 201, answer["r"].text
            assert during >= 5, f"only {during} frames in 2 s while CLIP loaded: the camera waited"
            oid = answer["r"].json()["id"]
            wait_for(lambda: any(o["id"] == oid and o["state"] != "pending"
                                 for o in client.get("/api/cameras/0/objects").json()), what="the text prompt applied")
    finally:
        server.close()


def test_a_clip_that_cannot_load_is_a_503_with_one_line(segmenter, tmp_path, clip):
    def missing():
        raise WeightsError("CLIP weights ViT-B-32.pt are not in weights/ and could not be downloaded (URLError)")

    server = serve_with(segmenter, tmp_path, missing, clip)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            wait_for(lambda: client.get("/api/cameras/0").json()["state"] == "running", what="the camera running")
            started = time.monotonic()
            response = client.post("/api/cameras/0/objects", json={"text": "a dog"})
            assert response.status_code == 503, response.text
            message = response.json()["error"]
            assert "CLIP" in message and "ViT-B-32.pt" in message and "\n" not in message
            assert time.monotonic() - started < 5
            assert client.get("/api/cameras/0/objects").json() == []  # nothing half-added
            assert client.get("/api/cameras/0").json()["state"] == "running"
    finally:
        server.close()
