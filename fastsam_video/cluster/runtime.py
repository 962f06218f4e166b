"""The driver side: connect to a Ray cluster, deploy the model, start one actor per camera.

    ClusterPipeline(["a.mp4", "rtsp://..."], ModelOptions(), record="recordings/").start()

The model runs as the `SegmentModel` Serve deployment (replicas sized by `replica_cpus` /
`replica_gpus`, frames of several cameras batched); each camera is a restartable actor spread
over the nodes; a registry actor holds prompts, recording segments and events. The pipeline
gives the same controls as the local one: `set_prompts`, `status`, `events`, `wait`, `close`.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import replace
from pathlib import Path

import ray
from ray import serve

from ..events import Event
from ..tracker import PromptSet
from .camera import Camera, CameraStatus
from .model import SegmentModel
from .options import CameraSpec, ClusterError, ModelOptions
from .registry import Registry

log = logging.getLogger(__name__)

NAMESPACE = "fastsam-video"


def connect(address: str, *, num_cpus: float | None = None) -> None:
    """Joins the cluster at `address`: `auto` (the one `ray start` runs on this machine), `local`
    (a one-node cluster in this process) or host:port / ray://host:port."""
    if ray.is_initialized():
        return
    if not address:
        raise ClusterError("cluster address: expected auto, local or host:port, got an empty string")
    try:
        if address == "local":
            ray.init(namespace=NAMESPACE, include_dashboard=False, num_cpus=num_cpus, log_to_driver=False)
        else:
            ray.init(address=address, namespace=NAMESPACE, log_to_driver=False)
    except ConnectionError as err:
        raise ClusterError(f"cannot join the Ray cluster at {address!r}: {str(err).splitlines()[0]} (start one "
                           "with `ray start --head`, or pass --ray local; with token authentication on, "
                           "export the cluster's RAY_AUTH_TOKEN here)") from None


