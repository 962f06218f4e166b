"""Zones through the web app: the API edits them, SSE, the webhook and MQTT (a real Mosquitto)
carry their events, at the frames the clip's true paths give."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from fastsam_video import synth
from fastsam_video.analytics import Line, Zone
from fastsam_video.pipeline import Pipeline
from fastsam_video.sources import FrameSource, open_source
from fastsam_video.tracker import ObjectPrompt, PromptSet
from fastsam_video.web.app import create_app
from fastsam_video.web.imaging import ImageSegmenter
from fastsam_video.web.outlets import EventBus, MqttOutlet, WebhookOutlet
from fastsam_video.web.service import LiveService
from tests.analytics.truth import assert_zone_events, first_frame_points
from tests.web.conftest import Server, wait_for
from tests.web.test_outlets import Receiver, _try_subscribe, mosquitto  # noqa: F401  (the broker fixture)

ZONE = {"name": "left", "polygon": [[0, 0], [0.45, 0], [0.45, 1], [0, 1]], "loiter_seconds": 1}
LINE = {"name": "mid", "line": [[0.5, 0], [0.5, 1]]}


class GatedSource(FrameSource):
    """A file whose frames start to flow once `gate` is set (zones are in place by then)."""

    def __init__(self, path, gate: threading.Event):
        super().__init__(0)
        self._inner = open_source(str(path))
        self.name, self.fps, self.live = self._inner.name, self._inner.fps, False
        self.frame_count = self._inner.frame_count
        self.gate = gate

    def _read_image(self):
        while not self.gate.wait(0.2):
            pass
        frame = self._inner.read()
        return None if frame is None else (frame.image, frame.pts)

    def _release(self) -> None:
        self._inner.close()


def sse_events(url: str, received: list, stop: threading.Event) -> None:
    try:
        with httpx.stream("GET", url, timeout=httpx.Timeout(5, read=60)) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    received.append(json.loads(line[6:]))
                if stop.is_set():
                    return
    except httpx.HTTPError:  # the server closed the stream at the end of the test
        pass


@pytest.mark.slow
def test_zones_api_sse_webhook_and_mqtt_carry_the_true_events(segmenter, tmp_path, mosquitto):  # noqa: F811
    clip = next(c for c in synth.zone_scenarios() if c.name == "patrol")
    folder = synth.write_clip(clip, tmp_path)
    _, labels, _ = synth.render_clip(clip)
    gate = threading.Event()
    mosquitto["process"] = mosquitto["start"]()
    received_mqtt: list[dict] = []
    client = wait_for(lambda: _try_subscribe(mosquitto["port"], received_mqtt), 10, "the broker up")
    zone_topic: list[dict] = []
    client.message_callback_add("site/events/camera/0/zone/#", lambda c, u, msg: zone_topic.append(
        {"topic": msg.topic, **json.loads(msg.payload)}))
    client.subscribe("site/events/camera/0/zone/#", qos=1)
    receiver = Receiver()
    outlets = [WebhookOutlet(receiver.url).start(),
               MqttOutlet(f"mqtt://127.0.0.1:{mosquitto['port']}/site/events").start()]
    bus = EventBus()
    for outlet in outlets:
        bus.subscribe(outlet.offer)
    pipeline = Pipeline([], segmenter, queue_size=2, stay_open=True)
    live = LiveService(pipeline, lambda spec: GatedSource(spec, gate), output_dir=tmp_path / "rec", bus=bus)
    prompts = PromptSet(tuple(ObjectPrompt(i, points=(p,), labels=(1,))
                              for i, p in enumerate(first_frame_points(labels), start=1)))
    live.add_camera(str(folder / "video.mp4"), prompts)
    server = Server(create_app(live, ImageSegmenter(segmenter, None)), live)
    sse: list[dict] = []
    stop = threading.Event()
    reader = threading.Thread(target=sse_events, args=(f"{server.url}/api/events?camera=0", sse, stop))
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            assert http.post("/api/cameras/0/zones", json=ZONE).status_code == 201
            assert http.post("/api/cameras/0/zones", json=LINE).status_code == 201
            taken = http.post("/api/cameras/0/zones", json=LINE)
            assert taken.status_code == 409 and "already has" in taken.json()["error"]
            bad = http.post("/api/cameras/0/zones", json={"name": "x", "polygon": [[0, 0], [1, 1], [1, 0], [0, 1]]})
            assert bad.status_code == 422 and "crosses itself" in bad.json()["error"]
            listed = http.get("/api/cameras/0/zones").json()
            assert [(z["name"], z["kind"]) for z in listed] == [("left", "zone"), ("mid", "line")]
            reader.start()
            time.sleep(1.0)  # the SSE subscription is in place before the first frame
            gate.set()
            wait_for(lambda: any(e["kind"] == "camera_ended" for e in sse), 120, "the clip processed")
            assert_zone_events(sse, labels, Zone(**ZONE), Line("mid", (0.5, 0), (0.5, 1)))
            zone_kinds = ("zone_entered", "zone_left", "line_crossed", "loitering")
            expected = [(e["kind"], e["object_id"], e["zone"], e["frame"]) for e in sse if e["kind"] in zone_kinds]
            wait_for(lambda: len([e for e in receiver.received if e["kind"] in zone_kinds]) == len(expected), 20,
                     "the webhook got every zone event")
            assert [(e["kind"], e["object_id"], e["zone"], e["frame"]) for e in receiver.received
                    if e["kind"] in zone_kinds] == expected
            wait_for(lambda: len(zone_topic) == len(expected), 20, "MQTT zone topics got every zone event")
            assert sorted((e["kind"], e["object_id"], e["zone"], e["frame"]) for e in zone_topic) == sorted(expected)
            assert {e["topic"] for e in zone_topic} == {"site/events/camera/0/zone/left", "site/events/camera/0/zone/mid"}
            # counts in GET .../zones and in the camera's status
            counts = {z["name"]: z["counts"] for z in http.get("/api/cameras/0/zones").json()}
            crossings = [e for e in expected if e[0] == "line_crossed"]
            assert counts["mid"]["crossed_in"] + counts["mid"]["crossed_out"] == len(crossings)
            assert counts["left"]["entered"] == len([e for e in expected if e[0] == "zone_entered"])
            assert http.get("/api/cameras/0").json()["zones"] == [counts["left"], counts["mid"]]
            # PUT replaces, DELETE removes, then 404
            put = http.put("/api/cameras/0/zones/mid", json={"line": [[0.3, 0], [0.3, 1]], "inertia": 2})
            assert put.status_code == 200 and put.json()["line"] == [[0.3, 0], [0.3, 1]]
            assert http.delete("/api/cameras/0/zones/mid").status_code == 204
            gone = http.delete("/api/cameras/0/zones/mid")
            assert gone.status_code == 404 and "no zone or line 'mid'" in gone.json()["error"]
            assert [z["name"] for z in http.get("/api/cameras/0/zones").json()] == ["left"]
    finally:
        stop.set()
        server.close()
        for outlet in outlets:
            outlet.close()
        receiver.close()
        client.loop_stop()
        client.disconnect()
