"""fastsam-video: real-time promptable video segmentation with FastSAM."""

from .api import FastSAM, FastSAMPrompt
from .engine import Segmenter
from .types import FastSAMVideoError, Frame, PromptError, RecordingError, Segmentation, SourceError, WeightsError

__all__ = [
    "FastSAM", "FastSAMPrompt", "Segmenter", "Frame", "Segmentation",
    "FastSAMVideoError", "PromptError", "RecordingError", "SourceError", "WeightsError",
]
__version__ = "0.1.0"
