"""The real window on a real X server (Xvfb, QT_QPA_PLATFORM=xcb), not only offscreen; and, where
Qt's X11 libraries are missing, one line naming the packages (status 2) instead of Qt's abort,
with `demo` falling back to output/demo.mp4."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import av
import pytest

from fastsam_video.ui.x11_libraries import missing_libraries, xcb_plugin
from tests.ui.conftest import CLIP

pytestmark = pytest.mark.qt


@pytest.fixture
def xvfb():
    binary = shutil.which("Xvfb")
    if binary is None:
        pytest.skip("Xvfb is not installed (Debian package `xvfb`; .ci/run installs it)")
    for number in range(90, 110):
        if not os.path.exists(f"/tmp/.X11-unix/X{number}") and not os.path.exists(f"/tmp/.X{number}-lock"):
            break
    server = subprocess.Popen([binary, f":{number}", "-nolisten", "tcp", "-screen", "0", "1280x800x24"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not os.path.exists(f"/tmp/.X11-unix/X{number}"):
        assert server.poll() is None and time.monotonic() < deadline, "Xvfb did not start"
        time.sleep(0.05)
    yield f":{number}"
    server.terminate()
    server.wait(5)


def x11_env(display: str, platform: str | None = "xcb") -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env["DISPLAY"] = display
    if platform:
        env["QT_QPA_PLATFORM"] = platform
    return env


def missing() -> list[str]:
    plugin = xcb_plugin()
    assert plugin is not None, "PyQt6's xcb plugin is not installed"
    return missing_libraries(plugin)


def test_the_window_opens_on_x11_or_says_which_packages_to_install(xvfb):
    process = subprocess.Popen([sys.executable, "-m", "fastsam_video", "gui", str(CLIP)], env=x11_env(xvfb),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if missing():
        _, err = process.communicate(timeout=60)
        assert process.returncode == 2, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "apt install" in lines[0] and "libxcb-cursor0" in lines[0], err
        return
    time.sleep(8)  # the window is up and playing (Qt aborts within a second when it cannot open)
    assert process.poll() is None, process.communicate()[1][-2000:]
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 143, err[-2000:]  # the Qt event loop ran and closed on the signal
    assert "Could not load the Qt platform plugin" not in err


@pytest.mark.slow
def test_demo_without_the_libraries_writes_the_video_instead(xvfb, tmp_path):
    if not missing():
        pytest.skip("Qt's X11 libraries are installed here: the demo opens the window (previous test)")
    result = subprocess.run([sys.executable, "-m", "fastsam_video", "demo", "--max-frames", "20", "--output",
                             str(tmp_path)], env=x11_env(xvfb, None), capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "apt install" in result.stderr and "Traceback" not in result.stderr
    with av.open(str(tmp_path / "demo.mp4")) as video:
        assert sum(1 for _ in video.decode(video=0)) == 20