class ClusterPipeline:
    """Cameras and batched inference spread over a Ray cluster (see the module docstring)."""

    def __init__(self, sources: list[str | CameraSpec], options: ModelOptions | None = None,
                 prompts: PromptSet | None = None, *, record: str | Path | None = None,
                 replicas: int = 1, replica_cpus: float = 1.0, replica_gpus: float = 0.0,
                 camera_cpus: float = 0.25, realtime: bool = False, segment_seconds: float = 600.0,
                 max_frames: int | None = None, retry_seconds: float = 60.0):
        if not sources:
            raise ClusterError("cameras: expected at least one source, got none")
        if replicas < 1:
            raise ClusterError(f"replicas: expected >= 1, got {replicas}")
        self.options = options or ModelOptions()
        self.specs = [self._spec(s, i, record, realtime, segment_seconds, max_frames) for i, s in enumerate(sources)]
        names = [s.name for s in self.specs]
        if len(set(names)) != len(names):
            raise ClusterError(f"camera names: expected unique names, got {names}")
        self.prompts = prompts if prompts is not None else PromptSet(everything=True)
        self.replicas, self.replica_cpus, self.replica_gpus = replicas, replica_cpus, replica_gpus
        self.camera_cpus = camera_cpus
        self.retry_seconds = retry_seconds
        run_id = uuid.uuid4().hex[:8]
        self.app = f"fastsam-video-{run_id}"
        self._registry_name = f"fastsam-video-registry-{run_id}"
        self.registry = None
        self.cameras: list = []
        self._runs: list = []
        self._reports: dict[int, CameraStatus] = {}
        self._events_seen = 0

    @staticmethod
    def _spec(source: str | CameraSpec, index: int, record, realtime: bool, segment_seconds: float,
              max_frames: int | None) -> CameraSpec:
        spec = source if isinstance(source, CameraSpec) else CameraSpec(
            str(source), realtime=realtime, segment_seconds=segment_seconds, max_frames=max_frames)
        return replace(spec, name=spec.name or f"cam{index + 1}",
                       record=spec.record if spec.record is not None else (Path(record) if record else None))

    def start(self) -> ClusterPipeline:
        if not ray.is_initialized():
            raise ClusterError("not connected to a Ray cluster: call cluster.connect(address) first")
        serve.start(proxy_location="Disabled")  # the cameras call the model through handles; no HTTP proxy
        actor_options = {"num_cpus": self.replica_cpus, "num_gpus": self.replica_gpus}
        batch = self.options.max_batch_size
        model = SegmentModel.options(num_replicas=self.replicas, ray_actor_options=actor_options,
                                     max_ongoing_requests=max(2 * batch, 4), graceful_shutdown_timeout_s=2.0)
        serve.run(model.bind(self.options), name=self.app, route_prefix=None)
        here = ray.get_runtime_context().get_node_id()
        self.registry = Registry.options(
            name=self._registry_name,
            scheduling_strategy=ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(here, soft=False),
        ).remote(len(self.specs), self.prompts)
        camera_actor = ray.remote(Camera)
        self.cameras = [camera_actor.options(
            name=f"{self._registry_name}-{spec.name}", max_restarts=-1, max_task_retries=-1, max_concurrency=4,
            num_cpus=self.camera_cpus, scheduling_strategy="SPREAD",
        ).remote(i, spec, self.options, self._registry_name, self.app, self.retry_seconds)
            for i, spec in enumerate(self.specs)]
        self._runs = [camera.run.remote() for camera in self.cameras]
        return self

    # ------------------------------------------------------------------ control
    def set_prompts(self, prompts: PromptSet, camera: int = 0) -> None:
        """Replace a camera's prompts: kept by the registry (a restarted camera reloads them),
        applied by the camera from its next frame on."""
        self._check_camera(camera)
        ray.get(self.registry.set_prompts.remote(camera, prompts))
        self.cameras[camera].set_prompts.remote(prompts)

    def status(self, camera: int = 0, timeout: float = 5.0) -> CameraStatus:
        """The camera's counters (its final report once its run ended). A camera being restarted
        on another node does not answer: ClusterError after `timeout` seconds."""
        status = self.try_status(camera, timeout)
        if status is None:
            raise ClusterError(f"camera {camera + 1} did not answer within {timeout:.0f} s (restarting on "
                               "another node?)")
        return status

    def try_status(self, camera: int = 0, timeout: float = 1.0) -> CameraStatus | None:
        """`status`, or None while the camera does not answer (a front end keeps answering)."""
        self._check_camera(camera)
        if camera in self._reports:
            return self._reports[camera]
        try:
            return ray.get(self.cameras[camera].status.remote(), timeout=timeout)
        except ray.exceptions.GetTimeoutError:
            return None

    def jpeg(self, camera: int = 0, timeout: float = 10.0) -> bytes | None:
        self._check_camera(camera)
        return ray.get(self.cameras[camera].jpeg.remote(), timeout=timeout)

    def events(self) -> list[Event]:
        """Events published since the last call (every camera's, in order of arrival)."""
        self._events_seen, events = ray.get(self.registry.events.remote(self._events_seen))
        return events

    def _check_camera(self, camera: int) -> None:
        if not 0 <= camera < len(self.specs):
            raise ClusterError(f"camera: expected 0..{len(self.specs) - 1}, got {camera}")

    # ------------------------------------------------------------------ the end
    def wait(self, timeout: float | None = None) -> bool:
        """True once every camera's run ended; re-raises a camera's error as a ClusterError."""
        pending = [ref for i, ref in enumerate(self._runs) if i not in self._reports]
        ready, _ = ray.wait(pending, num_returns=len(pending), timeout=timeout)
        for ref in ready:
            index = self._runs.index(ref)
            try:
                self._reports[index] = ray.get(ref)
            except ray.exceptions.RayTaskError as err:
                cause = err.as_instanceof_cause()
                raise ClusterError(f"camera {index + 1} ({self.specs[index].name}) failed: {cause}") from cause
        return len(self._reports) == len(self._runs)

    def close(self, timeout: float = 30.0) -> None:
        """Stops every camera (recordings finished), then removes the actors and the model."""
        deadline = time.monotonic() + timeout
        stopped = [camera.stop.remote() for camera in self.cameras]
        try:
            if self._runs:
                self.wait(max(deadline - time.monotonic(), 0.1))
                ray.wait(stopped, num_returns=len(stopped), timeout=max(deadline - time.monotonic(), 0.1))
        finally:
            for camera in self.cameras:
                ray.kill(camera, no_restart=True)
            if self.registry is not None:
                ray.kill(self.registry)
            try:
                serve.delete(self.app)
            except Exception as err:  # the cluster may be going away with us
                log.warning("removing the %s deployment failed: %s", self.app, err)
            self.cameras, self.registry = [], None

    def __enter__(self) -> ClusterPipeline:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

