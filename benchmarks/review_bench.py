"""The event store at scale: history pages over 1,000,000 events, and 200 events/s written
while a frame loop runs (does storing events delay a frame?), and a clip cut from recordings.

    uv run python benchmarks/review_bench.py [--events 1000000] [--seconds 10]

1. Fills a store with N events (8 cameras, 30 days, object, camera and zone kinds; bulk insert
   for the set-up), then times history queries (median and p95 of 30 runs each, ms).
2. A 30 fps "results thread" (a 720p blur per frame, one core) adding 200 events/s through
   `EventStore.add`, alternated with the same loop adding none: per-frame time and the
   add() call itself (p99, max), how far behind the writer falls, and the commit lag.
3. A clip of +-5 s cut from 30 s segments of a 640x360 recording (what `clip.mp4` serves).
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from fastsam_video.events import Event, EventKind
from fastsam_video.history import EventStore, Review
from fastsam_video.history.store import COLUMNS

KINDS = ["object_added", "object_lost", "object_reacquired", "object_dropped", "camera_connected",
         "camera_reconnecting", "zone_entered", "zone_left", "line_crossed", "loitering"]
WEIGHTS = [20, 25, 25, 5, 2, 2, 8, 8, 4, 1]
ZONES = ["driveway", "gate", "door", "bay"]


def fill(path: Path, n: int, days: float = 30.0) -> float:
    """N synthetic events, in wall-time order, straight into the table; returns the newest time."""
    EventStore(path).close()  # the schema
    db = sqlite3.connect(str(path))
    rng = random.Random(1)
    t_end = time.time()
    t0 = t_end - days * 86400
    step = days * 86400 / n
    rows = []
    for i in range(n):
        kind = rng.choices(KINDS, WEIGHTS)[0]
        zoned = kind in ("zone_entered", "zone_left", "line_crossed", "loitering")
        rows.append((i + 1, rng.randrange(8), kind, rng.randrange(1, 50), rng.choice(ZONES) if zoned else None,
                     rng.choice(("in", "out")) if kind == "line_crossed" else None, i * 0.033, t0 + i * step, "",
                     kind, None, None, None, int(rng.random() < 0.3), None))
        if len(rows) == 50000:
            db.executemany(f"INSERT INTO events VALUES ({', '.join('?' * len(COLUMNS))})", rows)
            db.commit()
            rows = []
    db.executemany(f"INSERT INTO events VALUES ({', '.join('?' * len(COLUMNS))})", rows)
    db.commit()
    db.close()
    return t_end


def timed(call, runs: int = 30) -> tuple[float, float, int]:
    call()
    times, n = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        n = len(call())
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3), float(np.percentile(times, 95) * 1e3), n


def history_queries(path: Path, n: int, t_end: float) -> None:
    store = EventStore(path)
    deep = store.history(limit=1, before_id=n // 2)[0]["id"]
    queries = {
        "newest 50": dict(),
        "camera 3": dict(camera=3),
        "camera 3, kind line_crossed": dict(camera=3, kind="line_crossed"),
        "kind loitering (1 %)": dict(kind="loitering"),
        "zone gate": dict(zone="gate"),
        "not reviewed, camera 5": dict(reviewed=False, camera=5),
        "last 24 h, camera 2": dict(since=t_end - 86400, camera=2),
        "a day 2 weeks ago": dict(since=t_end - 15 * 86400, until=t_end - 14 * 86400),
        "page at the middle (before_id)": dict(before_id=deep),
        "camera 3, zone gate, kind loitering": dict(camera=3, zone="gate", kind="loitering"),
        "reviewed, camera 3, kind loitering": dict(reviewed=True, camera=3, kind="loitering"),
        "camera 9 (none)": dict(camera=9),
        "alerts (6 kinds), camera 1": dict(camera=1, kind=["object_added", "object_lost", "zone_entered",
                                                           "zone_left", "line_crossed", "loitering"]),
    }
    print(f"\nhistory pages of 50 over {n:,} events (median / p95 of 30, ms):")
    for name, query in queries.items():
        med, p95, got = timed(lambda q=query: store.history(limit=50, **q))
        print(f"  {name:34s} {med:7.2f} / {p95:7.2f}   ({got} events)")
    med, p95, got = timed(lambda: store.timeline(t_end - 86400, t_end), runs=10)
    print(f"  {'timeline, last 24 h (288 buckets)':34s} {med:7.2f} / {p95:7.2f}   ({got} marks)")
    store.close()


def frame_loop(store: EventStore | None, seconds: float, rate: float = 200.0, fps: float = 30.0) -> dict:
    """A results thread: every frame 5 ms of numpy work, then its share of `rate` events."""
    cv2.setNumThreads(1)  # one core's work, like one results thread
    work = np.random.default_rng(0).integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    per_frame = rate / fps
    frame_ms, add_us, owed, kept = [], [], 0.0, []
    lag = []
    next_frame = time.perf_counter()
    end = next_frame + seconds
    while next_frame < end:
        start = time.perf_counter()
        cv2.GaussianBlur(work, (7, 7), 0)  # a few ms of the frame's own work
        owed += per_frame
        while owed >= 1:  # without a store: the same events made and kept in a list (the baseline)
            owed -= 1
            t = time.perf_counter()
            event = Event(EventKind.OBJECT_LOST, camera=1, object_id=7, pts=start)
            store.add(event) if store is not None else kept.append(event)
            add_us.append((time.perf_counter() - t) * 1e6)
        if store is not None:
            lag.append(store.pending)
        frame_ms.append((time.perf_counter() - start) * 1e3)
        next_frame += 1 / fps
        time.sleep(max(0.0, next_frame - time.perf_counter()))
    out = {"frame_p50": np.median(frame_ms), "frame_p99": np.percentile(frame_ms, 99), "frame_max": max(frame_ms),
           "add_p50": np.median(add_us), "add_p99": np.percentile(add_us, 99), "add_max": max(add_us),
           "events": len(add_us)}
    if store is not None:
        t = time.perf_counter()
        store.flush(30)
        out |= {"queued_max": max(lag), "drain_ms": (time.perf_counter() - t) * 1e3, "dropped": store.dropped}
    return out


def writes(path: Path, seconds: float) -> None:
    print(f"\n200 events/s for {seconds:g} s from a 30 fps loop, store of {path.stat().st_size / 2**20:.0f} MB "
          "(alternated with the same loop storing nothing):")
    store = EventStore(path)
    try:
        for run in range(2):
            for with_store in (False, True):
                r = frame_loop(store if with_store else None, seconds / 2)
                text = (f"frame p50 {r['frame_p50']:.2f} ms, p99 {r['frame_p99']:.2f} ms, max {r['frame_max']:.2f} ms"
                        f" | per event p50 {r['add_p50']:.0f} us, p99 {r['add_p99']:.0f} us, max {r['add_max']:.0f} us"
                        f" | {r['events']} events")
                if with_store:
                    text += (f" | queue at most {r['queued_max']}, drained {r['drain_ms']:.0f} ms after the last, "
                             f"{r['dropped']} dropped")
                print(f"  run {run + 1} {'add()' if with_store else 'list '}: {text}")
    finally:
        store.close()


def clip_cut(folder: Path) -> None:
    from fastsam_video.sinks import SegmentedRecorder

    review = Review(folder / "clip-events.db")
    rec = SegmentedRecorder(folder / "seg-{index}.mp4", 30.0, fps_hint=30)
    rng = np.random.default_rng(0)
    base = cv2.resize(rng.integers(0, 255, (45, 80, 3), dtype=np.uint8), (640, 360))
    wall0 = time.time() - 200
    for i in range(30 * 70):  # 70 s at 30 fps: 30 s segments
        files = len(rec.paths)
        rec.write(np.roll(base, i * 4, axis=1), 100.0 + i / 30)
        if len(rec.paths) != files:
            review.record(Event(EventKind.RECORDING_SEGMENT, 0, detail=str(rec.path), wall_time=wall0 + i / 30))
    rec.close()
    events = [review.record(Event(EventKind.OBJECT_LOST, 0, wall_time=wall0 + t)).id for t in (15.0, 31.0, 66.0)]
    review.store.flush()
    print("\nclip.mp4 of +-5 s from 30 s segments of 640x360 at 30 fps (events at 15 s, 31 s: two segments, 66 s):")
    for eid, where in zip(events, ("inside one", "across two", "near the end")):
        times = []
        for _ in range(5):
            start = time.perf_counter()
            clip, offset = review.clip(eid)
            times.append(time.perf_counter() - start)
        print(f"  {where:12s}: {np.median(times) * 1e3:.0f} ms (median of 5), {clip.frames} frames, "
              f"{len(clip.data) / 2**20:.1f} MB, remuxed={clip.remuxed}, event at {offset:.2f} s")
    review.close()
    long_segment(folder)


def long_segment(folder: Path) -> None:
    """A default-length (600 s) segment: the clip seeks to the keyframe before it."""
    from fastsam_video.history import Segment, cut_clip
    from fastsam_video.sinks import VideoRecorder

    path = folder / "long.mp4"
    base = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    with VideoRecorder(path, fps_hint=30) as rec:
        for i in range(30 * 600):
            rec.write(np.roll(base, i, axis=1), i / 30)
    segment = [Segment(str(path), 0, 1000.0)]
    print("\nclip.mp4 of +-5 s from one 600 s segment (160x120, 30 fps, 18,000 packets), median of 5:")
    for at in (10.0, 300.0, 590.0):
        times = []
        for _ in range(5):
            start = time.perf_counter()
            clip = cut_clip(segment, 1000.0 + at - 5, 1000.0 + at + 5)
            times.append(time.perf_counter() - start)
        print(f"  event at {at:5.0f} s: {np.median(times) * 1e3:.0f} ms, {clip.frames} frames, remuxed={clip.remuxed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.db"
        start = time.perf_counter()
        t_end = fill(path, args.events)
        print(f"filled {args.events:,} events in {time.perf_counter() - start:.1f} s "
              f"({path.stat().st_size / 2**20:.0f} MB)")
        history_queries(path, args.events, t_end)
        writes(path, args.seconds)
        clip_cut(Path(tmp))


if __name__ == "__main__":
    main()
