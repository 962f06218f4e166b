"""The event store: every event in SQLite (stdlib `sqlite3`, WAL), written by one thread.

`add(event)` is called on the pipeline's threads and never waits: it numbers the event (ids
keep increasing across restarts) and hands the row to a bounded queue; the writer thread
commits what is queued in one transaction (so 200 events/s cost a few commits a second), and a
slow disk fills the queue, never a camera (a full queue drops the event, counted). A committed
event survives SIGKILL (WAL, synchronous=NORMAL: only an OS crash can lose the last commit).

Each event points into the recordings: `segment` (the file) and `segment_offset` (seconds into
it), from the `recording_segment` events the recorder's thread sends when a file begins (wall
time of its first frame). An event whose file was deleted (retention) is kept, with no segment:
`has_clip` false. Readers (the HTTP API) use their own connection per thread.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import FastSAMVideoError
from ..events import Event, EventKind
from ..workers import Worker

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    camera INTEGER NOT NULL,
    kind TEXT NOT NULL,
    object_id INTEGER,
    zone TEXT,
    direction TEXT,
    pts REAL,
    wall_time REAL NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    track TEXT,                -- run/camera/object: the object's best-frame thumbnail
    segment TEXT,              -- the recording file that holds it; NULL: no clip
    segment_offset REAL,       -- seconds into that file
    reviewed INTEGER NOT NULL DEFAULT 0,
    extra TEXT                 -- fields of the event the columns do not hold (JSON)
);
CREATE INDEX IF NOT EXISTS events_camera ON events (camera, id);
CREATE INDEX IF NOT EXISTS events_kind ON events (kind, id);
CREATE INDEX IF NOT EXISTS events_camera_kind ON events (camera, kind, id);
CREATE INDEX IF NOT EXISTS events_zone ON events (zone, id) WHERE zone IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_reviewed ON events (reviewed, id);
CREATE INDEX IF NOT EXISTS events_wall ON events (wall_time, camera, kind);  -- covers the timeline
CREATE INDEX IF NOT EXISTS events_segment ON events (segment) WHERE segment IS NOT NULL;
CREATE TABLE IF NOT EXISTS segments (
    path TEXT PRIMARY KEY,
    camera INTEGER NOT NULL,
    start_wall REAL NOT NULL   -- wall time of its first frame
);
CREATE INDEX IF NOT EXISTS segments_camera ON segments (camera, start_wall);
"""
COLUMNS = ("id", "camera", "kind", "object_id", "zone", "direction", "pts", "wall_time", "detail", "message",
           "track", "segment", "segment_offset", "reviewed", "extra")
KNOWN = {"kind", "camera", "object_id", "zone", "direction", "pts", "wall_time", "detail", "message", "id"}
REORDER_S = 60.0  # events reach the store at most this long after their wall time (history's time bounds)
MAX_LIMIT = 500
BATCH_WAIT_S = 0.05  # an event is committed at most this long (plus the commit) after add()
PRUNE_EVERY_S = 60.0  # how often the writer looks for recording files that are gone


class StoreError(FastSAMVideoError, ValueError):
    """A history query that cannot run (a bad filter): its message is the one-line reason."""


@dataclass(frozen=True)
class Segment:
    path: str
    camera: int
    start_wall: float


def connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), timeout=10.0, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")  # in WAL: a kill -9 loses nothing committed
    db.row_factory = sqlite3.Row
    return db


def row_dict(row: sqlite3.Row) -> dict:
    out = {k: row[k] for k in COLUMNS if k not in ("extra", "reviewed")}
    out["reviewed"] = bool(row["reviewed"])
    out["has_clip"] = row["segment"] is not None
    out["segment"] = Path(row["segment"]).name if row["segment"] else None  # no server paths out
    if row["extra"]:
        out.update({k: v for k, v in json.loads(row["extra"]).items() if k not in out})
    return out


