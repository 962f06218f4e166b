"""The event history survives the server being killed: a real `fastsam-video serve` process,
SIGKILL while it runs, a second start on the same folder, the same events (and their clips)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.web.conftest import free_port, wait_for

pytestmark = pytest.mark.slow


def start_server(folder, port: int) -> subprocess.Popen:
    """The demo camera recorded in 2 s segments; its state (recording on) and history in folder/etc."""
    (folder / "etc").mkdir(exist_ok=True)
    return subprocess.Popen([sys.executable, "-m", "fastsam_video", "serve", "--port", str(port), "--output",
                             str(folder), "--record-cameras", "--segment-seconds", "2",
                             "--state", str(folder / "etc" / "state.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def get(url: str, **params):
    """The JSON at `url`; None while the server is not up (the URL line comes before it listens)."""
    try:
        response = httpx.get(url, params=params, timeout=5)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


def history(base: str) -> list[dict] | None:
    page = get(base + "/api/events/history", limit=500)
    return (page and page["events"]) or None  # None until there is one (wait_for takes [] as done)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_events_survive_a_restart(tmp_path, sig):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_server(tmp_path, port)
    try:
        assert "open http" in process.stdout.readline(), process.stderr.read()[-2000:]
        wait_for(lambda: (h := get(base + "/api/health")) and h["cameras"][0]["state"] == "running", 60,
                 "the demo camera running")
        httpx.post(base + "/api/cameras/0/objects", json={"box": [40, 40, 200, 200]}, timeout=10)
        before = wait_for(lambda: (h := history(base)) and any(e["kind"] == "object_added" for e in h)
                          and any(e["has_clip"] for e in h) and h, 30, "the object's event stored")
        wait_for(lambda: httpx.get(base + f"/api/events/{before[0]['id']}/snapshot.jpg", timeout=5).status_code
                 == 200, 10, "its snapshot")
        time.sleep(2.5)  # its recording fragment finished (a kill loses the one being written, about 1 s)
        process.send_signal(sig)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    process = start_server(tmp_path, port)
    try:
        assert "open http" in process.stdout.readline(), process.stderr.read()[-2000:]
        after = wait_for(lambda: history(base), 30, "the history served again")
        assert (tmp_path / "etc" / "events.db").exists()  # beside the state file
        ids = {e["id"]: e for e in after}
        for event in before:  # every event written before the kill, unchanged
            assert ids[event["id"]]["kind"] == event["kind"] and ids[event["id"]]["wall_time"] == event["wall_time"]
        assert max(ids) > max(e["id"] for e in before)  # new ones numbered after the old
        added = next(e for e in before if e["kind"] == "object_added")
        assert httpx.get(base + f"/api/events/{added['id']}/snapshot.jpg", timeout=5).status_code == 200
        clip = httpx.get(base + f"/api/events/{added['id']}/clip.mp4", params={"pre": 1, "post": 0.5}, timeout=30)
        assert clip.status_code == 200 and clip.content[4:8] == b"ftyp", clip.text[:200]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        finally:
            if process.poll() is None:
                process.kill()
