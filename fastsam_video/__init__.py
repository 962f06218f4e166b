"""fastsam-video: real-time promptable video segmentation with FastSAM."""

from .api import FastSAM, FastSAMPrompt
from .engine import Segmenter
from .pipeline import Pipeline, Result
from .render import Annotator
from .sinks import CocoExporter, DavisExporter, SegmentedRecorder, VideoRecorder
from .sources import CaptureThread, ConnectionState, open_source
from .tracker import ObjectPrompt, PromptSet, PromptTracker, TrackerConfig
from .types import FastSAMVideoError, Frame, PromptError, RecordingError, Segmentation, SourceError, WeightsError

__all__ = [
    "FastSAM", "FastSAMPrompt", "Segmenter", "Pipeline", "Result", "Annotator",
    "CocoExporter", "DavisExporter", "SegmentedRecorder", "VideoRecorder",
    "CaptureThread", "ConnectionState", "open_source",
    "ObjectPrompt", "PromptSet", "PromptTracker", "TrackerConfig",
    "Frame", "Segmentation",
    "FastSAMVideoError", "PromptError", "RecordingError", "SourceError", "WeightsError",
]
__version__ = "0.1.0"
