"""How long `fastsam-video run` takes to stop or to recover from each fault of issue 12.

Real processes, real signals, real files; a GStreamer RTSP server (tests/rtsp_server.py) for
the frozen cameras. Each scenario runs `--repeat` times and prints the median and the worst:

    baseline            `python -c "import fastsam_video.pipeline"` (torch, ultralytics, PyAV ...)
    usage error         `run x.mp4 --imgsz -5`: start to exit (status 2)
    set-up failure      `--record r.mp4 --export-coco notes.txt/c.json`: start to exit (status 2)
    corrupt checkpoint  `--model broken.pt --record r.mp4`: start to exit (status 2)
    SIGTERM             a live camera recording + COCO: signal to exit (143)
    SIGINT, ignored     started with SIGINT ignored (`cmd &`): signal to exit (130)
    SIGTERM, frozen     1 live + 3 frozen RTSP cameras + 1 unreachable: signal to exit (143)
    second signal       SIGTERM while a frozen camera blocks the stop, then SIGINT: to exit (130)
    frame-size change   the bundled model on the crossing clip, 2x larger from frame 30 (in process):
                        frames lost, and frames until the prompted objects are tracked again

    nice .venv/bin/python benchmarks/service_faults.py --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.rtsp_server import RtspServer, free_port, unavailable  # noqa: E402

LIVE = "lavfi:testsrc2=size=320x240:rate=30,realtime"
CLIP = ROOT / "samples" / "clips" / "crossing"


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "fastsam_video", *map(str, args)]


def to_exit(folder: Path, *args: str) -> tuple[float, int]:
    started = time.monotonic()
    result = subprocess.run(command(*args), cwd=folder, capture_output=True, timeout=300)
    return time.monotonic() - started, result.returncode


def signalled(folder: Path, args: list[str], signals: list[int], ready: Path, *, ignore_sigint: bool = False,
              before=None, gap: float = 1.0) -> tuple[float, int]:
    """Starts `run ...`, waits for `ready` to grow, sends `signals` `gap` s apart; seconds from
    the last signal to the exit, and the status."""
    process = subprocess.Popen(command("run", *args, "--no-window"), cwd=folder, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL,
                               preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint
                               else None)
    deadline = time.monotonic() + 300
    while not (ready.exists() and ready.stat().st_size > 20_000) and time.monotonic() < deadline:
        time.sleep(0.2)
    if before is not None:
        before()
    for index, signum in enumerate(signals):
        if index:
            time.sleep(gap)
        sent = time.monotonic()
        process.send_signal(signum)
    process.wait(timeout=120)
    return time.monotonic() - sent, process.returncode


def resize_recovery() -> str:
    """In process: frames lost at a 2x size change, frames until every object is tracked again."""
    import cv2

    from fastsam_video.engines.pytorch import Segmenter
    from fastsam_video.pipeline import Pipeline
    from fastsam_video.sources import FrameSource, open_source
    from fastsam_video.tracker import ObjectPrompt, PromptSet

    class Doubling(FrameSource):
        name, fps = "crossing, 2x from frame 30", 30.0

        def __init__(self) -> None:
            super().__init__(0)
            self.frames = [f.image for f in open_source(str(CLIP / "video.mp4"))]
            self.frame_count = len(self.frames)

        def _read_image(self):
            i = self._next_index
            if i >= len(self.frames):
                return None
            image = self.frames[i]
            if i >= 30:
                image = cv2.resize(image, (image.shape[1] * 2, image.shape[0] * 2))
            return image, i / self.fps

    spec = json.loads((CLIP / "prompts.json").read_text())
    ids = [o["id"] for o in spec["objects"]]
    prompts = PromptSet(tuple(ObjectPrompt(o["id"], points=(tuple(o["point"]),), labels=(1,)) for o in spec["objects"]))
    seen = []
    with Pipeline(Doubling(), Segmenter(device="cpu"), prompts, on_result=seen.append) as pipeline:
        pipeline.wait(300)
    after = [r for r in seen if r.frame.index >= 30]
    back = next((i for i, r in enumerate(after) if sorted(r.segmentation.object_ids.tolist()) == sorted(ids)), None)
    tracked_before = sorted(seen[29].segmentation.object_ids.tolist())
    return (f"{len(seen)} of 60 frames came out (lost {60 - len(seen)}); objects {tracked_before} at frame 29; "
            f"all {len(ids)} tracked again {back} frame(s) after the switch; "
            f"status frame size {pipeline.status(0).frame_size}, errors {pipeline.status(0).error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"fastsam-video service faults  ({time.strftime('%Y-%m-%d %H:%M')}, load {os.getloadavg()[0]:.1f}, "
          f"{os.cpu_count()} cores)")
    rows: dict[str, list[tuple[float, int]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "notes.txt").write_text("a file")
        (folder / "broken.pt").write_bytes(b"\x80\x02 not a checkpoint")
        video = str(CLIP / "video.mp4")
        server = None if unavailable() else RtspServer(fps=25, seconds=1200).start()
        for _ in range(args.repeat):
            for f in folder.glob("*.mp4"):
                f.unlink()
            started = time.monotonic()  # the floor under every set-up failure: loading the libraries
            subprocess.run([sys.executable, "-c", "import fastsam_video.pipeline"], cwd=ROOT, check=True)
            rows.setdefault("baseline: import the pipeline's libraries (start to exit)", []).append(
                (time.monotonic() - started, 0))
            rows.setdefault("usage error (start to exit)", []).append(to_exit(folder, "run", video, "--imgsz", "-5"))
            rows.setdefault("set-up failure (start to exit)", []).append(to_exit(
                folder, "run", LIVE, "--record", "r.mp4", "--export-coco", "notes.txt/c.json", "--no-window"))
            rows.setdefault("corrupt checkpoint (start to exit)", []).append(to_exit(
                folder, "run", video, "--model", "broken.pt", "--record", "r.mp4", "--no-window"))
            rows.setdefault("SIGTERM, live camera (signal to exit)", []).append(signalled(
                folder, [LIVE, "--record", "a.mp4", "--export-coco", "a.json"], [signal.SIGTERM], folder / "a.mp4"))
            rows.setdefault("SIGINT ignored at start (signal to exit)", []).append(signalled(
                folder, [LIVE, "--record", "b.mp4", "--export-coco", "b.json"], [signal.SIGINT], folder / "b.mp4",
                ignore_sigint=True))
            if server is not None:
                dead = f"rtsp://127.0.0.1:{free_port()}/x"
                rows.setdefault("SIGTERM, 3 frozen + 1 reconnecting + 1 live (signal to exit)", []).append(signalled(
                    folder, [LIVE, server.url(), server.url(), server.url(), dead, "--record", "c.mp4",
                             "--read-timeout", "3", "--open-timeout", "3"], [signal.SIGTERM], folder / "c-cam2.mp4",
                    before=lambda: (server.freeze(), time.sleep(1.0))))
                server.thaw()
                rows.setdefault("second signal while a frozen camera blocks (to exit)", []).append(signalled(
                    folder, [server.url(), "--record", "d.mp4", "--read-timeout", "8"],
                    [signal.SIGTERM, signal.SIGINT], folder / "d.mp4", before=server.freeze))
                server.thaw()
        if server is not None:
            server.close()
    for name, results in rows.items():
        seconds = [s for s, _ in results]
        print(f"{name:<65} median {statistics.median(seconds):5.2f} s  worst {max(seconds):5.2f} s  "
              f"status {sorted({code for _, code in results})}")
    print(f"frame-size change: {resize_recovery()}")


if __name__ == "__main__":
    main()
