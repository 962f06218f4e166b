"""The event store: paging and filters, ids across restarts, segments, and survival of SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from fastsam_video.events import Event, EventKind
from fastsam_video.history import EventStore, StoreError


def fill(store: EventStore, n: int, t0: float = 1_700_000_000.0) -> list[int]:
    kinds = [EventKind.OBJECT_ADDED, EventKind.OBJECT_LOST, EventKind.OBJECT_REACQUIRED, EventKind.CAMERA_CONNECTED]
    ids = [store.add(Event(kinds[i % 4], camera=i % 3, object_id=i % 7 if i % 4 != 3 else None, pts=i * 0.1,
                           wall_time=t0 + i)) for i in range(n)]
    assert store.flush()
    return ids


def test_history_pages_newest_first_and_filters(tmp_path):
    with EventStore(tmp_path / "e.db") as store:
        ids = fill(store, 300)
        page = store.history(limit=50)
        assert [e["id"] for e in page] == ids[::-1][:50]
        seen, before = [], None
        while True:  # every event exactly once, page by page
            page = store.history(limit=64, before_id=before)
            if not page:
                break
            seen += [e["id"] for e in page]
            before = page[-1]["id"]
        assert seen == ids[::-1]
        cam1 = store.history(camera=1, kind="object_lost", limit=500)
        assert cam1 and all(e["camera"] == 1 and e["kind"] == "object_lost" for e in cam1)
        assert len(cam1) == sum(1 for i in range(300) if i % 3 == 1 and i % 4 == 1)
        t0 = 1_700_000_000.0
        window = store.history(since=t0 + 100, until=t0 + 110, limit=500)
        assert sorted(e["wall_time"] - t0 for e in window) == list(range(100, 110))
        assert store.history(kind="no_such_kind") == []
        first = store.get(ids[0])
        assert first["message"] == "object 0 added ()" and first["has_clip"] is False and first["reviewed"] is False
        assert store.set_reviewed(ids[0]) and store.get(ids[0])["reviewed"] is True
        assert [e["id"] for e in store.history(reviewed=True)] == [ids[0]]
        assert not store.set_reviewed(10**9)
        with pytest.raises(StoreError, match="limit: expected 1 to 500, got 0"):
            store.history(limit=0)


def test_any_kind_and_zone_fields_are_kept(tmp_path):
    """A kind and fields this module does not know (zones) go in and come out unchanged."""
    class Future:  # duck-typed: zone, direction and any other field of to_dict
        kind, camera, object_id, pts, wall_time, detail = "line_crossed", 2, 5, 1.5, 1_700_000_000.0, ""

        def to_dict(self):
            return {"kind": self.kind, "camera": 2, "object_id": 5, "pts": 1.5, "wall_time": self.wall_time,
                    "detail": "", "zone": "gate", "direction": "in", "frame": 45, "message": "object 5 crossed gate"}

    with EventStore(tmp_path / "e.db") as store:
        eid = store.add(Future())
        store.add(Event(EventKind.OBJECT_LOST, camera=2, object_id=5, wall_time=1_700_000_001.0))
        store.flush()
        got = store.history(zone="gate")
        assert [e["id"] for e in got] == [eid]
        assert got[0]["direction"] == "in" and got[0]["frame"] == 45 and got[0]["object_id"] == 5
        assert got[0]["kind"] == "line_crossed" and got[0]["message"] == "object 5 crossed gate"


def test_ids_go_on_after_a_restart_and_segments_give_offsets(tmp_path):
    path = tmp_path / "e.db"
    seg = tmp_path / "cam-1.mp4"
    seg.write_bytes(b"x")
    with EventStore(path) as store:
        store.add(Event(EventKind.RECORDING_SEGMENT, 0, detail=str(seg), wall_time=100.0))
        a = store.add(Event(EventKind.OBJECT_LOST, 0, object_id=1, wall_time=103.5))
        b = store.add(Event(EventKind.OBJECT_LOST, 1, object_id=1, wall_time=103.5))  # another camera: no recording
        store.flush()
        assert store.get(a)["segment"] == "cam-1.mp4" and store.get(a)["segment_offset"] == pytest.approx(3.5)
        assert store.get(b)["has_clip"] is False
    with EventStore(path) as store:  # a restart: nothing records until its recorder starts a new file
        c = store.add(Event(EventKind.OBJECT_ADDED, 0, object_id=2, wall_time=110.0))
        store.flush()
        assert c == b + 1 and store.get(c)["has_clip"] is False
        assert store.get(a)["segment"] == "cam-1.mp4"  # the earlier events keep theirs
        seg.unlink()  # retention deleted the file: the events stay, without a clip
        assert store.prune_missing() == 1
        store.flush()
        assert store.get(a)["has_clip"] is False and store.get(a)["kind"] == "object_lost"


def test_events_of_a_segments_first_frames_move_into_it(tmp_path):
    """The recorder's thread reports a new file a little after the results thread's events of
    its first frame: those events are moved from the old file to the new one."""
    with EventStore(tmp_path / "e.db") as store:
        store.add(Event(EventKind.RECORDING_SEGMENT, 0, detail="/r/a.mp4", wall_time=100.0))
        early = store.add(Event(EventKind.OBJECT_LOST, 0, object_id=1, wall_time=700.05))
        store.add(Event(EventKind.RECORDING_SEGMENT, 0, detail="/r/b.mp4", wall_time=700.0))
        store.flush()
        got = store.get(early)
        assert got["segment"] == "b.mp4" and got["segment_offset"] == pytest.approx(0.05)


def test_add_never_waits_on_a_full_queue(tmp_path):
    store = EventStore(tmp_path / "e.db", maxsize=10)
    try:
        start = time.perf_counter()
        for i in range(5000):
            store.add(Event(EventKind.OBJECT_LOST, 0, object_id=i))
        assert time.perf_counter() - start < 2.0
        store.flush()
        assert store.written + store.dropped == 5000
    finally:
        store.close()


WRITER = textwrap.dedent("""
    import sys, time
    from fastsam_video.events import Event, EventKind
    from fastsam_video.history import EventStore
    store = EventStore(sys.argv[1])
    for i in range(1000):
        store.add(Event(EventKind.OBJECT_LOST, 0, object_id=i, wall_time=1000.0 + i))
    store.flush()
    print("committed", flush=True)
    i = 1000
    while True:  # still writing when the kill comes
        store.add(Event(EventKind.OBJECT_LOST, 0, object_id=i, wall_time=1000.0 + i))
        i += 1
        time.sleep(0.001)
""")


def test_committed_events_survive_sigkill(tmp_path):
    path = tmp_path / "e.db"
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "committed"
        time.sleep(0.5)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    with EventStore(path) as store:
        events = store.history(limit=500, until=1000.0 + 1000)
        assert len(events) == 500 and events[0]["object_id"] == 999
        older = store.history(limit=500, before_id=events[-1]["id"])
        assert [e["object_id"] for e in older] == list(range(499, -1, -1))
        new = store.add(Event(EventKind.OBJECT_ADDED, 0))
        assert new > 1000


def test_a_store_that_cannot_be_opened_says_why_in_one_line(tmp_path):
    bad = tmp_path / "events.db"
    bad.write_bytes(b"not a database " * 100)
    with pytest.raises(StoreError, match="cannot be read: file is not a database .move it away"):
        EventStore(bad)
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(StoreError, match="check the folder is writable"):  # its folder is a file
        EventStore(tmp_path / "a-file" / "events.db")
