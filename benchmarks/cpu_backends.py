"""The CPU backends side by side (issue 25): ONNX Runtime FP32 and OpenVINO FP32, INT8 and BF16
(BF16 only where the CPU has bf16 kernels: AMX or AVX-512 BF16).

Per input size: the median ms of the network alone (one 16:9 frame's letterboxed input) and of a
whole `segment` (letterbox + forward + numpy decoding), the three taking turns call by call;
then where OpenVINO spends its time (its per-layer performance counters, summed by layer type
and by execution precision) and the CPU's vector extensions (INT8 gains most with VNNI / AMX).
The INT8 model is the cached one (`fastsam-video quantize`; quantized now if there is none).

    nice .venv/bin/python benchmarks/cpu_backends.py
    nice .venv/bin/python benchmarks/cpu_backends.py --sizes 320 640 --repeat 30
    nice .venv/bin/python benchmarks/cpu_backends.py --alone   # each backend in a process of its own

In one process the libraries' thread pools get in each other's way (on 2 cores both forwards come
out slower than either alone); `--alone` runs each backend in its own process, the processes taking
turns (3 rounds), which is what a user's process sees.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cpu_flags() -> str:
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    wanted = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "amx_bf16")
    return " ".join(f"{f}{'+' if f in flags else '-'}" for f in wanted)


def profile(engine, x) -> str:
    """OpenVINO's per-layer counters for one inference, summed by layer type and precision."""
    import openvino as ov

    core = ov.Core()
    network = engine.network.clone()
    network.reshape({network.inputs[0].get_any_name(): list(x.shape)})
    request = core.compile_model(network, "CPU", {**engine.config, "PERF_COUNT": True}).create_infer_request()
    for _ in range(3):
        request.infer({0: x})
    by_type: dict[str, float] = collections.Counter()
    by_precision: dict[str, float] = collections.Counter()
    for info in request.profiling_info:
        us = info.real_time.total_seconds() * 1e6
        by_type[info.node_type] += us
        by_precision[info.exec_type.split("_")[-1]] += us
    total = sum(by_type.values())
    top = ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(by_type.items(), key=lambda kv: -kv[1])[:5])
    prec = ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(by_precision.items(), key=lambda kv: -kv[1])[:4])
    return f"{total / 1e3:.1f} ms in layers; by type: {top}; by kernel precision: {prec}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[320, 640])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--alone", action="store_true", help="each backend in a process of its own, in turns")
    parser.add_argument("--only", help=argparse.SUPPRESS)  # one backend, one size: prints its median ms
    args = parser.parse_args()
    if args.alone:
        return alone(args.sizes, args.repeat)

    import cv2
    import numpy as np

    from fastsam_video.assets import bundled_onnx
    from fastsam_video.decoding import letterbox_batch
    from fastsam_video.engines.onnxrt import OnnxSegmenter
    from fastsam_video.engines.openvino import OpenVinoSegmenter
    from fastsam_video.engines.quantize import quantized_model

    frame = cv2.resize(cv2.imread(str(ROOT / "samples" / "images" / "scene1.jpg")), (1280, 720))
    print(f"fastsam-video cpu_backends ({time.strftime('%Y-%m-%d %H:%M')}), CPU: {cpu_flags()}")
    for imgsz in args.sizes:
        int8_path = quantized_model(bundled_onnx(), imgsz)
        engines = {"onnxruntime fp32": OnnxSegmenter(imgsz=imgsz), "openvino fp32": OpenVinoSegmenter(imgsz=imgsz),
                   "openvino int8": OpenVinoSegmenter(imgsz=imgsz, ir_path=int8_path)}
        if "BF16" in engines["openvino fp32"].core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
            engines["openvino bf16"] = OpenVinoSegmenter(imgsz=imgsz, bf16=True)
        if args.only:
            engines = {args.only: engines[args.only]}
        x, _ = letterbox_batch([frame], imgsz, 32)
        forward = {k: [] for k in engines}
        segment = {k: [] for k in engines}
        for _ in range(args.repeat):
            for name, engine in engines.items():  # in turn: the shared machine's load hits all alike
                start = time.perf_counter()
                engine.forward(x)
                forward[name].append((time.perf_counter() - start) * 1e3)
                start = time.perf_counter()
                engine.segment(frame)
                segment[name].append((time.perf_counter() - start) * 1e3)
        if args.only:
            print(f"median-ms {statistics.median(forward[args.only]):.3f}")
            return
        base = statistics.median(forward["onnxruntime fp32"])
        print(f"imgsz {imgsz} (input {x.shape[3]}x{x.shape[2]}), {args.repeat} rounds, median ms:")
        for name in engines:
            f = statistics.median(forward[name])
            print(f"  {name:<17} forward {f:6.2f}  ({base / f:4.2f}x onnxruntime)   segment "
                  f"{statistics.median(segment[name]):6.2f}")
        for name in [n for n in engines if n.startswith("openvino")]:
            print(f"  profile {name}: {profile(engines[name], np.ascontiguousarray(x))}")


def alone(sizes: list[int], repeat: int, rounds: int = 3) -> None:
    import subprocess

    names = ["onnxruntime fp32", "openvino fp32", "openvino int8", "openvino bf16"]
    print(f"fastsam-video cpu_backends --alone ({time.strftime('%Y-%m-%d %H:%M')}), CPU: {cpu_flags()}")
    for imgsz in sizes:
        ms: dict[str, list[float]] = {n: [] for n in names}
        for _ in range(rounds):
            for name in names:
                done = subprocess.run([sys.executable, __file__, "--only", name, "--sizes", str(imgsz), "--repeat",
                                       str(repeat)], capture_output=True, text=True)
                lines = [ln for ln in done.stdout.splitlines() if ln.startswith("median-ms ")]
                if lines:
                    ms[name].append(float(lines[-1].split()[1]))
        base = statistics.median(ms[names[0]])
        print(f"imgsz {imgsz}, each backend alone, {rounds} rounds of {repeat} forwards, median ms:")
        for name, values in ms.items():
            if values:
                f = statistics.median(values)
                print(f"  {name:<17} forward {f:6.2f}  ({base / f:4.2f}x onnxruntime)   rounds "
                      + " ".join(f"{v:.1f}" for v in values))


if __name__ == "__main__":
    main()
