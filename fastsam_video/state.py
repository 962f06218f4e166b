"""State that survives a restart: the server's cameras (their ids and sources), each camera's
objects (ids, prompts; a colour follows from its id), everything mode, recording on / off and
zones, as changed through the API or the page.

`StateFile.save` writes atomically: a temporary file in the same folder, flushed and fsynced,
renamed over the old one, then the folder fsynced. A kill -9 at any moment leaves the previous or
the new state, never a broken file (tests/test_state.py kills writers 200 times). `load` checks
the file with pydantic; one that does not parse (edited by hand) is a one-line error naming it.
The file is written with mode 0600: a stream URL may hold a password.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .config import PromptConfig
from .errors import FastSAMVideoError

VERSION = 1


class StateError(FastSAMVideoError):
    """A state file that cannot be read back."""


class SavedCamera(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: int = Field(ge=0)
    source: str | None = None  # as given through the API (None for a config camera: its source, which
    name: str | None = None    # may hold a ${SECRET}, is read from the config file by this name)
    everything: bool = False
    objects: list[PromptConfig] = []
    recording: bool = False
    zones: list[dict[str, Any]] = []  # zones / lines in their to_dict form (issue 22)


class SavedState(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: int = VERSION
    cameras: list[SavedCamera] = []


class StateFile:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.writes = 0
        self._lock = threading.Lock()

    def load(self) -> SavedState | None:
        """The saved state, None when there is no file yet. Temporary files of writers killed
        mid-way are removed (the file itself is the previous state, whole)."""
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            stale.unlink(missing_ok=True)
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return None
        except OSError as err:
            raise StateError(f"cannot read the state file {self.path}: {err.strerror or err}") from None
        try:
            return SavedState.model_validate_json(text)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "the file"
            raise StateError(f"the state file {self.path} is not valid ({where}: {first['msg']}): fix it, or delete "
                             "it to start from the command line and config again") from None

    def save(self, state: SavedState) -> None:
        data = state.model_dump_json(indent=1, exclude_none=True).encode()
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, self.path)
            except BaseException:
                try:
                    os.unlink(temporary)
                except OSError:
                    pass
                raise
            folder = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)  # the rename itself reaches the disk
            finally:
                os.close(folder)
            self.writes += 1


def default_path(config: str | Path | None, given: str | Path | None) -> Path | None:
    """--state FILE, else NAME.state.json beside the config file, else None (nothing kept)."""
    if given:
        return Path(given)
    if config:
        config = Path(config)
        return config.with_name(f"{config.stem}.state.json")
    return None


def prompt_config(prompt) -> PromptConfig:
    """An ObjectPrompt as saved."""
    if prompt.points:
        return PromptConfig(id=prompt.object_id,
                            points=[[x, y, label] for (x, y), label in zip(prompt.points, prompt.labels)])
    if prompt.box is not None:
        return PromptConfig(id=prompt.object_id, box=list(prompt.box))
    return PromptConfig(id=prompt.object_id, text=prompt.text)


def prompt_set(objects: list[PromptConfig], everything: bool | None):
    """The PromptSet of saved or configured objects (ids 1, 2, ... where none is given);
    everything None: on when there is no object."""
    from .tracker import ObjectPrompt, PromptSet

    prompts, next_id = [], max((o.id or 0 for o in objects), default=0) + 1
    for o in objects:
        oid = o.id
        if oid is None:
            oid, next_id = next_id, next_id + 1
        if o.points is not None:
            prompts.append(ObjectPrompt(oid, points=tuple((float(p[0]), float(p[1])) for p in o.points),
                                        labels=tuple(int(p[2]) if len(p) > 2 else 1 for p in o.points)))
        elif o.box is not None:
            prompts.append(ObjectPrompt(oid, box=tuple(float(v) for v in o.box)))
        else:
            prompts.append(ObjectPrompt(oid, text=o.text))
    return PromptSet(tuple(prompts), everything=not prompts if everything is None else everything)

