"""`serve` run for weeks, as a site runs it: a config file, a state file that survives SIGTERM and
SIGKILL, metrics, health, set-up errors that answer at once. Real processes throughout."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.web.conftest import OBJECT_POINT, free_port, still_clip, wait_for

pytestmark = pytest.mark.slow


def start(args, env=None):
    return subprocess.Popen([sys.executable, "-m", "fastsam_video", "serve", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "FASTSAM_VIDEO_TOKEN": "", **(env or {})})


def stop(process, sig=signal.SIGTERM) -> str:
    process.send_signal(sig)
    try:
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    return process.stderr.read()


def running_cameras(base: str, count: int):
    def check():
        try:
            cameras = httpx.get(f"{base}/api/cameras", timeout=5).json()
        except httpx.HTTPError:
            return None
        return cameras if len(cameras) == count and all(c["state"] == "running" for c in cameras) else None
    return wait_for(check, 90, f"{count} cameras running")


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_cameras_objects_and_settings_come_back_after_a_restart(tmp_path, how):
    clip = still_clip(tmp_path)
    config = tmp_path / "site.yaml"
    config.write_text(f"server:\n  output: {tmp_path / 'rec'}\nmodel:\n  imgsz: 320\n  backend: onnx\n"
                      f"defaults:\n  realtime: true\ncameras:\n  door:\n    source: {clip}\n    record: true\n"
                      "    segment_seconds: 30\n    zones: [{name: gate, polygon: [[0, 0], [0.5, 0], [0.5, 1]]}]\n")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = ["--config", config, "--port", port]
    process = start(args)
    try:
        door = running_cameras(base, 1)[0]
        assert door["recording"] is not None  # record: true in the config
        loop = httpx.post(f"{base}/api/cameras", json={"source": str(clip)}).json()["id"]
        running_cameras(base, 2)
        box = httpx.post(f"{base}/api/cameras/{loop}/objects", json={"box": [250, 150, 310, 210]}).json()["id"]
        point = httpx.post(f"{base}/api/cameras/{loop}/objects",
                           json={"points": [[*OBJECT_POINT, 1]]}).json()["id"]
        httpx.delete(f"{base}/api/cameras/{loop}/objects/{box}")  # ids are not reused: the next one is 3
        three = httpx.post(f"{base}/api/cameras/{loop}/objects", json={"box": [10, 10, 120, 100]}).json()["id"]
        assert httpx.put(f"{base}/api/cameras/{loop}/everything", json={"on": False}).status_code == 200
        assert httpx.post(f"{base}/api/cameras/{loop}/recording", json={"name": "mine.mp4"}).status_code == 201
        line = {"name": "doorway", "line": [[0.1, 0.5], [0.9, 0.5]]}
        assert httpx.post(f"{base}/api/cameras/{loop}/zones", json=line).status_code == 201
        loop_zones = httpx.get(f"{base}/api/cameras/{loop}/zones").json()
        before = {c["id"]: c for c in httpx.get(f"{base}/api/cameras").json()}
        objects = httpx.get(f"{base}/api/cameras/{loop}/objects").json()
    finally:
        stop(process, how)
    saved = json.loads((tmp_path / "site.state.json").read_text())  # beside the config
    zones = [c["zones"] for c in saved["cameras"] if c.get("name") == "door"][0]
    assert [(z["name"], z["polygon"]) for z in zones] == [("gate", [[0, 0], [0.5, 0], [0.5, 1]])]
    assert all("source" not in c for c in saved["cameras"] if c.get("name"))  # a config camera: by name only

    process = start(args)
    try:
        after = {c["id"]: c for c in running_cameras(base, 2)}
        assert set(after) == set(before) == {door["id"], loop}
        assert after[loop]["everything"] is False and after[loop]["objects"] == 2
        assert after[loop]["recording"] is not None and after[door["id"]]["recording"] is not None
        restored = httpx.get(f"{base}/api/cameras/{loop}/objects").json()
        assert [(o["id"], o["prompt"], o["color"]) for o in restored] == \
               [(o["id"], o["prompt"], o["color"]) for o in objects]
        assert [o["id"] for o in restored] == [point, three]
        assert [{k: v for k, v in z.items() if k != "counts"} for z in
                httpx.get(f"{base}/api/cameras/{loop}/zones").json()] == \
               [{k: v for k, v in z.items() if k != "counts"} for z in loop_zones]
    finally:
        stderr = stop(process)
    assert process.returncode in (0, -signal.SIGTERM, 143), stderr[-2000:]  # uvicorn re-raises SIGTERM
    assert "Traceback" not in stderr
    again = json.loads((tmp_path / "site.state.json").read_text())
    assert again["cameras"] == saved["cameras"]  # restored whole, zones included, and saved back the same


def test_health_metrics_and_the_config_schema(tmp_path):
    clip = still_clip(tmp_path)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start(["--port", port, "--imgsz", 320, "--backend", "onnx", "--output", tmp_path, clip])
    try:
        wait_for(lambda: _status(base + "/api/health") in (200, 503), 90, "the server up")
        running_cameras(base, 1)
        assert _status(base + "/api/health") == 200
        metrics = httpx.get(base + "/api/metrics").text
        for name in ("frames_processed_total", "frames_dropped_total", "capture_fps", "inference_fps",
                     "latency_seconds_bucket", "camera_up", "objects_tracked", "reconnects_total",
                     "recording_bytes", "model_forward_seconds_count"):
            assert f'fastsam_video_{name}{{camera="0"' in metrics, name
        assert 'fastsam_video_camera_up{camera="0"} 1.0' in metrics
        frames = [float(line.split()[-1]) for line in metrics.splitlines()
                  if line.startswith('fastsam_video_frames_processed_total{camera="0"}')]
        assert frames and frames[0] > 0
        assert httpx.delete(base + "/api/cameras/0").status_code == 204
        assert _status(base + "/api/health") == 503  # no camera runs
        schema = httpx.get(base + "/api/config/schema").json()
        assert {"server", "model", "defaults", "cameras"} <= set(schema["properties"])
    finally:
        stop(process)


def _status(url):
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.HTTPError:
        return None


def test_set_up_errors_answer_at_once_with_one_line_and_status_2(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    broken = tmp_path / "site.yaml"
    broken.write_text("cameras:\n  door:\n    source: /data/door.mp4\n    realtime: maybe\n")
    bad_state = tmp_path / "bad.state.json"
    bad_state.write_text('{"cameras": [{"id": "x"}]}')
    cases = {
        "port 80000": (["--port", 80000], "expected a port from 1 to 65535"),
        "port in use": (["--port", busy.getsockname()[1]], "is in use"),
        "foreign host": (["--host", "192.0.2.1", "--port", free_port()], "not an address of this machine"),
        "broken config": (["--config", broken], "site.yaml:4: cameras.door.realtime"),
        "broken state": (["--state", bad_state, "--port", 0], "bad.state.json is not valid"),
    }
    try:
        for name, (args, expected) in cases.items():
            started = time.monotonic()
            process = start(args)
            out, err = process.communicate(timeout=30)
            elapsed = time.monotonic() - started
            assert process.returncode == 2, (name, err)
            assert expected in err and len(err.strip().splitlines()) == 1, (name, err)
            assert "open http" not in out, name
            assert elapsed < 10, (name, elapsed)  # the model was not loaded (docs/benchmarks.md: < 1 s)
    finally:
        busy.close()


def test_a_saved_camera_that_cannot_start_now_stays_in_the_state(tmp_path):
    clip = still_clip(tmp_path)
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"version": 1, "cameras": [
        {"id": 2, "source": str(clip), "everything": True},
        {"id": 5, "source": str(tmp_path / "unplugged-disk" / "door.mp4"), "objects": [{"id": 3, "box": [1, 2, 30, 40]}]},
    ]}))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start(["--state", state, "--port", port, "--imgsz", 320, "--backend", "onnx", "--output", tmp_path])
    try:
        assert [c["id"] for c in running_cameras(base, 1)] == [2]
        assert httpx.put(f"{base}/api/cameras/2/everything", json={"on": False}).status_code == 200  # a save
        kept = json.loads(state.read_text())["cameras"]
        assert [c["id"] for c in kept] == [2, 5] and kept[1]["objects"] == [{"id": 3, "box": [1.0, 2.0, 30.0, 40.0]}]
        assert kept[0]["everything"] is False
    finally:
        stderr = stop(process)
    assert "camera None (" not in stderr and "not started" in stderr
