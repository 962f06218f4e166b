"""Events out: a webhook against a real local HTTP server, MQTT against a real Mosquitto broker."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fastsam_video.events import Event, EventKind
from fastsam_video.web.outlets import EventBus, MqttOutlet, OutletError, WebhookOutlet
from tests.web.conftest import free_port, wait_for


class Receiver:
    """A local HTTP server that answers 500 to the first `fail` POSTs, then records the JSON."""

    def __init__(self, fail: int = 0):
        self.received: list[dict] = []
        self.attempts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts += 1
                if receiver.attempts <= fail:
                    self.send_response(500)
                else:
                    receiver.received.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def test_webhook_posts_each_event_as_json_retrying_failures():
    receiver = Receiver(fail=2)
    outlet = WebhookOutlet(receiver.url, backoff=(0.05, 0.05, 0.05)).start()
    try:
        bus = EventBus()
        bus.subscribe(outlet.offer)
        bus.publish(Event(EventKind.OBJECT_LOST, camera=1, object_id=3, pts=2.5))
        bus.publish(Event(EventKind.RECORDING_STARTED, camera=1, detail="a.mp4"))
        wait_for(lambda: len(receiver.received) == 2, 10, "both events delivered")
        first = receiver.received[0]
        assert first["kind"] == "object_lost" and first["camera"] == 1 and first["object_id"] == 3
        assert first["pts"] == 2.5 and first["wall_time"] > 0 and first["message"] == "object 3 lost"
        assert receiver.attempts == 4 and outlet.sent == 2 and outlet.dropped == 0
    finally:
        outlet.close()
        receiver.close()


def test_webhook_that_is_down_never_blocks_and_stays_bounded():
    outlet = WebhookOutlet(f"http://127.0.0.1:{free_port()}/", maxsize=100, backoff=(0.2,)).start()
    try:
        start = time.perf_counter()
        for i in range(10_000):
            outlet.offer(Event(EventKind.OBJECT_LOST, object_id=i))
        assert time.perf_counter() - start < 1.0
        assert len(outlet._queue) <= 100 and outlet.dropped >= 9_800
    finally:
        start = time.monotonic()
        outlet.close()
        assert time.monotonic() - start < 6  # the thread stops at once, not after the backlog


def test_outlet_urls_are_checked():
    with pytest.raises(OutletError, match="expected an http"):
        WebhookOutlet("ftp://x/y")
    with pytest.raises(OutletError, match=r"expected mqtt://host"):
        MqttOutlet("http://broker/topic")


@pytest.fixture
def mosquitto(tmp_path):
    if shutil.which("mosquitto") is None and not shutil.os.path.exists("/usr/sbin/mosquitto"):
        pytest.skip("mosquitto is not installed (Debian package `mosquitto`)")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"

    def start():
        return subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    broker = {"port": port, "start": start, "process": None}
    yield broker
    if broker["process"] is not None:
        broker["process"].terminate()
        broker["process"].wait(5)


def subscriber(port: int, topic: str, received: list):
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
    client.on_message = lambda c, u, msg: received.append(json.loads(msg.payload))
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def test_mqtt_publishes_events_and_waits_for_a_broker_that_comes_up_late(mosquitto):
    port = mosquitto["port"]
    outlet = MqttOutlet(f"mqtt://127.0.0.1:{port}/site/events", backoff=(0.5,) * 20).start()
    outlet.offer(Event(EventKind.CAMERA_RECONNECTING, camera=2, detail="no frames"))  # no broker yet
    time.sleep(0.5)
    mosquitto["process"] = mosquitto["start"]()
    received: list[dict] = []
    client = wait_for(lambda: _try_subscribe(port, received), 10, "the broker up")
    try:
        outlet.offer(Event(EventKind.OBJECT_ADDED, camera=0, object_id=1, pts=0.5, detail="points"))
        wait_for(lambda: {e["kind"] for e in received} >= {"object_added"}, 15, "the event published")
        added = next(e for e in received if e["kind"] == "object_added")
        assert added["object_id"] == 1 and added["camera"] == 0 and added["pts"] == 0.5
        assert outlet.sent >= 1
    finally:
        client.loop_stop()
        client.disconnect()
        outlet.close()


def _try_subscribe(port, received):
    try:
        client = subscriber(port, "site/events", received)
    except OSError:
        return None
    time.sleep(0.3)  # the subscription is in place
    return client


def test_mqtt_availability_is_retained_online_then_offline_even_after_kill_9(mosquitto, tmp_path):
    """The last will: a server killed with SIGKILL is reported offline by the broker itself."""
    import signal
    import sys

    import paho.mqtt.client as mqtt

    mosquitto["process"] = mosquitto["start"]()
    port = mosquitto["port"]
    wait_for(lambda: _try_subscribe(port, []), 10, "the broker up").disconnect()
    script = (f"import time\nfrom fastsam_video.events import Event, EventKind\n"
              f"from fastsam_video.web.outlets import MqttOutlet\n"
              f"o = MqttOutlet('mqtt://127.0.0.1:{port}/site/events').start()\n"
              f"o.offer(Event(EventKind.CAMERA_ADDED, camera=3, detail='x'))\nprint('up', flush=True)\n"
              f"time.sleep(60)\n")
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    seen: dict[str, str] = {}

    def watch(topics):
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        client.on_connect = lambda c, *a: [c.subscribe(t, qos=1) for t in topics]
        client.on_message = lambda c, u, msg: seen.update({msg.topic: (msg.payload.decode(), msg.retain)})
        client.connect("127.0.0.1", port)
        client.loop_start()
        return client

    try:
        assert writer.stdout.readline().strip() == "up"
        watcher = watch(["site/availability", "site/cameras/+/status"])
        wait_for(lambda: seen.get("site/availability", ("",))[0] == "online"
                 and "site/cameras/3/status" in seen, 15, "online and the camera's status")
        assert seen["site/cameras/3/status"][0] == "online"
        writer.send_signal(signal.SIGKILL)
        writer.wait(10)
        # the broker notices the dead connection (keepalive 60 s at most; at once when the socket closes)
        wait_for(lambda: seen.get("site/availability", ("",))[0] == "offline", 90, "offline via the last will")
        watcher.loop_stop()
        watcher.disconnect()
        seen.clear()
        late = watch(["site/availability"])  # a subscriber that comes later gets the retained state
        wait_for(lambda: seen.get("site/availability") == ("offline", True), 10, "the retained offline")
        late.loop_stop()
        late.disconnect()
    finally:
        if writer.poll() is None:
            writer.kill()


def test_a_clean_close_publishes_offline(mosquitto):
    mosquitto["process"] = mosquitto["start"]()
    port = mosquitto["port"]
    wait_for(lambda: _try_subscribe(port, []), 10, "the broker up").disconnect()
    outlet = MqttOutlet(f"mqtt://127.0.0.1:{port}/site/events").start()
    wait_for(lambda: outlet.client.is_connected(), 10, "connected")
    time.sleep(0.3)
    outlet.close()
    import paho.mqtt.client as mqtt

    got = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_connect = lambda c, *a: c.subscribe("site/availability", qos=1)
    client.on_message = lambda c, u, msg: got.append((msg.payload.decode(), msg.retain))
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        wait_for(lambda: got == [("offline", True)], 10, "offline retained")
    finally:
        client.loop_stop()
        client.disconnect()
