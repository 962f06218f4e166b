"""Two camera faults on the real RTSP server (tests/rtsp_server.py), timed:

1. closing N frozen cameras (SIGSTOP: connections stay open, nothing comes): `close_all`
   (all asked to stop, then all waited for) against closing them one after the other, as the
   pipeline did; once with no backoff (each camera always inside a read or an open: the worst
   case) and once with the default backoff (1, 2, 5, ... s);
2. a fault in a camera's read path (a packet that fails to decode, a frame that fails to
   convert to BGR, injected into PyAV by tests/media.py's FaultyPyAV): seconds from the fault
   to the next frame.

    nice .venv/bin/python benchmarks/camera_faults.py
    nice .venv/bin/python benchmarks/camera_faults.py --cameras 1 4 8 --trials 5
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import av  # noqa: E402

from fastsam_video.sources import DEFAULT_BACKOFF, CaptureThread, close_all, open_source  # noqa: E402
from tests.media import FaultyPyAV  # noqa: E402
from tests.rtsp_server import FrameLog, RtspServer, unavailable, wait_until  # noqa: E402


def close_frozen(server: RtspServer, n: int, backoff, together: bool, open_timeout: float,
                 read_timeout: float) -> float:
    """Seconds to close n cameras of a frozen server, read_timeout + 0.5 s after it froze."""
    server.start()
    captures = [CaptureThread(open_source(server.url(), open_timeout=open_timeout, read_timeout=read_timeout,
                                          backoff=backoff)) for _ in range(n)]
    try:
        for capture in captures:
            if capture.get(timeout=10) is None:
                raise RuntimeError("a camera ended before its first frame")
        server.freeze()
        time.sleep(read_timeout + 0.5)  # every camera noticed, and is reconnecting
    finally:
        start = time.monotonic()
        if together:
            close_all(captures)
        else:
            for capture in captures:
                capture.close()
        took = time.monotonic() - start
        server.kill()
    if any(c.alive for c in captures):
        raise RuntimeError("a capture thread outlived its close")
    return took


def recover(server: RtspServer, faults: FaultyPyAV, open_timeout: float, read_timeout: float) -> float:
    """Seconds from the injected fault to the next frame."""
    real_open = av.open
    av.open = faults.open(real_open)
    try:
        capture = CaptureThread(open_source(server.url(), open_timeout=open_timeout, read_timeout=read_timeout))
        consumer = FrameLog(capture)
        try:
            if not wait_until(lambda: faults.failed_at is not None, 10):
                raise RuntimeError("the fault was never reached")
            if not wait_until(lambda: consumer.count_after(faults.failed_at) > 0, 30):
                raise RuntimeError("no frame after the fault")
            first = consumer.frames[-consumer.count_after(faults.failed_at)]
            return first.received_at - faults.failed_at
        finally:
            consumer.stop()
    finally:
        av.open = real_open


def summary(values: list[float]) -> str:
    return (f"median {statistics.median(values):.2f} s, min {min(values):.2f} s, max {max(values):.2f} s "
            f"(n={len(values)})")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cameras", type=int, nargs="+", default=[1, 4, 8])
    p.add_argument("--trials", type=int, default=5, help="faults injected per kind (default 5)")
    p.add_argument("--open-timeout", type=float, default=3.0)
    p.add_argument("--read-timeout", type=float, default=2.0)
    args = p.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the sources' reconnect warnings are expected here
    reason = unavailable()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    server = RtspServer(seconds=3600)
    timeouts = dict(open_timeout=args.open_timeout, read_timeout=args.read_timeout)
    print(f"read timeout {args.read_timeout:g} s, open timeout {args.open_timeout:g} s", flush=True)
    try:
        print("closing N frozen cameras (seconds): together (close_all) | one after the other")
        for label, backoff in (("no backoff", (0.0,)), ("default backoff", DEFAULT_BACKOFF)):
            for n in args.cameras:
                together = close_frozen(server, n, backoff, True, **timeouts)
                apart = close_frozen(server, n, backoff, False, **timeouts)
                print(f"  {label:15} {n:2} cameras: {together:5.2f} | {apart:5.2f}", flush=True)
        server.start()
        for stage, error in (("decode", av.error.BugError(-558323010, "Internal bug, should not have happened")),
                             ("convert", ValueError("Conversion to numpy array failed"))):
            times = [recover(server, FaultyPyAV(stage, after=25, error=error), **timeouts)
                     for _ in range(args.trials)]
            print(f"frames again after a {stage} fault: {summary(times)}", flush=True)
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
