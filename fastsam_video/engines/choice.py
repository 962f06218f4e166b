"""`--backend auto` on the CPU: ONNX Runtime, unless OpenVINO is measured faster on this CPU.

The measurement is short (a few forwards of each, alternated, at the run's input size) and is
kept in `<cache>/backend-choice.json`, keyed by the ONNX file's bytes, the input size, the CPU's
name, the cores this process has and both runtimes' versions: it runs once per model and machine.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from ..assets import cache_dir
from .export import cpu_cores, sha256_of

log = logging.getLogger(__name__)

ROUNDS, REPEATS = 3, 4  # alternated rounds of each backend; forwards per round
MARGIN = 1.05  # OpenVINO must be this much faster to be chosen (ONNX Runtime is the tested default)


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "none"


def choice_key(onnx_path: Path, imgsz: int) -> str:
    from .openvino import cpu_name

    return (f"{sha256_of(onnx_path)[:16]}|{imgsz}|{cpu_name()}|{cpu_cores()} cores|"
            f"openvino {version('openvino')}|onnxruntime {version('onnxruntime')}")


def measure(onnx_path: Path, imgsz: int) -> dict[str, float]:
    """Median forward ms of each backend on a (1, 3, imgsz, imgsz) input, alternated in one run."""
    from .onnxrt import onnx_session
    from .openvino import OpenVinoSegmenter

    x = np.random.default_rng(0).random((1, 3, imgsz, imgsz), dtype=np.float32)
    session = onnx_session(onnx_path)
    name = session.get_inputs()[0].name
    openvino = OpenVinoSegmenter(None, onnx_path=onnx_path, imgsz=imgsz, warmup=False)
    forwards = {"onnx": lambda: session.run(None, {name: x}), "openvino": lambda: openvino.forward(x)}
    times: dict[str, list[float]] = {k: [] for k in forwards}
    for f in forwards.values():  # first runs allocate and compile
        f()
    for _ in range(ROUNDS):
        for backend, f in forwards.items():
            for _ in range(REPEATS):
                start = time.perf_counter()
                f()
                times[backend].append((time.perf_counter() - start) * 1e3)
    return {k: statistics.median(v) for k, v in times.items()}


def faster_cpu_backend(onnx_path: Path, imgsz: int) -> tuple[str, str]:
    """("onnx" | "openvino", a note for the stats line such as "auto: openvino 2.1x onnx")."""
    from . import installed

    if not installed("openvino"):
        return "onnx", ""
    if not installed("onnxruntime"):
        return "openvino", ""
    store = cache_dir() / "backend-choice.json"
    key = choice_key(onnx_path, imgsz)
    try:
        known = json.loads(store.read_text())
    except (OSError, ValueError):
        known = {}
    ms = known.get(key)
    if not (isinstance(ms, dict) and {"onnx", "openvino"} <= ms.keys()):
        ms = measure(onnx_path, imgsz)
        known[key] = ms
        try:
            store.parent.mkdir(parents=True, exist_ok=True)
            tmp = store.with_name(f"{store.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(known, indent=1))
            os.replace(tmp, store)
        except OSError as err:  # a read-only cache: measured again next time
            log.info("cannot keep the backend choice in %s (%s)", store, err)
    speedup = ms["onnx"] / max(ms["openvino"], 1e-9)
    backend = "openvino" if speedup >= MARGIN else "onnx"
    log.info("backend auto: %s (forward %.1f ms onnx, %.1f ms openvino)", backend, ms["onnx"], ms["openvino"])
    return backend, f"auto: openvino {speedup:.1f}x onnx"
