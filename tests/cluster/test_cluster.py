"""Cameras on a three-node Ray cluster on this machine (a head and two workers, fractional CPUs):
file cameras recorded without losing a frame, prompts reaching their camera, a live camera
dropping stale frames, and a worker node killed mid-run."""

from __future__ import annotations

import os
import time
from fractions import Fraction

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # every socket stays on 127.0.0.1
os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # loopback only: no token between test processes

import av  # noqa: E402
import pytest  # noqa: E402

ray = pytest.importorskip("ray", reason="the cluster extra is not installed (uv sync --extra cluster)")

from ray.cluster_utils import Cluster  # noqa: E402

from fastsam_video.cluster import ClusterPipeline, ModelOptions, connect  # noqa: E402
from fastsam_video.events import EventKind  # noqa: E402
from fastsam_video.tracker import ObjectPrompt, PromptSet  # noqa: E402

from ..conftest import SAMPLES  # noqa: E402

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]

CLIPS = sorted(SAMPLES.glob("clips/*/video.mp4"))
OPTIONS = ModelOptions(imgsz=320, device="cpu")
CROSSING = PromptSet(objects=(ObjectPrompt(1, points=((40.0, 70.0),), labels=(1,)),
                              ObjectPrompt(2, points=((280.0, 70.0),), labels=(1,))))
FRAMES = 20  # per file camera: enough to track, short for CI's 2 cores
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


def events_until(pipeline: ClusterPipeline, done, timeout: float) -> list:
    events, deadline = [], time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        events += pipeline.events()
        time.sleep(0.2)
    return events + pipeline.events()


def moved(status) -> bool:
    """The camera runs again after a restart (on another node) and has finished a frame there."""
    return status is not None and status.runs > 1 and status.frames > 0


def long_clip(path, repeats: int = 2):
    """The sample clip played `repeats` times in a row: a file camera that runs long enough to lose a node."""
    with av.open(str(CLIPS[0])) as src:
        frames = [f.to_ndarray(format="bgr24") for f in src.decode(src.streams.video[0])]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(30))
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        for image in frames * repeats:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return len(frames) * repeats


def test_four_file_cameras_lose_no_frame_and_prompts_reach_their_camera(cluster, tmp_path):
    clips = [CLIPS[1], CLIPS[0], CLIPS[2], CLIPS[3]]  # camera 2 sees the crossing objects
    pipeline = ClusterPipeline([str(c) for c in clips], OPTIONS, record=tmp_path, replica_cpus=0.5,
                               camera_cpus=0.25, max_frames=FRAMES).start()
    try:
        pipeline.set_prompts(CROSSING, camera=1)
        assert pipeline.wait(timeout=300), "the cameras did not finish in 300 s"
        events = pipeline.events()
    finally:
        pipeline.close()
    statuses = [pipeline.status(i) for i in range(4)]
    for status in statuses:
        assert status.frames == FRAMES and status.finished
        assert frames_in(status.segments) == FRAMES, f"{status.name}: frames lost from the recording"
        assert status.bytes_to_model == 320 * 240 * 3  # the frame at the network's size, nothing more
    assert len({s.node_id for s in statuses}) >= 2, "the cameras were not spread over the nodes"
    # the prompts went to camera 2 only
    assert {o.object_id for o in statuses[1].objects} == {1, 2}
    assert all(not s.objects for i, s in enumerate(statuses) if i != 1)
    added = [e for e in events if e.kind is EventKind.OBJECT_ADDED]
    assert added and {e.camera for e in added} == {1}
    assert sorted(e.camera for e in events if e.kind is EventKind.CAMERA_ENDED) == [0, 1, 2, 3]


def test_live_camera_drops_stale_frames_and_keeps_latency_bounded(cluster):
    # 120 fps offered, far more than the model keeps up with on this machine
    pipeline = ClusterPipeline(["lavfi:testsrc2=size=320x240:rate=120,realtime"], OPTIONS, replica_cpus=0.5).start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and ((status := pipeline.try_status(0)) is None or status.frames < 20):
            time.sleep(0.5)
    finally:
        pipeline.close()
    final = pipeline.status(0)
    assert status.frames >= 20
    assert final.dropped > final.frames, "a live camera must drop stale frames, not queue them"
    assert status.latency_p95 < 2.0, f"latency p95 {status.latency_p95:.2f} s: frames queued somewhere"


def test_worker_node_lost_mid_run_cameras_resume_elsewhere(cluster, tmp_path):
    head_cluster, workers = cluster
    frames = long_clip(tmp_path / "long.mp4")
    pipeline = ClusterPipeline([str(tmp_path / "long.mp4")] * 2, OPTIONS, CROSSING, record=tmp_path / "rec",
                               replica_cpus=0.5).start()
    try:
        # wait until a camera on a worker node has recorded part of the clip
        by_node = {w.node_id: w for w in workers}
        victim = None
        deadline = time.monotonic() + 180
        while victim is None and time.monotonic() < deadline:
            victim = next((i for i in range(2) if (s := pipeline.try_status(i)) is not None
                           and s.node_id in by_node and s.frames >= 20), None)
            time.sleep(0.2)
        assert victim is not None, "no camera ran on a worker node"
        before = pipeline.status(victim)
        assert {o.object_id for o in before.objects} == {1, 2}
        head_cluster.remove_node(by_node[before.node_id], allow_graceful=False)
        lost = time.monotonic()
        events = events_until(pipeline, lambda: moved(pipeline.try_status(victim)), timeout=120)
        recovery = time.monotonic() - lost
        after = pipeline.status(victim)
        assert after.runs == 2 and after.node_id != before.node_id
        assert pipeline.wait(timeout=300), "the cameras did not finish after the node loss"
        events += pipeline.events()
    finally:
        pipeline.close()
        head_cluster.add_node(**NODE)  # the module's later tests keep three nodes
    final = pipeline.status(victim)
    print(f"node-loss recovery: {recovery:.1f} s from the kill to the camera's first frame elsewhere")
    assert {o.object_id for o in final.objects} == {1, 2}, "the object ids did not survive the restart"
    restarted = [e for e in events if e.kind is EventKind.CAMERA_RESTARTED]
    assert [e.camera for e in restarted] == [victim]
    # the recording: the first run's segment(s), then a new segment; together every frame of the clip
    segments = sorted((tmp_path / "rec").glob(f"cam{victim + 1}-run*.mp4"))
    assert {p.name.split("-")[1] for p in segments} == {"run01", "run02"}
    assert frames_in(segments) == frames
