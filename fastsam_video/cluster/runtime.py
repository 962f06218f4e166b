"""The driver side: connect to a Ray cluster, deploy the model, start one actor per camera.

    connect("auto")
    with ClusterPipeline(["yard.mp4", "rtsp://..."], ModelOptions(), StreamOptions(),
                         OutputOptions(record="rec/yard.mp4")) as cams:
        cams.wait()

The model runs as the `SegmentModel` Serve deployment (replicas sized by `ClusterOptions`,
frames of several cameras batched); each camera is a restartable actor spread over the nodes;
a registry actor holds prompts, recordings and events. `ClusterPipeline` offers what front ends
use of the local `Pipeline` (`live.LivePipeline`): add / remove cameras, `status` (the same
`CameraStatus`), prompts, recordings, typed events by `subscribe`, annotated frames by
`on_result`. One driver thread polls the cluster: events and reports twice a second, and each
camera's newest frame (as JPEG) at `display_fps` only when `on_result` is set; a camera being
restarted on another node never blocks a caller (its last report is shown meanwhile).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Callable

import ray
from ray import serve

from ..analytics.geometry import ZoneSet
from ..engines import open_engine
from ..events import CameraState, Event, EventKind, Subscribers
from ..options import ModelOptions, OutputOptions, StreamOptions
from ..pipeline import CameraStatus, RateMeter, Result, per_camera_path
from ..tracker import PromptSet
from ..workers import Worker, reason
from .camera import Camera
from .connection import connect
from .model import SegmentModel
from .options import CameraSpec, ClusterError, ClusterOptions
from .recording import files_open, recorded_out_of_sight
from .registry import Registry
from .reports import CameraReport, result_of, snapshot

log = logging.getLogger(__name__)

REPORT_PERIOD = 0.5  # seconds between the reports the driver fetches from the cameras


class ClusterPipeline:
    """Cameras and batched inference spread over a Ray cluster (see the module docstring)."""

    def __init__(self, sources: list[str | CameraSpec] = (), model: ModelOptions | None = None,
                 stream: StreamOptions | None = None, output: OutputOptions | None = None,
                 prompts: PromptSet | None = None, *, cluster: ClusterOptions | None = None,
                 on_result: Callable[[Result], None] | None = None, stay_open: bool = False,
                 zones: ZoneSet | None = None):
        if not sources and not stay_open:
            raise ClusterError("cameras: expected at least one source, got none")
        self.model = model or ModelOptions()
        self.stream = stream or StreamOptions()
        self.output = output or OutputOptions()
        self.cluster = cluster or ClusterOptions()
        self.prompts = prompts if prompts is not None else PromptSet(everything=True)
        self.zones = zones or ZoneSet()  # every camera's zones at the start (`set_zones` changes one camera's)
        self.on_result = on_result
        self.stay_open = stay_open
        self._sources = list(sources)
        run_id = uuid.uuid4().hex[:8]
        self.app = f"fastsam-video-{run_id}"
        self._registry_name = f"fastsam-video-registry-{run_id}"
        self.registry = None
        self._settings = None
        self._segmenter = None
        self._lock = threading.RLock()
        self._next_id = 0
        self._actors: dict[int, object] = {}
        self._specs: dict[int, CameraSpec] = {}
        self._runs: dict[int, ray.ObjectRef] = {}
        self._reports: dict[int, CameraReport] = {}
        self._final: dict[int, CameraReport] = {}
        self._errors: dict[int, str] = {}
        self._seen: dict[int, tuple[int, int]] = {}  # camera -> (run, frame) last handed to on_result
        self._view_failed: set[int] = set()  # cameras whose view raised (logged once)
        self._unseen: set[int] = set()  # cameras recording where this machine cannot see (logged once)
        self._display: dict[int, RateMeter] = {}
        self._prompts: dict[int, PromptSet] = {}  # as last set from here (the registry holds them too)
        self._recording: dict[int, str | None] = {}
        self._zones: dict[int, ZoneSet] = {}
        self._subscribers = Subscribers()
        self._events_seen = 0
        self._stop = threading.Event()
        self._poller: Worker | None = None
        self._spares: list = []  # camera actors started in advance, to take over a lost node's cameras
        self.shutdown_ray = False  # close() also stops Ray (a `local` cluster this process started)

    @property
    def max_frames(self) -> int | None:
        return self.stream.max_frames

    @property
    def segmenter(self):
        """A model on this machine (loaded at the first use) for what runs on the gateway: the
        web's image page. The cameras never use it."""
        with self._lock:
            if self._segmenter is None:
                self._segmenter = open_engine(self.model)
            return self._segmenter

    def start(self) -> ClusterPipeline:
        if not ray.is_initialized():
            raise ClusterError("not connected to a Ray cluster: call cluster.connect(address) first")
        c = self.cluster
        serve.start(proxy_location="Disabled")  # the cameras call the model through handles; no HTTP proxy
        model = SegmentModel.options(num_replicas=c.replicas, max_ongoing_requests=max(2 * c.max_batch_size, 4),
                                     ray_actor_options={"num_cpus": c.replica_cpus, "num_gpus": c.replica_gpus},
                                     graceful_shutdown_timeout_s=2.0)
        handle = serve.run(model.bind(self.model, c.max_batch_size, c.batch_wait_s), name=self.app,
                           route_prefix=None)
        self._settings = handle.settings.remote().result()
        here = ray.get_runtime_context().get_node_id()
        self.registry = Registry.options(
            name=self._registry_name,
            scheduling_strategy=ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(here, soft=False),
        ).remote()
        self._spares = [self._spawn() for _ in range(self.cluster.spares)]
        for source in self._sources:
            self.add_camera(source)
        self._poller = Worker(self._poll, name="cluster poller").start()
        return self

    # ------------------------------------------------------------------ cameras
    def add_camera(self, source: str | CameraSpec, prompts: PromptSet | None = None) -> int:
        """A camera actor on some node (the source is opened there); its id."""
        if self.registry is None:
            raise ClusterError("the cluster pipeline is not started: call start() first")
        spec = source if isinstance(source, CameraSpec) else CameraSpec(str(source), self.stream)
        with self._lock:
            camera = self._next_id
            self._next_id += 1
            record = self.output.record
            if record is not None and not self.stay_open:
                record = str(per_camera_path(record, camera, len(self._sources)))
            if spec.segment_seconds is None and self.output.segment_seconds:
                spec = replace(spec, segment_seconds=self.output.segment_seconds)
            count = 2 if self.stay_open else len(self._sources)  # the server's cameras come and go: NAME-camN
            masks, coco = (None if path is None else str(per_camera_path(path, camera, count))
                           for path in (self.output.export_masks, self.output.export_coco))
            spec = replace(spec, export_masks=spec.export_masks or masks, export_coco=spec.export_coco or coco,
                           hud=spec.hud or self.output.hud)
            self._prompts[camera], self._recording[camera] = prompts or self.prompts, spec.record or record
            self._zones[camera] = self.zones
            ray.get(self.registry.add.remote(camera, self._prompts[camera], self._recording[camera], self.zones))
            self._specs[camera], self._display[camera] = spec, RateMeter()
            self._start_run(camera, self._spawn())
        self.registry.publish.remote([Event(EventKind.CAMERA_ADDED, camera=camera, detail=spec.name)])
        return camera

    def _spawn(self):
        """A camera actor without a camera yet (its process starts and imports meanwhile)."""
        return ray.remote(Camera).options(max_restarts=0, max_concurrency=4, num_cpus=self.cluster.camera_cpus,
                                          scheduling_strategy="SPREAD").remote()

    def _start_run(self, camera: int, actor) -> None:
        self._actors[camera] = actor
        self._runs[camera] = actor.run.remote(camera, self._specs[camera], self._settings, self._registry_name,
                                              self.app, self.cluster.retry_seconds)

    def _failover(self, camera: int, err: BaseException) -> None:
        """The camera's actor died (its node lost): a spare on a live node takes over at once;
        without one alive, a new actor does (it starts its process first)."""
        log.warning("camera %d lost its actor (%s): moving it to another node", camera, type(err).__name__)
        while self._spares:
            spare = self._spares.pop(0)
            try:
                ray.get(spare.ready.remote(), timeout=2.0)
            except ray.exceptions.RayError:  # on the lost node too, or not up yet
                continue
            self._start_run(camera, spare)
            break
        else:
            self._start_run(camera, self._spawn())
        self._spares.append(self._spawn())

    def spare_nodes(self, timeout: float = 30.0) -> list[str]:
        """The nodes of the spare camera actors (once they are up)."""
        return ray.get([spare.ready.remote() for spare in list(self._spares)], timeout=timeout)

    def remove_camera(self, camera: int) -> None:
        """Stops the camera (its recording finished) and removes its actor."""
        with self._lock:
            actor = self._actor(camera)
            run, spec = self._runs.pop(camera), self._specs[camera]
            del self._actors[camera], self._specs[camera]
            for known in (self._reports, self._final, self._errors, self._prompts, self._recording, self._zones):
                known.pop(camera, None)
        ray.get(actor.stop.remote(), timeout=10)
        try:
            ray.get(run, timeout=30)
        except Exception as err:  # its failure was already reported in its status and events
            log.debug("camera %d ended with %s", camera, reason(err))
        ray.kill(actor, no_restart=True)
        self.registry.remove.remote(camera)
        self.registry.publish.remote([Event(EventKind.CAMERA_REMOVED, camera=camera, detail=spec.name)])

    def camera_ids(self) -> list[int]:
        with self._lock:
            return sorted(self._actors)

    def _actor(self, camera: int):
        actor = self._actors.get(camera)
        if actor is None:
            raise ClusterError(f"camera: expected one of {self.camera_ids()}, got {camera}")
        return actor

    # ------------------------------------------------------------------ control
    def set_prompts(self, prompts: PromptSet, camera: int = 0) -> None:
        """Replace a camera's prompts: kept by the registry (a restarted camera reloads them),
        applied by the camera from its next frame on."""
        actor = self._actor(camera)
        self._prompts[camera] = prompts
        ray.get(self.registry.update.remote(camera, prompts=prompts))  # first: a camera being adopted reads it
        actor.set_prompts.remote(prompts)

    def prompts_of(self, camera: int) -> PromptSet:
        """The camera's prompts as last set, with the objects its detect_new zones found (the
        registry holds both; its last known ones when it does not answer)."""
        self._actor(camera)
        if self._zones.get(camera):  # only a zone adds prompts on the camera's side
            try:
                self._prompts[camera] = ray.get(self.registry.state.remote(camera), timeout=5).prompts
            except (ray.exceptions.GetTimeoutError, ray.exceptions.RayError, KeyError):
                pass
        return self._prompts[camera]

    def set_zones(self, zones: ZoneSet, camera: int = 0) -> None:
        """Replace a camera's zones and lines: kept by the registry (a restarted camera reloads
        them; their counts start afresh there), applied by the camera from its next frame on."""
        actor = self._actor(camera)
        self._zones[camera] = zones
        ray.get(self.registry.update.remote(camera, zones=zones))  # first: a camera being adopted reads it
        actor.set_zones.remote(zones)

    def zones_of(self, camera: int) -> ZoneSet:
        self._actor(camera)
        return self._zones[camera]

    def recording_of(self, camera: int) -> Path | None:
        """The file the camera records to (a restarted camera: its NAME-runNN.mp4), or None."""
        self._actor(camera)
        asked = self._recording[camera]
        report = self._reports.get(camera)
        if asked is None or report is None or report.recording is None:
            return None if asked is None else Path(asked)
        return Path(report.recording)

    def set_recording(self, path: str | Path | None, camera: int = 0) -> None:
        """Record a camera to `path` (on its node: use a folder every node shares), or stop with None."""
        actor = self._actor(camera)
        path = None if path is None else str(path)
        self._recording[camera] = path
        ray.get(self.registry.update.remote(camera, recording=path))  # first: a camera being adopted reads it
        actor.set_recording.remote(path)

    def files_being_written(self, camera: int | None = None, timeout: float = 2.0) -> set[Path]:
        """The recording files open right now (each camera's current segment, as its actor says),
        of every camera or of one (see `recording.files_open`): what retention never deletes."""
        with self._lock:
            actors = {c: a for c, a in self._actors.items() if c not in self._final and camera in (None, c)}
        return files_open(actors, self._reports, timeout)

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Calls `callback(event)` for every event from now on (on the driver's poll thread);
        returns the function that unsubscribes it."""
        return self._subscribers.add(callback)

    def mark_displayed(self, camera: int = 0) -> None:
        meter = self._display.get(camera)
        if meter is not None:
            meter.mark()

    # ------------------------------------------------------------------ state
    def report(self, camera: int = 0, timeout: float = 5.0) -> CameraReport:
        """The camera actor's own counters (its final report once its run ended). A camera being
        restarted on another node does not answer: ClusterError after `timeout` seconds."""
        report = self.try_report(camera, timeout)
        if report is None:
            raise ClusterError(f"camera {camera} did not answer within {timeout:.0f} s (restarting on "
                               "another node?)")
        return report

    def try_report(self, camera: int = 0, timeout: float = 1.0) -> CameraReport | None:
        """`report`, or None while the camera does not answer (its node lost: it is being moved)."""
        actor = self._actor(camera)
        if camera in self._final:
            return self._final[camera]
        try:
            report = ray.get(actor.status.remote(), timeout=timeout)
        except (ray.exceptions.GetTimeoutError, ray.exceptions.RayActorError):  # being moved to another node
            return None
        if report is not None:
            self._reports[camera] = report
        return report

    def status(self, camera: int = 0) -> CameraStatus:
        """The camera as front ends show it, from its latest report (never waits on the cluster)."""
        self._actor(camera)
        report = self._final.get(camera) or self._reports.get(camera)
        error = self._errors.get(camera) or (report.error if report else None)
        answering = camera in self._final or (report is not None and camera in self._fresh)
        if error:
            state = CameraState.FAILED
        elif report is None:
            state = CameraState.STARTING
        elif report.finished or camera in self._final:
            state = CameraState.ENDED
        elif not answering:
            state = CameraState.RECONNECTING  # its node is gone: it moves to another one
        else:
            state = CameraState.RUNNING if report.frames else CameraState.STARTING
        spec = self._specs[camera]
        if report is None:
            return CameraStatus(camera, spec.name, False, state, snapshot(None, self._display[camera]), None,
                                None, (), (), error, (), None, None)
        recorded = tuple(Path(p) for p in report.segments if p != report.recording)
        expected = report.frames_expected
        limit = spec.stream.max_frames
        truncated = (report.frames_done < expected and (limit is None or report.frames_done < limit)
                     if expected and report.finished else None)
        return CameraStatus(camera, spec.name, report.live, state, snapshot(report, self._display[camera]),
                            report.frame_size, Path(report.recording) if report.recording else None,
                            recorded, report.objects, error, (), expected, truncated, report.zones)

    # ------------------------------------------------------------------ the poll thread
    _fresh: frozenset = frozenset()  # cameras whose last report request was answered in time

    def _poll(self) -> None:
        next_report = 0.0
        while not self._stop.is_set():
            started = time.monotonic()
            self._collect_runs()
            if started >= next_report:
                self._refresh_reports()
                next_report = started + REPORT_PERIOD
            self._dispatch_events()
            if self.on_result is not None:
                self._fetch_views()
            period = 1 / self.cluster.display_fps if self.on_result is not None and self.cluster.display_fps \
                else REPORT_PERIOD
            self._stop.wait(max(period - (time.monotonic() - started), 0.01))
        self._collect_runs()
        self._dispatch_events()

    def _collect_runs(self) -> None:
        with self._lock:
            pending = {ref: camera for camera, ref in self._runs.items() if camera not in self._final
                       and camera not in self._errors}
        if not pending:
            return
        ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0)
        for ref in ready:
            camera = pending[ref]
            try:
                self._final[camera] = ray.get(ref)
            except ray.exceptions.RayActorError as err:  # the process or its node died
                with self._lock:
                    if camera in self._runs and self._runs[camera] is ref:
                        self._failover(camera, err)
            except ray.exceptions.RayTaskError as err:  # the camera failed (its source, its recording)
                self._errors[camera] = reason(err.as_instanceof_cause()).splitlines()[0]

    def _refresh_reports(self) -> None:
        with self._lock:
            asked = {self._actors[c].status.remote(): c for c in self._actors if c not in self._final}
        ready, _ = ray.wait(list(asked), num_returns=len(asked), timeout=REPORT_PERIOD) if asked else ([], [])
        fresh = set()
        for ref in ready:
            try:
                report = ray.get(ref)
            except ray.exceptions.RayError:
                continue
            if report is not None:
                self._reports[asked[ref]] = report
                fresh.add(asked[ref])
                self._check_visible(report)
        self._fresh = frozenset(fresh)

    def _check_visible(self, report: CameraReport) -> None:
        """Says once per camera when its recording is on a disk this machine cannot see (a node's
        own disk): retention (which runs here), the event clips and a restart's resume need the
        record folder shared by every node."""
        if report.camera not in self._unseen and recorded_out_of_sight(report):
            self._unseen.add(report.camera)
            log.warning("camera %d records to %s on node %s, which this machine cannot see: --keep-days / "
                        "--keep-max-size do not apply to it; record to a folder every node shares (NFS)",
                        report.camera, report.recording, report.node_id[:12])

    def _dispatch_events(self) -> None:
        self._events_seen, events = ray.get(self.registry.events.remote(self._events_seen))
        for event in events:
            self._subscribers.emit(event)

    def _fetch_views(self) -> None:
        with self._lock:
            asked = {}
            for camera, actor in self._actors.items():
                if camera not in self._final and camera in self._fresh:
                    run, seq = self._seen.get(camera, (0, -1))
                    report = self._reports.get(camera)
                    if report is not None and report.runs != run:
                        seq = -1  # a new run counts its frames from 0
                    asked[actor.view.remote(seq)] = camera
        ready, _ = ray.wait(list(asked), num_returns=len(asked), timeout=1.0) if asked else ([], [])
        for ref in ready:
            camera = asked[ref]
            try:
                view = ray.get(ref)
            except ray.exceptions.RayTaskError as err:  # a bug, not a lost node: say so, once per camera
                if camera not in self._view_failed:
                    self._view_failed.add(camera)
                    log.warning("camera %d: its view failed: %s", camera, reason(err))
                continue
            except ray.exceptions.RayError:  # its actor or node is going away: the monitor handles it
                continue
            report = self._reports.get(camera)
            if view is None or report is None:
                continue
            self._seen[camera] = (report.runs, view.seq)
            self.on_result(result_of(camera, view))

    # ------------------------------------------------------------------ the end
    def wait(self, timeout: float | None = None) -> bool:
        """True once every camera's run ended (ended or failed: see `status`); a pipeline built
        with `stay_open` waits for `close`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._collect_runs()
            with self._lock:
                done = all(c in self._final or c in self._errors for c in self._runs)
            if done and not self.stay_open:
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            with self._lock:
                pending = [r for c, r in self._runs.items() if c not in self._final and c not in self._errors]
            if pending:
                ray.wait(pending, num_returns=1, timeout=0.2 if left is None else min(left, 0.2))
            else:
                self._stop.wait(0.2 if left is None else min(left, 0.2))

    def close(self, timeout: float = 30.0) -> None:
        """Stops every camera (recordings finished), then removes the actors and the model."""
        deadline = time.monotonic() + timeout
        with self._lock:
            actors = dict(self._actors)
        stopped = [actor.stop.remote() for actor in actors.values()]
        try:
            pending = [r for c, r in self._runs.items() if c not in self._final and c not in self._errors]
            if pending:
                ray.wait(pending, num_returns=len(pending), timeout=max(deadline - time.monotonic(), 0.1))
            if stopped:
                ray.wait(stopped, num_returns=len(stopped), timeout=max(deadline - time.monotonic(), 0.1))
            self._collect_runs()
        finally:
            self._stop.set()
            if self._poller is not None:
                self._poller.join(deadline=max(deadline, time.monotonic() + 5))
            for actor in [*actors.values(), *self._spares]:
                ray.kill(actor, no_restart=True)
            self._spares = []
            if self.registry is not None:
                ray.kill(self.registry)
            try:
                serve.delete(self.app)
            except Exception as err:  # the cluster may be going away with us
                log.warning("removing the %s deployment failed: %s", self.app, err)
            self.registry = None
            if self.shutdown_ray:
                serve.shutdown()
                ray.shutdown()

    def __enter__(self) -> ClusterPipeline:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def cluster_pipeline(address: str, sources, model: ModelOptions, stream: StreamOptions, output: OutputOptions,
                     prompts: PromptSet | None = None, *, on_result: Callable[[Result], None] | None = None,
                     stay_open: bool = False, cluster: ClusterOptions | None = None,
                     zones: ZoneSet | None = None) -> ClusterPipeline:
    """What `--ray ADDRESS` builds in place of `factory.build_pipeline`: joins the cluster and
    returns the pipeline (not started). Sources are opened on the cameras' nodes."""
    started = connect(address)
    specs = [s if isinstance(s, CameraSpec) else CameraSpec(str(s), stream) for s in sources]
    pipeline = ClusterPipeline(specs, model, stream, output, prompts, cluster=cluster, on_result=on_result,
                               stay_open=stay_open, zones=zones)
    pipeline.shutdown_ray = started and address == "local"  # the in-process cluster ends with the pipeline
    return pipeline
