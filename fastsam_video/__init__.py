"""fastsam-video: real-time promptable video segmentation with FastSAM.

The names below load on first use (PEP 562), so that `import fastsam_video.cli` or
`fastsam_video.options` does not pull in the model's libraries: a usage error exits at once.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "api": ("FastSAM", "FastSAMPrompt"),
    "engines.pytorch": ("Segmenter",),
    "engines": ("open_engine", "SegmentationEngine"),
    "pipeline": ("Pipeline", "Result", "CameraStatus", "StatsSnapshot"),
    "factory": ("build_pipeline",),
    "options": ("ModelOptions", "StreamOptions", "OutputOptions"),
    "events": ("Event", "EventKind", "CameraState", "ObjectState"),
    "render": ("Annotator",),
    "sinks": ("CocoExporter", "DavisExporter", "SegmentedRecorder", "VideoRecorder"),
    "sources": ("CaptureThread", "ConnectionState", "open_source"),
    "tracker": ("ObjectPrompt", "PromptSet", "PromptTracker", "TrackerConfig"),
    "types": ("Frame", "Segmentation", "FastSAMVideoError", "PromptError", "RecordingError", "SourceError",
              "WeightsError"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)
__version__ = "0.1.0"


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'fastsam_video' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
