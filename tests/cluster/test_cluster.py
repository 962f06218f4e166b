"""Cameras on a three-node Ray cluster on this machine (a head and two workers, fractional CPUs):
file cameras recorded without losing a frame, prompts reaching their camera (through the
`ClusterPipeline` and through `serve --ray`'s HTTP API), `--detect-every` and zones on a camera
actor, a live camera dropping stale frames, and a worker node killed mid-run. One cluster for the whole
module (starting one costs seconds)."""

from __future__ import annotations

import os
import time

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # every socket stays on 127.0.0.1
# workers run this interpreter, not `uv run` in a copy of the project (Ray's default under `uv run`:
# every worker start, a restarted camera's included, then pays for a uv environment)
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # loopback only: no token between test processes

import av  # noqa: E402
import pytest  # noqa: E402

ray = pytest.importorskip("ray", reason="the cluster extra is not installed (uv sync --extra cluster)")

from ray.cluster_utils import Cluster  # noqa: E402

from fastsam_video import synth  # noqa: E402
from fastsam_video.analytics import ZoneSet, parse_line, parse_zone  # noqa: E402
from fastsam_video.cluster import ClusterOptions, ClusterPipeline, connect  # noqa: E402
from fastsam_video.events import CameraState, EventKind  # noqa: E402
from fastsam_video.live import LivePipeline  # noqa: E402
from fastsam_video.options import ModelOptions, OutputOptions, StreamOptions  # noqa: E402
from fastsam_video.tracker import ObjectPrompt, PromptSet  # noqa: E402

from ..analytics.truth import assert_zone_events, first_frame_points  # noqa: E402
from ..conftest import SAMPLES  # noqa: E402
from ..media import write_repeated  # noqa: E402

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]

CLIPS = sorted(SAMPLES.glob("clips/*/video.mp4"))
MODEL = ModelOptions(imgsz=320, device="cpu", backend="torch")
SMALL = ClusterOptions(replica_cpus=0.5, camera_cpus=0.25, spares=0)  # no node is lost: no spare actor
CROSSING = PromptSet(objects=(ObjectPrompt(1, points=((40.0, 70.0),), labels=(1,)),
                              ObjectPrompt(2, points=((280.0, 70.0),), labels=(1,))))
FRAMES = 12  # per file camera: enough to track, short for CI's 2 cores
NODE = {"num_cpus": 1, "object_store_memory": 80 * 2**20}


@pytest.fixture(scope="module")
def cluster():
    # a killed node is declared dead after 3 missed 500 ms health checks (defaults: 5 x 3 s)
    config = {"health_check_period_ms": 500, "health_check_failure_threshold": 3, "health_check_timeout_ms": 500}
    cluster = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False,
                                                             "_system_config": config})
    workers = [cluster.add_node(**NODE) for _ in range(2)]
    cluster.wait_for_nodes()
    connect(cluster.address)
    yield cluster, workers
    from ray import serve

    serve.shutdown()
    ray.shutdown()
    cluster.shutdown()


def frames_in(paths) -> int:
    total = 0
    for path in paths:
        with av.open(str(path)) as container:
            total += sum(1 for _ in container.decode(container.streams.video[0]))
    return total


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def moved(report) -> bool:
    """The camera runs again after a restart (on another node) and has finished a frame there."""
    return report is not None and report.runs > 1 and report.frames > 0


def long_clip(path, repeats: int = 2):
    """The sample clip played `repeats` times in a row: a file camera that runs long enough to lose a node."""
    return write_repeated(CLIPS[0], path, repeats)


