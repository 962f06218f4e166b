"""Events out of the process: the in-process bus (SSE clients), a webhook and MQTT.

`EventBus.publish` is called on the pipeline's results thread and never waits: each
subscriber has its own bounded queue, and a full queue drops its oldest event (counted).
A webhook outlet POSTs each event as JSON from its own thread, retried with backoff; the
MQTT outlet hands each event to paho-mqtt, whose network thread reconnects with backoff.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import threading
import urllib.error
import urllib.request
from typing import Callable
from urllib.parse import urlsplit

from ..events import Event
from ..sources import redact_url
from ..workers import Worker, reason

log = logging.getLogger(__name__)

BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0)  # seconds between tries of one event; then it is dropped


CAMERA_STATUS = {"camera_added": "online", "camera_connected": "online", "camera_reconnecting": "reconnecting",
                 "camera_ended": "ended", "camera_failed": "failed", "camera_removed": "removed"}


class OutletError(ValueError):
    """A webhook or MQTT URL that cannot work."""


class EventBus:
    """Fan-out of typed events to subscribers; `publish` never blocks."""

    def __init__(self):
        self._subscribers: list[Callable[[Event], None]] = []
        self._lock = threading.Lock()

    def publish(self, event: Event) -> None:
        for deliver in list(self._subscribers):
            deliver(event)

    def subscribe(self, deliver: Callable[[Event], None]) -> Callable[[], None]:
        """`deliver(event)` must not block; returns the unsubscribe function."""
        with self._lock:
            self._subscribers = [*self._subscribers, deliver]

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = [d for d in self._subscribers if d is not deliver]
        return unsubscribe

    def subscribe_async(self, maxsize: int = 256) -> tuple[asyncio.Queue, Callable[[], None]]:
        """An asyncio queue on the running loop fed with every event (oldest dropped when full)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue(maxsize)

        def put(event: Event) -> None:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

        def deliver(event: Event) -> None:
            try:
                loop.call_soon_threadsafe(put, event)
            except RuntimeError:  # the loop is closed: the client is gone
                pass
        return queue, self.subscribe(deliver)


class Outlet:
    """A bounded queue of events and a thread that sends them, retrying each with backoff."""

    def __init__(self, name: str, maxsize: int = 1000, backoff=BACKOFF):
        self.name = name
        self.sent = 0
        self.dropped = 0
        self.backoff = tuple(backoff)
        self._queue: collections.deque[Event] = collections.deque(maxlen=maxsize)
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._worker = Worker(self._run, name=name)

    def start(self) -> Outlet:
        self._worker.start()
        return self

    def offer(self, event: Event) -> None:
        """Queue an event (any thread, never blocks); the oldest goes when the queue is full."""
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append(event)
        self._ready.set()

    def send(self, event: Event) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._ready.wait(0.2):
                continue
            self._ready.clear()
            while self._queue and not self._stop.is_set():
                event = self._queue.popleft()
                for attempt, pause in enumerate((*self.backoff, None)):
                    try:
                        self.send(event)
                        self.sent += 1
                        break
                    except Exception as err:
                        if pause is None or self._stop.is_set():
                            self.dropped += 1
                            log.warning("%s: event dropped after %d tries: %s", self.name, attempt + 1, reason(err))
                            break
                        self._stop.wait(pause)

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._ready.set()
        self._worker.join(timeout)


class WebhookOutlet(Outlet):
    """POSTs each event as JSON to `url` (5 s timeout per try)."""

    def __init__(self, url: str, **kwargs):
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise OutletError(f"--webhook: expected an http(s):// URL, got {redact_url(url)!r}")
        super().__init__(f"webhook {redact_url(url)}", **kwargs)
        self.url = url

    def send(self, event: Event) -> None:
        request = urllib.request.Request(self.url, data=json.dumps(event.to_dict()).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            if response.status >= 300:
                raise OSError(f"HTTP {response.status}")


class MqttOutlet(Outlet):
    """Publishes each event as JSON to `mqtt://[user:pass@]host[:port]/topic` (QoS 1). paho's
    network thread connects and reconnects with backoff (1 to 30 s); while the broker is away,
    events wait in this outlet's bounded queue."""

    def __init__(self, url: str, **kwargs):
        import paho.mqtt.client as mqtt

        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
            raise OutletError(f"--mqtt: expected mqtt://host[:port]/topic, got {redact_url(url)!r}")
        super().__init__(f"mqtt {redact_url(url)}", **kwargs)
        self.topic = parts.path.lstrip("/") or "fastsam-video/events"
        # availability beside the events topic: site/events -> site/availability, site/cameras/<id>/status
        self.base = self.topic.rsplit("/", 1)[0] if "/" in self.topic else self.topic
        self.availability = f"{self.base}/availability"
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"fastsam-video-{id(self):x}")
        if parts.username:
            self.client.username_pw_set(parts.username, parts.password)
        # the broker publishes "offline" (retained) for us when the process dies without a word
        self.client.will_set(self.availability, "offline", qos=1, retain=True)
        self.client.on_connect = lambda client, *_: client.publish(self.availability, "online", qos=1, retain=True)
        self.client.reconnect_delay_set(1, 30)
        self.client.connect_async(parts.hostname, parts.port or 1883)
        self.client.loop_start()

    def send(self, event: Event) -> None:
        if not self.client.is_connected():
            raise OSError("not connected to the broker")
        payload = json.dumps(event.to_dict())
        topics = [self.topic] + ([zone_topic(self.topic, event)] if event.zone is not None else [])
        for topic in topics:
            info = self.client.publish(topic, payload, qos=1)
            if info.rc != 0:
                raise OSError(f"publish failed (rc {info.rc})")
        state = CAMERA_STATUS.get(event.kind.value)
        if state is not None and event.camera is not None:  # retained: a new subscriber sees each camera's state
            self.client.publish(f"{self.base}/cameras/{event.camera}/status", state, qos=1, retain=True)

    def close(self, timeout: float = 5.0) -> None:
        super().close(timeout)
        if self.client.is_connected():
            self.client.publish(self.availability, "offline", qos=1, retain=True).wait_for_publish(2)
        self.client.disconnect()
        self.client.loop_stop()


def zone_topic(base: str, event: Event) -> str:
    """A zone event's own topic besides the base one: BASE/camera/ID/zone/NAME."""
    return f"{base}/camera/{event.camera}/zone/{event.zone}"


def open_outlets(webhooks: list[str], mqtt_urls: list[str]) -> list[Outlet]:
    return [WebhookOutlet(u).start() for u in webhooks] + [MqttOutlet(u).start() for u in mqtt_urls]
