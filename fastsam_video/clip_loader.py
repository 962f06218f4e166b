"""CLIP for text prompts, loaded once and never on the results thread.

Loading CLIP takes seconds, and without the weights offline its download attempt stalls for
about 30 s. The pipeline's trackers call the loader at their first text prompt, on the results
thread, where every camera would wait. So:

  * `run --text ...` loads it before the pipeline starts (`factory.build_pipeline`): missing
    weights fail at start with one line, like a missing `--model`;
  * a text prompt added later (the window) starts the load on a thread of its own; until it is
    done the tracker gets `PromptPending` and tries again at the next frame, so the cameras go
    on; a load that failed rejects the prompt with its reason (an `object_rejected` event);
  * the server loads it in the request that adds the prompt (`load()`, on a request thread)
    before the prompt reaches the pipeline, and answers 503 with the reason when it cannot
    (`background=False`: the trackers only pick up the loaded encoder).
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from .errors import FastSAMVideoError, PromptError, PromptPending
from .workers import Worker

log = logging.getLogger(__name__)


class ClipLoader:
    """`load()` builds the encoder once (any thread; concurrent callers wait for the one load).
    Calling the loader (the trackers' factory) returns it once loaded; before that it starts a
    background load and raises PromptPending (`background=False`: raises PromptError at once)."""

    def __init__(self, factory: Callable[[], object], background: bool = True):
        self._factory = factory
        self._background = background
        self._lock = threading.Lock()
        self._encoder = None
        self._worker: Worker | None = None
        self.error: FastSAMVideoError | None = None  # why the last load failed

    @property
    def loaded(self) -> bool:
        return self._encoder is not None

    def load(self):
        with self._lock:
            if self._encoder is None:
                try:
                    self._encoder = self._factory()
                except FastSAMVideoError as err:
                    self.error = err
                    raise
                self.error = None
            return self._encoder

    def _load_quietly(self) -> None:
        try:
            self.load()
            log.info("CLIP loaded: text prompts run from the next frame")
        except FastSAMVideoError as err:
            log.warning("text prompts cannot run: %s", err)

    def __call__(self):
        encoder = self._encoder
        if encoder is not None:
            return encoder
        if self.error is not None:
            raise PromptError(str(self.error))
        if not self._background:
            raise PromptError("CLIP is not loaded: add the text prompt again")
        if self._worker is None:
            self._worker = Worker(self._load_quietly, name="clip-load").start()
        raise PromptPending("CLIP is loading")
