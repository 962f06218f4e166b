"""Compatibility: the tracker lives in the `fastsam_video.tracking` package."""

from .tracking import *  # noqa: F401,F403
from .tracking import __all__  # noqa: F401
