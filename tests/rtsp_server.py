"""A real RTSP server on 127.0.0.1 for tests and the soak benchmark (GStreamer's RTSP server).

Two halves in one file:

* run as a script by Debian's `/usr/bin/python3` (where `gi` lives, not the project's venv):
  serves `rtsp://127.0.0.1:PORT/x`, a live `videotestsrc` encoded by x264 (zerolatency,
  a keyframe every second), optionally behind basic auth, and `rtsp://127.0.0.1:PORT/switch`,
  the same camera changing its frame size (WIDTHxHEIGHT <-> --switch-size, every
  --switch-every seconds, in-band: no reconnect); prints `READY <port>` once it
  listens and `SENT <n>` (frames handed to the payloader so far) twice a second; quits
  after `--seconds` or when its stdin closes (the parent died).
* imported by the tests and the soak benchmark: `RtspServer` starts, kills (SIGKILL), freezes
  (SIGSTOP), thaws (SIGCONT) and restarts that process; `unavailable()` says why it cannot run
  (the tests then skip with that reason); `FrameLog` consumes a CaptureThread and notes what
  arrived when; `wait_until` polls a condition.

Packages (Debian 12; CI installs them, ~22 s):

    apt-get update
    apt-get install -y --no-install-recommends python3-gi gir1.2-gst-rtsp-server-1.0 \
        gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly \
        gstreamer1.0-plugins-bad gstreamer1.0-rtsp
"""

from __future__ import annotations

import argparse
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"
SCRIPT = Path(__file__).resolve()

PIPELINE = ("( videotestsrc is-live=true pattern=ball ! capsfilter name=size caps=video/x-raw,format=I420,"
            "width={width},height={height},framerate={fps}/1 ! identity name=count ! x264enc tune=zerolatency "
            "speed-preset=ultrafast key-int-max={fps} threads=1 ! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 "
            "config-interval=-1 )")


