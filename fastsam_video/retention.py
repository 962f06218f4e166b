"""Retention: delete the oldest finished recording segments so that a folder stays within its
age and size limits (`--keep-days 7`, `--keep-max-size 20GB`, or per camera in the config).

A `Retention` thread checks each rule every minute and whenever the set of files being written
changes (a segment rolled, a recording started or stopped; looked at every second). The file
being written is never deleted, nor anything but finished `.mp4` recordings. What is deleted is
logged (one line per file) and counted (`deleted_files`, `deleted_bytes`: the metrics).
With a size cap, a folder stays under the cap plus the segment being written.
"""

from __future__ import annotations

import argparse
import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from .errors import FastSAMVideoError
from .workers import Worker, reason

log = logging.getLogger(__name__)

UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
         "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")
DAY = 86400.0


def parse_size(text: str | int) -> int:
    """Bytes from "500MB", "20GB", "1.5GiB" or a plain number of bytes."""
    if isinstance(text, int):
        return text
    match = SIZE.fullmatch(str(text))
    unit = match and UNITS.get(match.group(2).lower())
    if not match or unit is None or float(match.group(1)) * unit < 1:
        raise ValueError(f"expected a size like 500MB, 20GB or 1.5GiB, got {text!r}")
    return int(float(match.group(1)) * unit)


def size_argument(text: str) -> int:
    """An argparse `type=` for --keep-max-size."""
    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_retention_options(p: argparse.ArgumentParser) -> None:
    from .options import positive_float

    group = p.add_argument_group("retention (finished recording segments; the one being written is kept)")
    group.add_argument("--keep-days", type=positive_float, default=None, metavar="D",
                       help="delete segments older than D days (checked every segment roll and every minute)")
    group.add_argument("--keep-max-size", type=size_argument, default=None, metavar="SIZE",
                       help="delete the oldest segments while the recordings take more than SIZE (500MB, 20GB)")


@dataclass(frozen=True)
class Rule:
    """Limits for the recordings in `folder` (and below it, except folders with rules of their own)."""

    folder: Path
    keep_days: float | None = None
    max_bytes: int | None = None

    def __post_init__(self):
        if self.keep_days is not None and not self.keep_days > 0:
            raise FastSAMVideoError(f"keep_days: expected a positive number, got {self.keep_days}")
        if self.max_bytes is not None and not self.max_bytes > 0:
            raise FastSAMVideoError(f"keep_max_size: expected a positive size, got {self.max_bytes}")

    @property
    def active(self) -> bool:
        return self.keep_days is not None or self.max_bytes is not None


def recordings(folder: Path, exclude: Iterable[Path] = ()) -> list[tuple[float, int, Path]]:
    """(mtime, size, path) of the .mp4 files in `folder` and below (but not below `exclude`), oldest first."""
    excluded = {p.resolve() for p in exclude}
    found = []
    for path in folder.rglob("*.mp4") if folder.is_dir() else ():
        if any(parent in excluded for parent in path.resolve().parents):
            continue
        try:
            info = path.stat()
        except OSError:  # deleted meanwhile
            continue
        found.append((info.st_mtime, info.st_size, path))
    return sorted(found)


def enforce(rule: Rule, writing: set[Path] | Callable[[], set[Path]], exclude: Iterable[Path] = (),
            now: float | None = None) -> list[Path]:
    """Deletes what `rule` says must go (oldest first, never a file in `writing`); the deleted paths.
    `writing` as a function is asked after the folder is listed: a segment that rolls meanwhile
    leaves a finished file (fair game) and a new one that was not listed (safe)."""
    now = time.time() if now is None else now
    files = recordings(rule.folder, exclude)
    writing = {p.resolve() for p in (writing() if callable(writing) else writing)}
    total = sum(size for _, size, _ in files)
    doomed = []
    for mtime, size, path in files:  # oldest first
        if path.resolve() in writing:
            continue
        too_old = rule.keep_days is not None and now - mtime > rule.keep_days * DAY
        too_big = rule.max_bytes is not None and total > rule.max_bytes
        if not (too_old or too_big):
            continue
        doomed.append((path, size))
        total -= size
    deleted = []
    for path, size in doomed:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as err:
            log.warning("retention: cannot delete %s: %s", path, reason(err))
            continue
        deleted.append(path)
    return deleted


class Retention:
    """Applies `rules` on its own thread: every `interval` seconds, and within `poll` seconds of a
    change in `writing()` (the files being written: a roll). `close()` stops it."""

    def __init__(self, rules: list[Rule], writing: Callable[[], set[Path]], *, interval: float = 60.0,
                 poll: float = 1.0):
        self.rules = [r for r in rules if r.active]
        self.writing = writing
        self.interval, self.poll = interval, poll
        self.deleted_files = 0
        self.deleted_bytes = 0
        self.runs = 0
        self._stop = threading.Event()
        self._worker = Worker(self._run, name="retention")

    @classmethod
    def for_pipeline(cls, rules: list[Rule], pipeline) -> Retention:
        """Retention over `pipeline`'s recordings, the local one's or a Ray cluster's (whose
        camera actors say which file each has open)."""
        return cls(rules, pipeline.files_being_written)

    def start(self) -> Retention:
        if self.rules:
            self._worker.start()
        return self

    def check(self) -> list[Path]:
        """One pass over every rule (also callable from tests and other threads)."""
        deleted = []
        folders = [r.folder.resolve() for r in self.rules]
        for rule in self.rules:
            inner = [f for f in folders if f != rule.folder.resolve() and rule.folder.resolve() in f.parents]
            deleted += self._enforce(rule, self.writing, inner)  # the open files: asked after the listing
        self.runs += 1
        return deleted

    def _enforce(self, rule: Rule, writing: Callable[[], set[Path]], inner: list[Path]) -> list[Path]:
        before = {path: size for _, size, path in recordings(rule.folder, inner)}
        deleted = enforce(rule, writing, inner)
        for path in deleted:
            self.deleted_files += 1
            self.deleted_bytes += before.get(path, 0)
            log.info("retention: deleted %s (%.1f MB; %s)", path, before.get(path, 0) / 1e6, self._why(rule))
        return deleted

    @staticmethod
    def _why(rule: Rule) -> str:
        limits = ([f"keep {rule.keep_days:g} days"] if rule.keep_days else []) + (
            [f"keep at most {rule.max_bytes / 1e6:.3g} MB"] if rule.max_bytes else [])
        return " and ".join(limits) + f" in {rule.folder}"

    def _run(self) -> None:
        last_check = 0.0
        last_writing: set[Path] | None = None
        while not self._stop.is_set():
            try:
                writing = self.writing()
                if writing != last_writing or time.monotonic() - last_check >= self.interval:
                    last_writing = writing
                    last_check = time.monotonic()
                    self.check()
            except Exception as err:  # a folder that went away, a permission: logged, tried again
                log.warning("retention: %s", reason(err))
            self._stop.wait(self.poll)

    def close(self) -> None:
        self._stop.set()
        self._worker.join(5)
