"""CLIP for text prompts, loaded once and never on the results thread when it can be helped.

Loading CLIP takes seconds, and without the weights offline its download attempt stalls for
about 30 s. The pipeline's trackers call the loader at their first text prompt, on the results
thread, where every camera would wait. So:

  * `run --text ...` loads it before the pipeline starts (`factory.build_pipeline`): missing
    weights fail at start with one line, like a missing `--model`;
  * the server loads it in the request that adds a text prompt (`load()`, on a request
    thread) before the prompt reaches the pipeline, and answers 503 with the reason when it
    cannot; the trackers then only pick up the loaded encoder.
"""

from __future__ import annotations

import threading
from typing import Callable

from .errors import FastSAMVideoError, PromptError


class ClipLoader:
    """`load()` builds the encoder once (any thread; concurrent callers wait for the one load);
    calling the loader (the trackers' factory) returns it. With `load_on_demand=False` a call
    before `load()` succeeded raises PromptError at once instead of loading on the caller's thread."""

    def __init__(self, factory: Callable[[], object], load_on_demand: bool = True):
        self._factory = factory
        self._load_on_demand = load_on_demand
        self._lock = threading.Lock()
        self._encoder = None
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

    def __call__(self):
        encoder = self._encoder
        if encoder is not None:
            return encoder
        if not self._load_on_demand:
            raise PromptError(str(self.error) if self.error else "CLIP is not loaded: add the text prompt again")
        return self.load()
