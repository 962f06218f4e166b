"""The project's errors, apart from `types` so that the command line can report a usage error
without loading torch."""

from __future__ import annotations


class FastSAMVideoError(Exception):
    """An error the user can fix; its message is one line naming the problem and the fix."""


class WeightsError(FastSAMVideoError):
    """Missing, corrupt or unsuitable model weights."""


class SourceError(FastSAMVideoError):
    """A video source that cannot be opened or read."""


class PromptError(FastSAMVideoError):
    """A malformed prompt."""


class RecordingError(FastSAMVideoError):
    """A recording or export that cannot be written."""


class PromptPending(FastSAMVideoError):
    """A prompt that cannot run yet (CLIP still loading in the background): tried again next frame."""
