"""The prompt tracker: objects picked by point, box or text keep their id through motion,
occlusion and misses of the model. `PromptTracker` (tracker.py) is the entry point."""

from .assignment import linear_assignment
from .objects import ObjectPrompt, ObjectStatus, PromptSet, TrackedObject, TrackerConfig, TrackResult
from .patches import Candidates, Patch, box_iou, intersection, overlap, paste, patch_union
from .tracker import PromptTracker

__all__ = ["Candidates", "ObjectPrompt", "ObjectStatus", "Patch", "PromptSet", "PromptTracker", "TrackResult",
           "TrackedObject", "TrackerConfig", "box_iou", "intersection", "linear_assignment", "overlap", "paste",
           "patch_union"]
