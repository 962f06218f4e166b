"""`run --events FILE.jsonl`: every event of a run, one JSON object per line, flushed as it
happens (a crash or a second signal loses no event already reported)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from .errors import RecordingError
from .events import Event


class EventLog:
    """Appends `Event.to_dict()` lines to a file; `write` may be called from any thread."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("w", encoding="utf-8")
        except OSError as err:
            raise RecordingError(f"--events {self.path}: cannot write it ({err.strerror or err}): "
                                 f"choose a file in a folder you can write") from None
        self._lock = threading.Lock()
        self.written = 0

    def write(self, event: Event) -> None:
        line = json.dumps(event.to_dict()) + "\n"
        with self._lock:
            if self._file.closed:
                return
            self._file.write(line)
            self._file.flush()
            self.written += 1

    def close(self) -> None:
        with self._lock:
            self._file.close()
