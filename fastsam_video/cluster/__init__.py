"""Cameras and batched inference on a Ray cluster: the only package that imports ray (install
the `cluster` extra). One restartable actor per camera, the forward pass as a batched Ray
Serve deployment, a registry actor for what must survive a node loss."""

from .reports import CameraReport
from .options import CameraSpec, ClusterError, ClusterOptions
from .connection import connect
from .runtime import ClusterPipeline, cluster_pipeline

__all__ = ["CameraReport", "CameraSpec", "ClusterError", "ClusterOptions", "ClusterPipeline", "cluster_pipeline",
           "connect"]
