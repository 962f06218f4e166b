"""Soak test: a camera that keeps failing, watched by a ReconnectingSource for minutes.

A GStreamer RTSP server on 127.0.0.1 (tests/rtsp_server.py; needs the Debian packages
listed there) is killed and restarted (SIGKILL) or frozen and thawed (SIGSTOP / SIGCONT)
on a fixed schedule, while a CaptureThread reads it and a consumer takes every frame it
offers. At the end it prints how fast faults were noticed and rejoined, frames received
against frames sent, and the process's memory, threads and open files at the start and
the end (all three should stay flat).

    nice .venv/bin/python benchmarks/rtsp_soak.py            # 3 minutes
    nice .venv/bin/python benchmarks/rtsp_soak.py --minutes 10 --fault-every 20
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastsam_video.sources import CaptureThread, open_source  # noqa: E402
from tests.rtsp_server import FrameLog, RtspServer, unavailable, wait_until  # noqa: E402

# (kind, seconds the camera stays away)
FAULTS = [("kill", 1.0), ("freeze", 3.0), ("kill", 6.0), ("freeze", 1.0), ("kill", 0.2), ("freeze", 8.0)]


def process_stats() -> tuple[float, int, int]:
    """(RSS in MiB, threads, open file descriptors) of this process."""
    rss = threads = 0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss, threads, len(os.listdir("/proc/self/fd"))


def summary(values: list[float]) -> str:
    if not values:
        return "none"
    return (f"min {min(values):.2f} s, median {statistics.median(values):.2f} s, max {max(values):.2f} s "
            f"(n={len(values)})")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=3.0)
    p.add_argument("--fault-every", type=float, default=15.0, metavar="SECONDS",
                   help="seconds from one fault to the next (default 15)")
    p.add_argument("--fps", type=int, default=25)
    p.add_argument("--open-timeout", type=float, default=3.0)
    p.add_argument("--read-timeout", type=float, default=2.0)
    p.add_argument("--transport", choices=("tcp", "udp"), default="tcp")
    p.add_argument("-v", "--verbose", action="store_true", help="show the source's log")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR,
                        format="%(asctime)s %(levelname)s %(message)s")
    reason = unavailable()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2

    duration = args.minutes * 60
    server = RtspServer(fps=args.fps, seconds=duration + 120)
    server.start()
    up_since: float | None = time.monotonic()
    up_time = 0.0
    source = open_source(server.url(), rtsp_transport=args.transport, open_timeout=args.open_timeout,
                         read_timeout=args.read_timeout)
    capture = CaptureThread(source)
    consumer = FrameLog(capture)
    started = time.monotonic()
    if wait_until(lambda: consumer.frames, 10) is None:
        print("no frame within 10 s of the start", file=sys.stderr)
        return 1
    time.sleep(2)  # past the imports' and the first connection's allocations
    rss0, threads0, fds0 = process_stats()
    samples = [rss0]
    noticed: dict[str, list[float]] = {"kill": [], "freeze": []}
    rejoined: dict[str, list[float]] = {"kill": [], "freeze": []}
    missed = 0
    deadline = started + duration
    print(f"soak: {args.minutes:g} min, a fault every {args.fault_every:g} s, {args.fps} fps, "
          f"{args.transport}, read timeout {args.read_timeout:g} s, open timeout {args.open_timeout:g} s", flush=True)
    n = 0
    try:
        while time.monotonic() + args.fault_every < deadline:
            next_fault = time.monotonic() + args.fault_every
            kind, away = FAULTS[n % len(FAULTS)]
            n += 1
            fault_at = time.monotonic()
            server.kill() if kind == "kill" else server.freeze()
            up_time += fault_at - up_since
            up_since = None
            t_notice = wait_until(lambda: source.connection.state != "connected", args.read_timeout + 5)
            time.sleep(max(0.0, fault_at + away - time.monotonic()))
            server.start() if kind == "kill" else server.thaw()
            back_at = up_since = time.monotonic()
            t_back = wait_until(lambda: consumer.count_after(back_at) > 0, 60)
            if t_notice is not None:
                noticed[kind].append(t_notice)
            if t_back is None:
                missed += 1
            else:
                rejoined[kind].append(t_back)
            state = source.connection
            rss = process_stats()[0]
            samples.append(rss)
            print(f"{time.monotonic() - started:6.1f} s  {kind:6} {away:4.1f} s: noticed in "
                  f"{'-' if t_notice is None else f'{t_notice:.2f} s'}, frames again "
                  f"{'never' if t_back is None else f'{t_back:.2f} s'} after it came back | "
                  f"{state.describe()} | {len(consumer.frames)} frames | RSS {rss:.1f} MiB", flush=True)
            time.sleep(max(0.0, next_fault - time.monotonic()))
        time.sleep(max(0.0, deadline - time.monotonic()))
    finally:
        end = time.monotonic()
        if up_since is not None:
            up_time += end - up_since
        rss1, threads1, fds1 = process_stats()
        received = len(consumer.frames)
        consumer.stop()
        server.close()
    elapsed = end - started
    expected = args.fps * up_time
    print()
    print(f"ran {elapsed:.0f} s, {n} faults ({len(noticed['kill'])} kills, {len(noticed['freeze'])} freezes "
          f"noticed), server up {up_time:.0f} s")
    for kind in ("kill", "freeze"):
        print(f"{kind:6}: noticed {summary(noticed[kind])}")
        print(f"{'':6}  frames again after the camera came back: {summary(rejoined[kind])}")
    print(f"never rejoined: {missed}")
    print(f"frames received {received}; sent by the server {server.sent} (its own count); "
          f"fps x up time {expected:.0f}; received / (fps x up time) {received / max(expected, 1):.1%}")
    ages = [f.age for f in consumer.frames]
    out_of_order = sum(b.index <= a.index for a, b in zip(consumer.frames, consumer.frames[1:]))
    print(f"frame age at the consumer: median {statistics.median(ages) * 1e3:.0f} ms, "
          f"max {max(ages) * 1e3:.0f} ms; out of order {out_of_order}; "
          f"capture dropped {capture.dropped} (consumer slower for a moment)")
    print(f"reconnects {source.connection.reconnects}")
    print(f"RSS {rss0:.1f} MiB at the start, {rss1:.1f} MiB at the end (min {min(samples):.1f}, "
          f"max {max(samples):.1f}); threads {threads0} -> {threads1}; open files {fds0} -> {fds1}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
