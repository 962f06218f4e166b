"""The Ray path against the local pipeline, on this machine and the same model.

Prints: bytes per frame through the object store (a 1080p and a clip frame, at the model's
size), throughput of one file camera through the local `Pipeline` and through a one-node
Ray cluster (`ClusterPipeline`, --ray local), their ratio, per-frame costs for the sizing
table, and optionally (--node-loss) the recovery time when a worker node of a three-node
`ray.cluster_utils.Cluster` is killed (on its own: it starts its own cluster).

    nice .venv/bin/python benchmarks/cluster_bench.py                    # bundled model, 320
    nice .venv/bin/python benchmarks/cluster_bench.py --arch fastsam-s --imgsz 640 --frames 30
    nice .venv/bin/python benchmarks/cluster_bench.py --node-loss         # recovery time only
    nice .venv/bin/python benchmarks/cluster_bench.py --detect-every 3    # also the schedule on the actor
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only
# workers run this interpreter, not `uv run` in a copy of the project (Ray's default under `uv run`:
# every worker start, a restarted camera's included, then pays for a uv environment)
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a private cluster on 127.0.0.1
os.environ.setdefault("YOLO_VERBOSE", "False")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from fastsam_video.bench import architecture_checkpoint, machine  # noqa: E402
from fastsam_video.cluster import ClusterOptions, ClusterPipeline, connect  # noqa: E402
from fastsam_video.cluster.camera import model_input  # noqa: E402
from fastsam_video.cluster.model import split  # noqa: E402
from fastsam_video.engines.pytorch import Segmenter  # noqa: E402
from fastsam_video.options import ModelOptions, StreamOptions  # noqa: E402
from fastsam_video.pipeline import Pipeline  # noqa: E402
from fastsam_video.sources import open_source  # noqa: E402

CLIP = ROOT / "samples" / "clips" / "crossing" / "video.mp4"
LIVE = "lavfi:testsrc2=size=320x240:rate=30,realtime"


def object_store_bytes(segmenter: Segmenter) -> None:
    for name, frame in (("1080p", np.random.default_rng(0).integers(0, 255, (1080, 1920, 3), np.uint8)),
                        ("clip 320x240", open_source(str(CLIP)).read().image)):
        _, small = model_input(frame, segmenter.imgsz, segmenter.stride)
        out = split(segmenter.infer([small]))[0]
        print(f"bytes/frame {name:>13}: frame {frame.nbytes / 1e3:8.1f} kB -> to model {small.nbytes / 1e3:7.1f} kB"
              f" + from model {out.nbytes / 1e3:7.1f} kB (raw {out.raw.nbytes / 1e3:.1f} + proto "
              f"{out.proto.nbytes / 1e3:.1f})")


def local_fps(segmenter: Segmenter, source: str, frames: int) -> tuple[float, dict[str, float]]:
    times: list[float] = []
    pipeline = Pipeline(open_source(source), segmenter, max_frames=frames, on_result=lambda r: times.append(time.monotonic()))
    with pipeline:
        pipeline.wait()
    return (len(times) - 1) / (times[-1] - times[0]), dict(pipeline.stats.stage_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=["bundled", "fastsam-s"], default="bundled")
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--source", default=str(CLIP))
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--node-loss", action="store_true",
                        help="measure only the recovery from a killed worker node (three-node cluster)")
    parser.add_argument("--detect-every", type=int, default=None, metavar="K",
                        help="also the camera actor with the model on 1 frame in K against every frame, alternated")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="cluster-bench-"))
    model = None if args.arch == "bundled" else str(architecture_checkpoint(args.arch, folder))
    options = ModelOptions(model, imgsz=args.imgsz, device="cpu", backend=args.backend)
    segmenter = Segmenter(model, device="cpu", imgsz=args.imgsz, backend=args.backend)
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} | {machine()} | {segmenter!r}")
    object_store_bytes(segmenter)
    local, stages = local_fps(segmenter, args.source, args.frames)
    print(f"local pipeline: {local:.2f} fps | ms " + " ".join(f"{k} {v:.0f}" for k, v in stages.items()))
    del segmenter
    if args.node_loss:
        print(f"node loss: {node_loss(options):.1f} s from the kill to the camera's first frame elsewhere")
        return
    connect("local", num_cpus=os.cpu_count())
    with ClusterPipeline([args.source], options, StreamOptions(max_frames=args.frames),
                         cluster=ClusterOptions(replica_cpus=0.5)) as pipeline:
        pipeline.wait()
        status = pipeline.report(0)
    print(f"ray path (one node, 1 replica, 1 camera actor): {status.fps:.2f} fps, ratio {status.fps / local:.2f}x local;"
          f" latency p50 {status.latency_p50 * 1e3:.0f} ms; object store {status.bytes_to_model / 1e3:.1f} kB in +"
          f" {status.bytes_from_model / 1e3:.1f} kB out per frame")
    if args.detect_every:
        for k in (1, args.detect_every, 1, args.detect_every):  # alternated: the machine's load drifts
            stream = StreamOptions(max_frames=args.frames, detect_every=k, skip_still=False)
            with ClusterPipeline([args.source], options, stream, cluster=ClusterOptions(replica_cpus=0.5)) as pipeline:
                pipeline.wait()
                status = pipeline.report(0)
            modelled = status.frames if status.model_frames is None else status.model_frames
            print(f"ray path, --detect-every {k}: {status.fps:.2f} fps, model on {modelled}/{status.frames} frames")


def node_loss(options: ModelOptions) -> float:
    import ray
    from ray import serve
    from ray.cluster_utils import Cluster

    node = {"num_cpus": 1, "object_store_memory": 80 * 2**20}
    config = {"health_check_period_ms": 500, "health_check_failure_threshold": 3, "health_check_timeout_ms": 500}
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False,
                                                             "_system_config": config})
    workers = {cluster.add_node(**node).node_id: None for _ in range(2)}
    cluster.wait_for_nodes()
    connect(cluster.address)
    nodes = {n.node_id: n for n in cluster.worker_nodes}
    try:
        with ClusterPipeline([LIVE] * 2, options, cluster=ClusterOptions(replica_cpus=0.5)) as pipeline:
            victim = None
            while victim is None:
                victim = next((i for i in range(2) if (s := pipeline.try_report(i)) is not None
                               and s.node_id in workers and s.frames > 5), None)
                time.sleep(0.1)
            cluster.remove_node(nodes[pipeline.report(victim).node_id], allow_graceful=False)
            lost = time.time()
            while not ((s := pipeline.try_report(victim, timeout=0.5)) is not None and s.runs > 1 and s.frames > 0):
                time.sleep(0.05)
            print("restart steps, seconds after the kill: " + ", ".join(f"{name} {t - lost:+.1f}"
                                                                       for name, t in s.startup))
            return dict(s.startup)["first frame"] - lost
    finally:
        serve.shutdown()
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