def test_four_file_cameras_lose_no_frame_and_prompts_reach_their_camera(cluster, tmp_path):
    clips = [CLIPS[1], CLIPS[0], CLIPS[2], CLIPS[3]]  # camera 1 sees the crossing objects
    events = []
    pipeline = ClusterPipeline([str(c) for c in clips], MODEL, StreamOptions(max_frames=FRAMES),
                               OutputOptions(record=str(tmp_path / "rec.mp4")), cluster=SMALL)
    pipeline.subscribe(events.append)
    assert isinstance(pipeline, LivePipeline)  # what the web app and `run` take
    with pipeline:
        pipeline.set_prompts(CROSSING, camera=1)
        assert pipeline.wait(timeout=300), "the cameras did not finish in 300 s"
        reports = [pipeline.report(i) for i in range(4)]
        statuses = [pipeline.status(i) for i in range(4)]
    for i, (report, status) in enumerate(zip(reports, statuses)):
        assert report.frames == FRAMES and report.finished and status.state is CameraState.ENDED
        assert report.segments == (str(tmp_path / f"rec-cam{i + 1}.mp4"),)
        assert frames_in(report.segments) == FRAMES, f"{report.name}: frames lost from the recording"
        assert report.bytes_to_model == 320 * 240 * 3  # the frame at the network's size, nothing more
        assert status.stats.frames == FRAMES and status.recorded == tuple(map(type(tmp_path), report.segments))
    assert len({r.node_id for r in reports}) >= 2, "the cameras were not spread over the nodes"
    # the prompts went to camera 1 only
    assert {o.object_id for o in statuses[1].objects} == {1, 2}
    assert all(not s.objects for i, s in enumerate(statuses) if i != 1)
    added = [e for e in events if e.kind is EventKind.OBJECT_ADDED]
    assert added and {e.camera for e in added} == {1}
    assert sorted(e.camera for e in events if e.kind is EventKind.CAMERA_ENDED) == [0, 1, 2, 3]
    assert sorted(e.camera for e in events if e.kind is EventKind.CAMERA_ADDED) == [0, 1, 2, 3]


def test_serve_ray_prompts_through_the_http_api_reach_their_camera(cluster, tmp_path):
    from fastapi.testclient import TestClient

    from fastsam_video.cli import build_parser
    from fastsam_video.web.server import build
    from tests.web.conftest import OBJECT_POINT, still_clip

    head, _ = cluster
    still = str(still_clip(tmp_path, frames=450))  # 30 s of a still scene at its own rate: a camera
    args = build_parser().parse_args(["serve", still, "--ray", head.address, "--realtime", "--imgsz", "320",
                                      "--device", "cpu", "--backend", "torch", "--output", str(tmp_path / "out")])
    app, site = build(args)
    live = site.live
    events = []
    live.bus.subscribe(events.append)
    try:
        client = TestClient(app)
        assert client.post("/api/cameras", json={"source": still}).json() == {"id": 1}
        wait_for(lambda: all(c["state"] == "running" for c in client.get("/api/cameras").json()), 120,
                 "both cameras running")
        assert client.post("/api/cameras/0/recording", json={"name": "cam0.mp4"}).status_code == 201
        wait_for(lambda: live.camera(0).latest is not None, 30, "a frame on the gateway")
        x, y = OBJECT_POINT
        assert client.post("/api/cameras/0/objects", json={"points": [[x, y, 1]]}).json() == {"id": 1}
        obj = wait_for(lambda: (o := client.get("/api/cameras/0/objects").json()) and o[0]["state"] == "tracked"
                       and o[0], 60, "the object tracked")
        x1, y1, x2, y2 = obj["box"]
        assert x1 <= x <= x2 and y1 <= y <= y2
        # the prompt reached camera 0's actor, not camera 1's
        assert {o.object_id for o in live.pipeline.report(0).objects} == {1}
        # a zone through the API reaches camera 0's actor: the object is inside it
        everywhere = {"name": "everywhere", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}
        assert client.post("/api/cameras/0/zones", json=everywhere).status_code == 201
        inside = wait_for(lambda: (z := client.get("/api/cameras/0/zones").json()) and z[0]["counts"]["count"] == 1
                          and z[0], 60, "the object counted inside the zone")
        assert inside["counts"]["objects"] == [1] and client.get("/api/cameras/1/zones").json() == []
        assert not live.pipeline.report(1).objects and client.get("/api/cameras/1/objects").json() == []
        snapshot = client.get("/api/cameras/0/snapshot.jpg")
        assert snapshot.status_code == 200 and snapshot.content[:2] == b"\xff\xd8"
        assert client.get("/api/cameras/0").json()["recording"] == "cam0.mp4"
        assert client.delete("/api/cameras/0/recording").json() == {"recorded": "cam0.mp4"}
        assert client.delete("/api/cameras/1").status_code == 204
        assert [c["id"] for c in client.get("/api/cameras").json()] == [0]
        # the events come from the actors through the registry (polled every 0.5 s)
        expected = {(EventKind.CAMERA_ADDED, 1), (EventKind.OBJECT_ADDED, 0), (EventKind.RECORDING_STARTED, 0),
                    (EventKind.RECORDING_STOPPED, 0), (EventKind.CAMERA_REMOVED, 1), (EventKind.ZONE_ENTERED, 0)}
        wait_for(lambda: expected <= {(e.kind, e.camera) for e in events}, 10, f"the events {expected}")
    finally:
        site.close()
    assert frames_in([tmp_path / "out" / "cam0.mp4"]) > 0


