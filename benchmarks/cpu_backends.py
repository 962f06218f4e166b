"""The CPU backends side by side (issue 25): ONNX Runtime FP32, OpenVINO FP32 and OpenVINO INT8.

Per input size: the median ms of the network alone (one 16:9 frame's letterboxed input) and of a
whole `segment` (letterbox + forward + numpy decoding), the three taking turns call by call;
then where OpenVINO spends its time (its per-layer performance counters, summed by layer type
and by execution precision) and the CPU's vector extensions (INT8 gains most with VNNI / AMX).
The INT8 model is the cached one (`fastsam-video quantize`; quantized now if there is none).

    nice .venv/bin/python benchmarks/cpu_backends.py
    nice .venv/bin/python benchmarks/cpu_backends.py --sizes 320 640 --repeat 30
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
    args = parser.parse_args()

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
        base = statistics.median(forward["onnxruntime fp32"])
        print(f"imgsz {imgsz} (input {x.shape[3]}x{x.shape[2]}), {args.repeat} rounds, median ms:")
        for name in engines:
            f = statistics.median(forward[name])
            print(f"  {name:<17} forward {f:6.2f}  ({base / f:4.2f}x onnxruntime)   segment "
                  f"{statistics.median(segment[name]):6.2f}")
        for name in ("openvino fp32", "openvino int8"):
            print(f"  profile {name}: {profile(engines[name], np.ascontiguousarray(x))}")


if __name__ == "__main__":
    main()
