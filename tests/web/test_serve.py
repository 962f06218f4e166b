"""`fastsam-video serve` as a user runs it: a real process, the bundled demo clip, a signal to stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import httpx

from tests.web.conftest import free_port, wait_for
from tests.web.test_outlets import Receiver


def test_serve_with_no_source_plays_the_demo_requires_a_token_off_loopback_and_posts_events(tmp_path):
    port = free_port()
    hook = Receiver()
    env = {**os.environ, "FASTSAM_VIDEO_TOKEN": ""}
    process = subprocess.Popen([sys.executable, "-m", "fastsam_video", "serve", "--host", "127.0.0.2",
                                "--port", str(port), "--output", str(tmp_path), "--backend", "torch",
                                "--webhook", hook.url],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = process.stdout.readline()  # printed once the model and the camera are up
        assert f"http://127.0.0.2:{port}/?token=" in url, url + process.stderr.read()
        token = url.split("?token=")[1].split()[0]
        base = f"http://127.0.0.2:{port}"
        wait_for(lambda: _get(base + "/api/health", token), 60, "the server up")
        assert httpx.get(base + "/api/health").status_code == 401
        health = wait_for(lambda: (h := _get(base + "/api/health", token)) and h["cameras"][0]["state"] == "running"
                          and h, 60, "the demo camera running")
        assert health["cameras"][0]["name"] == "crossing/video.mp4 (loop)"
        added = wait_for(lambda: next((e for e in hook.received if e["kind"] == "camera_added"), None), 10,
                         "the webhook called")
        assert added["camera"] == 0
        viewer = threading.Thread(target=_watch, args=(f"{base}/api/cameras/0/stream.mjpg?token={token}",))
        viewer.start()  # a browser left open must not keep the server from stopping
        time.sleep(1)
    finally:
        hook.close()
        process.send_signal(signal.SIGINT)
        start = time.monotonic()
        try:
            process.wait(30)
        finally:
            if process.poll() is None:
                process.kill()
    assert time.monotonic() - start < 15
    stderr = process.stderr.read()
    assert "needs a token" in stderr and token not in stderr  # generated, printed once (in the URL)
    assert process.returncode == 0, stderr[-2000:]


def _get(url: str, token: str):
    try:
        response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


def _watch(url: str) -> None:
    try:
        with httpx.stream("GET", url, timeout=30) as response:
            for _ in response.iter_bytes():
                pass
    except httpx.HTTPError:
        pass  # the server went away: what this viewer waits for