def test_detect_every_3_runs_the_model_on_one_frame_in_three_and_records_every_frame(cluster, tmp_path):
    frames = 30
    stream = StreamOptions(max_frames=frames, detect_every=3)
    with ClusterPipeline([str(CLIPS[0])], MODEL, stream, OutputOptions(record=str(tmp_path / "rec.mp4")),
                         cluster=SMALL) as pipeline:
        assert pipeline.wait(timeout=300), "the camera did not finish in 300 s"
        report, status = pipeline.report(0), pipeline.status(0)
    assert report.frames == frames and frames_in(report.segments) == frames  # carried frames recorded too
    assert frames / 3 <= report.model_frames < frames / 2, report.model_frames  # plus the first frames' searches
    assert status.stats.model_frames == report.model_frames
    assert f"model on {report.model_frames}/{frames} frames" in status.stats.line()
    assert report.bytes_to_model == 320 * 240 * 3  # per frame sent: the skipped ones sent nothing


def test_zones_and_lines_on_a_camera_actor_give_the_true_events(cluster, tmp_path):
    clip = next(c for c in synth.zone_scenarios() if c.name == "patrol")
    video = synth.write_clip(clip, tmp_path) / "video.mp4"
    _, labels, _ = synth.render_clip(clip)
    zone, line = parse_zone("left:0,0;0.45,0;0.45,1;0,1:loiter=1"), parse_line("mid:0.5,0,0.5,1")
    prompts = PromptSet(objects=tuple(ObjectPrompt(i + 1, points=(point,), labels=(1,))
                                      for i, point in enumerate(first_frame_points(labels))))
    events = []
    pipeline = ClusterPipeline([str(video)], MODEL, prompts=prompts, cluster=SMALL, zones=ZoneSet((zone, line)),
                               output=OutputOptions(record=str(tmp_path / "rec.mp4")))
    pipeline.subscribe(events.append)
    with pipeline:
        assert pipeline.zones_of(0) == ZoneSet((zone, line))
        assert pipeline.wait(timeout=300), "the camera did not finish in 300 s"
        time.sleep(0.6)  # the last events reach the subscribers
        counts = {c.name: c for c in pipeline.status(0).zones}
    assert_zone_events([e.to_dict() for e in events], labels, zone, line)
    kinds = [e.kind for e in events]  # the counts in the camera's status agree with its events
    assert counts["mid"].crossed_in + counts["mid"].crossed_out == kinds.count(EventKind.LINE_CROSSED) == 3
    assert (counts["left"].entered, counts["left"].left) == (kinds.count(EventKind.ZONE_ENTERED),
                                                             kinds.count(EventKind.ZONE_LEFT))
    # the recording shows the zone: its name tag (filled amber or red) at the zone's top-left corner
    with av.open(str(tmp_path / "rec.mp4")) as recorded:
        frame = next(f for i, f in enumerate(recorded.decode(video=0)) if i == 40).to_ndarray(format="rgb24")
    r, g, b = frame[6:14, 1:4].reshape(-1, 3).mean(0)
    assert r > 170 and b < 110, (r, g, b)