def serve(argv: list[str] | None = None) -> None:
    """The server itself (run by /usr/bin/python3)."""
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--fps", type=int, default=25)
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--height", type=int, default=240)
    p.add_argument("--seconds", type=float, default=120.0, help="quit after this long (a safety net)")
    p.add_argument("--switch-every", type=float, default=1.0,
                   help="the /switch mount changes its frame size (WIDTHxHEIGHT <-> SWITCH_SIZE) this often")
    p.add_argument("--switch-size", default="480x360")
    p.add_argument("--user")
    p.add_argument("--password")
    args = p.parse_args(argv)

    Gst.init(None)
    sent = [0]

    def on_buffer(pad, info):
        sent[0] += 1
        return Gst.PadProbeReturn.OK

    def on_media(factory, media):
        count = media.get_element().get_by_name("count")
        count.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, on_buffer)

    sizes = [(args.width, args.height), tuple(int(v) for v in args.switch_size.split("x"))]

    def on_switching_media(factory, media):
        """A camera reconfigured mid-stream: the caps (and x264's SPS) change every --switch-every s."""
        on_media(factory, media)
        size, turn = media.get_element().get_by_name("size"), [0]

        def switch() -> bool:
            if media.get_status() == GstRtspServer.RTSPMediaStatus.UNPREPARED:
                return False  # the client left
            turn[0] += 1
            width, height = sizes[turn[0] % 2]
            size.set_property("caps", Gst.Caps.from_string(
                f"video/x-raw,format=I420,width={width},height={height},framerate={args.fps}/1"))
            return True

        GLib.timeout_add(int(args.switch_every * 1000), switch)

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE.format(width=args.width, height=args.height, fps=args.fps))
    factory.connect("media-configure", on_media)
    if args.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password or ""), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_role("user")
        permissions.add_permission_for_role("user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
        permissions.add_permission_for_role("user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True)
        factory.add_role_from_structure(permissions.get_role("user"))
        factory.set_permissions(permissions)
    server.get_mount_points().add_factory("/x", factory)
    switching = GstRtspServer.RTSPMediaFactory()
    switching.set_launch(PIPELINE.format(width=args.width, height=args.height, fps=args.fps))
    switching.connect("media-configure", on_switching_media)
    server.get_mount_points().add_factory("/switch", switching)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
        sys.exit(2)

    loop = GLib.MainLoop()

    def report() -> bool:
        print(f"SENT {sent[0]}", flush=True)
        return True

    def on_stdin(*_):  # EOF: the parent is gone
        loop.quit()
        return False

    GLib.timeout_add(500, report)
    GLib.timeout_add(int(args.seconds * 1000), loop.quit)
    GLib.io_add_watch(GLib.IOChannel.unix_new(sys.stdin.fileno()), GLib.PRIORITY_DEFAULT,
                      GLib.IOCondition.IN | GLib.IOCondition.HUP, on_stdin)
    print(f"READY {args.port}", flush=True)
    loop.run()


# --- the tests' side -----------------------------------------------------------------------

_unavailable: str | None | bool = False  # False: not checked yet


def unavailable() -> str | None:
    """None when the server can run here, else why not (a skip reason)."""
    global _unavailable
    if _unavailable is False:
        if not os.path.exists(SYSTEM_PYTHON):
            _unavailable = f"{SYSTEM_PYTHON} is absent (the GStreamer RTSP server runs on Debian's python3)"
        else:
            probe = ("import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0'); "
                     "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
                     "assert all(Gst.ElementFactory.find(e) for e in "
                     "('videotestsrc', 'x264enc', 'rtph264pay', 'identity')), 'a GStreamer plugin is missing'")
            run = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, text=True, timeout=30)
            _unavailable = None if run.returncode == 0 else (
                "GStreamer's RTSP server is not installed (apt-get install -y --no-install-recommends python3-gi "
                "gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good "
                "gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad gstreamer1.0-rtsp): "
                + (run.stderr.strip().splitlines() or ["?"])[-1])
    return _unavailable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RtspServer:
    """One server process on a fixed port; `start()` again after `kill()` reuses the port."""

    def __init__(self, port: int | None = None, *, fps: int = 25, width: int = 320, height: int = 240,
                 user: str | None = None, password: str | None = None, seconds: float = 300.0,
                 switch_every: float = 1.0, switch_size: tuple[int, int] = (480, 360)) -> None:
        self.port = port or free_port()
        self.fps, self.width, self.height = fps, width, height
        self.switch_every, self.switch_size = switch_every, switch_size  # the /switch mount (url(path="switch"))
        self.user, self.password = user, password
        self.seconds = seconds
        self.process: subprocess.Popen | None = None
        self.sent_total = 0  # frames sent by earlier (killed) processes, as last reported
        self._sent = 0
        self._reader: threading.Thread | None = None

    def url(self, user: str | None = None, password: str | None = None, path: str = "x") -> str:
        user = self.user if user is None else user
        password = self.password if password is None else password
        auth = f"{user}:{password}@" if user else ""
        return f"rtsp://{auth}127.0.0.1:{self.port}/{path}"

    @property
    def sent(self) -> int:
        """Frames sent so far by all processes (up to the last report, twice a second)."""
        return self.sent_total + self._sent

    def start(self, timeout: float = 10.0) -> RtspServer:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.sent_total += self._sent
        self._sent = 0
        cmd = [SYSTEM_PYTHON, str(SCRIPT), "--port", str(self.port), "--fps", str(self.fps),
               "--width", str(self.width), "--height", str(self.height), "--seconds", str(self.seconds),
               "--switch-every", str(self.switch_every), "--switch-size", "{}x{}".format(*self.switch_size)]
        if self.user:
            cmd += ["--user", self.user, "--password", self.password or ""]
        deadline = time.monotonic() + timeout
        while True:
            process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True, env={**os.environ, "GST_DEBUG": "0"})
            line = process.stdout.readline()
            if line.startswith("READY"):
                break
            process.kill()
            err = process.communicate()[1]
            if time.monotonic() > deadline:
                raise RuntimeError(f"the RTSP server did not start: {err.strip()[-300:]}")
            time.sleep(0.2)  # the port may still be held by the previous process
        self.process = process
        self._reader = threading.Thread(target=self._read_reports, args=(process,), daemon=True,
                                        name=f"rtsp server {self.port}")
        self._reader.start()
        return self

    def _read_reports(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            if line.startswith("SENT ") and process is self.process:
                self._sent = int(line.split()[1])

    def kill(self) -> None:
        """SIGKILL: the camera is gone (connections reset at once)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a frozen one must die too
            self.process.kill()
            self.process.wait(5)
        self._close_pipes()

    def freeze(self) -> None:
        """SIGSTOP: a frozen camera or a cut network (connections stay open, nothing comes)."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def _close_pipes(self) -> None:
        if self.process is not None:
            for pipe in (self.process.stdin, self.process.stderr):
                try:
                    pipe.close()
                except OSError:
                    pass
            if self._reader is not None:
                self._reader.join(2)
            self.process.stdout.close()

    def close(self) -> None:
        self.kill()

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    serve()


# --- the consuming side, shared by the tests and the soak benchmark ---------------------

def wait_until(condition, timeout: float, step: float = 0.01) -> float | None:
    """Seconds until `condition()` held, or None if it did not within `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(step)
    return None


@dataclass(frozen=True)
class Received:
    """What is kept of a frame: no image, so a long soak holds no frames."""

    index: int
    t_capture: float
    pts: float | None
    received_at: float

    @property
    def age(self) -> float:
        return self.received_at - self.t_capture


class FrameLog:
    """Takes every frame a CaptureThread offers, on its own thread, optionally writes it to
    recorders (what a pipeline does, minus the model), and notes when each arrived."""

    def __init__(self, capture, recorders=()) -> None:
        self.capture = capture
        self.recorders = recorders
        self.frames: list[Received] = []
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="consumer")
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                try:
                    frame = self.capture.get(timeout=0.1)
                except queue.Empty:
                    continue
                if frame is None:
                    return
                for recorder in self.recorders:
                    recorder.write(frame.image, frame.t_capture)
                self.frames.append(Received(frame.index, frame.t_capture, frame.pts, time.monotonic()))
        except BaseException as err:  # re-raised by stop()
            self.error = err

    def count_after(self, t: float) -> int:
        """Frames that arrived after monotonic time `t` (newest first: they are what is asked for)."""
        count = 0
        for frame in reversed(self.frames):
            if frame.received_at <= t:
                break
            count += 1
        return count

    def stop(self, timeout: float = 10.0) -> None:
        self.capture.close()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError(f"the consumer did not stop within {timeout:g} s")
        if self.error is not None:
            raise self.error