class EventStore:
    """Events in SQLite at `path` (created with its folder); `close()` commits what is queued."""

    def __init__(self, path: str | Path, *, maxsize: int = 10000, batch: int = 1000, run: str | None = None):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = connect(self.path)
            db.executescript(SCHEMA)
        except sqlite3.DatabaseError as err:  # not a database, or a damaged one
            raise StoreError(f"the event store {self.path} cannot be read: {err} (move it away to start a new "
                             "one, or choose another with --events-db)") from err
        except (OSError, sqlite3.Error) as err:
            raise StoreError(f"cannot open the event store {self.path}: {err} (check the folder is writable, "
                             "or choose another with --events-db)") from err
        self.run = run or time.strftime("%Y%m%d-%H%M%S")  # names this run's object tracks
        self._writer_db = db
        self._next_id = (db.execute("SELECT max(id) FROM events").fetchone()[0] or 0) + 1
        self._open: dict[int, Segment] = {}  # camera -> the file it records to (a new run starts new files)
        self._id_lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue(maxsize)
        self._batch = batch
        self._local = threading.local()
        self._stop = threading.Event()
        self.written = 0
        self.dropped = 0
        self._worker = Worker(self._run, name="event store").start()

    # -------------------------------------------------------------- writing (any thread, never waits)
    def add(self, event: Event, track: str | None = None) -> int:
        """Queues `event`; returns its id (also when the queue was full and it was dropped). `track`
        names the object's thumbnail (default: run, camera and object id)."""
        with self._id_lock:
            eid = self._next_id
            self._next_id += 1
        fields = event.to_dict()
        extra = {k: v for k, v in fields.items() if k not in KNOWN and v is not None}
        if track is None and event.object_id is not None:
            track = f"{self.run}-{event.camera}-{event.object_id}"
        row = (eid, event.camera, str(event.kind), event.object_id, fields.get("zone"), fields.get("direction"),
               event.pts, event.wall_time, event.detail or "", fields.get("message") or "", track,
               json.dumps(extra) if extra else None)
        self._offer(("event", row, event))
        return eid

    def forget_segment(self, path: str | Path) -> None:
        """A recording file was deleted (retention): its events keep their rows, without a clip."""
        self._offer(("forget", str(path)))

    def _offer(self, item: tuple) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                log.warning("event store %s: the disk cannot keep up, %d events dropped", self.path, self.dropped)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def flush(self, timeout: float = 10.0) -> bool:
        """Waits until everything queued so far is committed; False on timeout."""
        done, deadline = threading.Event(), time.monotonic() + timeout
        try:
            self._queue.put(("flush", done), timeout=timeout)
        except queue.Full:
            return False
        return done.wait(max(0.0, deadline - time.monotonic()))

    def _run(self) -> None:
        db = self._writer_db
        next_prune = time.monotonic() + PRUNE_EVERY_S
        while True:
            if time.monotonic() >= next_prune:  # files deleted by retention or by hand: no clip any more
                next_prune = time.monotonic() + PRUNE_EVERY_S
                self.prune_missing()
            try:
                items = [self._queue.get(timeout=0.2)]
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            self._stop.wait(BATCH_WAIT_S)  # gather a batch: a few commits a second, not one per event
            while len(items) < self._batch:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            flushed = []
            try:
                db.execute("BEGIN")
                for item in items:
                    if item[0] == "flush":
                        flushed.append(item[1])
                    else:
                        self._apply(db, item)
                db.execute("COMMIT")
                self.written += sum(item[0] == "event" for item in items)
            except sqlite3.Error as err:  # a full or broken disk: these are lost, the cameras go on
                self.dropped += sum(item[0] == "event" for item in items)
                log.error("event store %s: %d events not written: %s", self.path, len(items), err)
                if db.in_transaction:
                    db.execute("ROLLBACK")
            for done in flushed:
                done.set()

    def _apply(self, db: sqlite3.Connection, item: tuple) -> None:
        if item[0] == "forget":
            db.execute("UPDATE events SET segment = NULL, segment_offset = NULL WHERE segment = ?", (item[1],))
            db.execute("DELETE FROM segments WHERE path = ?", (item[1],))
            self._open = {c: s for c, s in self._open.items() if s.path != item[1]}
            return
        _, row, event = item
        segment = self._open.get(event.camera)
        if event.kind is EventKind.RECORDING_SEGMENT:
            new = Segment(event.detail, event.camera, event.wall_time)
            db.execute("INSERT OR REPLACE INTO segments VALUES (?, ?, ?)", (new.path, new.camera, new.start_wall))
            # events of its first frames, queued before the recorder's thread said so, move into it
            db.execute("UPDATE events SET segment = ?, segment_offset = wall_time - ? WHERE camera = ? AND "
                       "wall_time >= ? AND (segment IS NULL OR segment = ?)",
                       (new.path, new.start_wall, new.camera, new.start_wall, segment.path if segment else ""))
            self._open[event.camera] = segment = new
        elif event.kind is EventKind.RECORDING_STOPPED:
            self._open.pop(event.camera, None)
        if segment is not None and event.wall_time < segment.start_wall:  # late: an earlier file of the camera
            found = db.execute("SELECT * FROM segments WHERE camera = ? AND start_wall <= ? ORDER BY start_wall DESC "
                               "LIMIT 1", (event.camera, event.wall_time)).fetchone()
            segment = Segment(found["path"], found["camera"], found["start_wall"]) if found else None
        place = (segment.path, event.wall_time - segment.start_wall) if segment is not None else (None, None)
        db.execute(f"INSERT OR REPLACE INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                   (*row[:11], *place, 0, row[11]))

    # -------------------------------------------------------------- reading (any thread)
    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = connect(self.path)
        return db

    def get(self, eid: int) -> dict | None:
        row = self._db().execute("SELECT * FROM events WHERE id = ?", (eid,)).fetchone()
        return row_dict(row) if row else None

    def segment_of(self, eid: int) -> tuple[int, str | None, float | None, float] | None:
        """(camera, segment path, offset, wall time) of an event; None if there is no such event."""
        row = self._db().execute("SELECT camera, segment, segment_offset, wall_time FROM events WHERE id = ?",
                                 (eid,)).fetchone()
        return tuple(row) if row else None

    def segments(self, camera: int, start_wall: float, end_wall: float) -> list[Segment]:
        """The camera's files that may hold [start_wall, end_wall]: the last one begun by the start, and
        every one begun before the end, oldest first."""
        db = self._db()
        first = db.execute("SELECT max(start_wall) FROM segments WHERE camera = ? AND start_wall <= ?",
                           (camera, start_wall)).fetchone()[0]
        rows = db.execute("SELECT * FROM segments WHERE camera = ? AND start_wall >= ? AND start_wall < ? "
                          "ORDER BY start_wall", (camera, start_wall if first is None else first, end_wall))
        return [Segment(r["path"], r["camera"], r["start_wall"]) for r in rows]

    def history(self, *, camera: int | None = None, kind: str | list[str] | None = None, zone: str | None = None,
                since: float | None = None, until: float | None = None, reviewed: bool | None = None,
                limit: int = 50, before_id: int | None = None) -> list[dict]:
        """Events newest first (by id), at most `limit`, each with id < `before_id` when given (the
        next page: the last id of this one). `kind`: one or a list; `since` / `until` bound the wall
        time (seconds)."""
        if not 1 <= limit <= MAX_LIMIT:
            raise StoreError(f"limit: expected 1 to {MAX_LIMIT}, got {limit}")
        db = self._db()
        where, args = [], []
        for column, value in (("camera", camera), ("zone", zone)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        kinds = [kind] if isinstance(kind, str) else list(kind or ())
        if kinds:
            where.append(f"kind IN ({', '.join('?' * len(kinds))})")
            args += kinds
        if reviewed is not None:
            where.append("reviewed = ?")
            args.append(int(reviewed))
        if before_id is not None:
            where.append("id < ?")
            args.append(before_id)
        # Time bounds as id bounds too: ids follow wall time (within REORDER_S), so the scan
        # along an index in id order starts and stops near the bounds instead of at the ends.
        if since is not None:
            where.append("wall_time >= ?")
            args.append(since)
            low = db.execute("SELECT id FROM events WHERE wall_time >= ? ORDER BY wall_time LIMIT 1",
                             (since - REORDER_S,)).fetchone()
            if low is not None:
                where.append("id >= ?")
                args.append(low[0])
        if until is not None:
            where.append("wall_time < ?")
            args.append(until)
            high = db.execute("SELECT id FROM events WHERE wall_time >= ? ORDER BY wall_time LIMIT 1",
                              (until + REORDER_S,)).fetchone()
            if high is not None:
                where.append("id < ?")
                args.append(high[0])
        sql = ("SELECT * FROM events" + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY id DESC LIMIT ?")
        return [row_dict(r) for r in db.execute(sql, (*args, limit))]

    def timeline(self, since: float, until: float, buckets: int = 288) -> list[dict]:
        """Counts per camera, kind and time bucket over [since, until) (the review page's markers),
        with the newest event id of each bucket."""
        if not until > since:
            raise StoreError(f"until must be after since, got since={since} until={until}")
        width = (until - since) / buckets
        rows = self._db().execute(
            "SELECT camera, kind, CAST((wall_time - ?) / ? AS INTEGER) AS bucket, count(*) AS n, max(id) AS last "
            "FROM events WHERE wall_time >= ? AND wall_time < ? GROUP BY camera, kind, bucket",
            (since, width, since, until))
        return [{"camera": r["camera"], "kind": r["kind"], "t": since + (r["bucket"] + 0.5) * width,
                 "count": r["n"], "id": r["last"]} for r in rows]

    def set_reviewed(self, eid: int, reviewed: bool = True) -> bool:
        """Marks an event (committed at once, from the caller's thread); False if there is none."""
        self.flush(5.0)  # an event just added is in the table before it is marked
        cursor = self._db().execute("UPDATE events SET reviewed = ? WHERE id = ?", (int(reviewed), eid))
        return cursor.rowcount > 0

    def prune_missing(self) -> int:
        """Forgets the segments whose file is gone (deleted by retention or by hand); how many."""
        gone = [r[0] for r in self._db().execute("SELECT path FROM segments") if not os.path.exists(r[0])]
        for path in gone:
            self.forget_segment(path)
        return len(gone)

    # -------------------------------------------------------------- lifetime
    def close(self, timeout: float = 10.0) -> None:
        """Commits what is queued (up to `timeout`), then stops the writer."""
        if self._stop.is_set():
            return
        self.flush(timeout)
        self._stop.set()
        self._worker.join(timeout)
        self._writer_db.close()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