def test_live_camera_drops_stale_frames_and_keeps_latency_bounded(cluster):
    # 120 fps offered, far more than the model keeps up with on this machine
    with ClusterPipeline(["lavfi:testsrc2=size=320x240:rate=120,realtime"], MODEL, cluster=SMALL) as pipeline:
        report = wait_for(lambda: (r := pipeline.try_report(0)) is not None and r.frames >= 15 and r, 120,
                          "15 frames from the live camera")
    final = pipeline.report(0)
    assert final.dropped > final.frames, "a live camera must drop stale frames, not queue them"
    assert report.latency_p95 < 2.0, f"latency p95 {report.latency_p95:.2f} s: frames queued somewhere"


def test_worker_node_lost_mid_run_cameras_resume_elsewhere(cluster, tmp_path):
    head_cluster, workers = cluster
    frames = long_clip(tmp_path / "long.mp4")
    events = []
    pipeline = ClusterPipeline([str(tmp_path / "long.mp4")] * 2, MODEL, prompts=CROSSING,
                               output=OutputOptions(record=str(tmp_path / "rec" / "cam.mp4")),
                               cluster=ClusterOptions(replica_cpus=0.5, camera_cpus=0.25, spares=1))
    pipeline.subscribe(events.append)
    try:
        pipeline.start()
        # wait until a camera on a worker node has recorded part of the clip; the victim: one whose
        # node does not also hold the spare actor when there is such a camera
        by_node = {w.node_id: w for w in workers}
        def recorded(i: int) -> bool:  # its first segment is on disk (what the restart must continue)
            path = tmp_path / "rec" / f"cam-cam{i + 1}.mp4"
            return path.exists() and path.stat().st_size > 0

        wait_for(lambda: any((r := pipeline.try_report(i)) is not None and r.node_id in by_node and r.frames >= 20
                             and recorded(i) for i in range(2)), 180, "a camera on a worker node")
        spare = pipeline.spare_nodes()
        on_workers = [r for r in map(pipeline.report, range(2)) if r.node_id in by_node and recorded(r.camera)]
        before = min(on_workers, key=lambda r: r.node_id in spare)
        victim = before.camera
        assert {o.object_id for o in before.objects} == {1, 2}
        head_cluster.remove_node(by_node[before.node_id], allow_graceful=False)
        lost = time.time()
        # the gateway keeps answering while the camera is away
        assert pipeline.status(victim).camera == victim
        after = wait_for(lambda: moved(r := pipeline.try_report(victim, timeout=0.5)) and r, 120,
                         "the camera running on another node")
        recovery = time.time() - lost
        assert after.runs == 2 and after.node_id != before.node_id
        assert pipeline.wait(timeout=300), "the cameras did not finish after the node loss"
        time.sleep(0.6)  # the last events reach the subscribers
    finally:
        pipeline.close()
        head_cluster.add_node(**NODE)  # the module's later tests keep three nodes
    final = pipeline.report(victim)
    steps = " ".join(f"{name} {t - lost:+.1f}" for name, t in after.startup)
    print(f"node-loss recovery: {recovery:.1f} s from the kill to the camera's first frame elsewhere "
          f"({'a fresh actor: the spare was on the lost node' if before.node_id in spare else 'the spare actor'}); "
          f"steps (s after the kill): {steps}")
    assert {o.object_id for o in final.objects} == {1, 2}, "the object ids did not survive the restart"
    restarted = [e for e in events if e.kind is EventKind.CAMERA_RESTARTED]
    assert [e.camera for e in restarted] == [victim]
    # the recording: the first run's file, then a new one; together every frame of the clip
    name = f"cam-cam{victim + 1}"
    segments = sorted((tmp_path / "rec").glob(f"{name}*.mp4"), key=lambda p: len(p.name))
    assert [p.name for p in segments] == [f"{name}.mp4", f"{name}-run02.mp4"]
    assert frames_in(segments) == frames
