"""Cameras and batched inference on a Ray cluster: the only package that imports ray (install
the `cluster` extra). One restartable actor per camera, the forward pass as a batched Ray
Serve deployment, a registry actor for what must survive a node loss."""

from .camera import CameraStatus
from .options import CameraSpec, ClusterError, ModelOptions
from .runtime import ClusterPipeline, connect

__all__ = ["CameraSpec", "CameraStatus", "ClusterError", "ClusterPipeline", "ModelOptions", "connect"]
