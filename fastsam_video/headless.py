"""The headless run loop of `run` and `demo`: until every source ends or a signal asks to stop,
a progress line for a file, periodic stats for live cameras, camera events in the log, then the
summary and the exit status (0, 1 when a camera or an output failed, 128 + the signal)."""

from __future__ import annotations

import logging
import sys
import time

from .service import GracefulStop

log = logging.getLogger("fastsam_video")


EVENT_LEVELS = {"camera_failed": logging.WARNING, "sink_failed": logging.WARNING, "camera_connected": logging.INFO,
                "camera_reconnecting": logging.INFO, "camera_resized": logging.INFO, "zone_entered": logging.INFO,
                "zone_left": logging.INFO, "line_crossed": logging.INFO, "loitering": logging.INFO}


def log_event(event) -> None:
    """Camera events in the log (object events at debug level)."""
    log.log(EVENT_LEVELS.get(event.kind.value, logging.DEBUG), "%s", event.message())


def run_headless(pipeline, stop: GracefulStop | None = None, log_every: float = 5.0,
                 started_at: float | None = None) -> int:
    """Runs until every source ends or a signal (SIGINT / SIGTERM) asks to stop; a progress line
    for files, periodic stats for live cameras, then a summary. The exit status: 0, 1 when a
    camera or an output failed while the others went on, 128 + the signal after one."""
    stop = stop or GracefulStop()
    tty = sys.stderr.isatty()
    started = last_log = time.monotonic()
    total = None
    pipeline.subscribe(log_event)
    with pipeline:
        ids = pipeline.camera_ids()
        while not pipeline.wait(0.2) and not stop.requested.is_set():
            now = time.monotonic()
            first = pipeline.status(ids[0])
            total = first.frames_expected
            if pipeline.max_frames:
                total = min(total, pipeline.max_frames) if total else pipeline.max_frames
            if len(ids) == 1 and total and not first.live:
                frames = first.stats.frames
                fps = frames / max(now - started, 1e-9)
                eta = (total - frames) / fps if fps > 0 else float("inf")
                line = f"{frames}/{total} frames  {fps:.1f} fps  eta {eta:.0f} s"
                if tty:
                    print(f"\r{line}   ", end="", file=sys.stderr, flush=True)
                elif now - last_log >= log_every:
                    log.info(line)
                    last_log = now
            elif now - last_log >= log_every:
                for camera in ids:
                    prefix = f"camera {camera + 1} ({pipeline.status(camera).name}): " if len(ids) > 1 else ""
                    log.info("%s%s", prefix, pipeline.status(camera).stats.line())
                last_log = now
        if tty and total:
            print(file=sys.stderr)
        if stop.requested.is_set():
            print(f"stopping ({stop.name}): finishing the recordings and exports...", file=sys.stderr, flush=True)
    return summary(pipeline, ids, time.monotonic() - started, stop,
                   started if started_at is None else started_at)


def summary(pipeline, ids: list[int], elapsed: float, stop: GracefulStop, started_at: float) -> int:
    """The final report; returns the exit status. `started_at`: when the process started (monotonic)."""
    statuses = [pipeline.status(camera) for camera in ids]
    frames = sum(s.stats.frames for s in statuses)
    first = statuses[0].stats
    modelled = [s.stats.model_frames for s in statuses if s.stats.model_frames is not None]
    log.info("%s: %d frames in %.1f s (%.1f fps), latency p50 %.0f ms p99 %.0f ms, dropped %d%s",
             f"stopped by {stop.name}" if stop.signal else "done", frames, elapsed, frames / max(elapsed, 1e-9),
             first.latency_p50 * 1e3, first.latency_p99 * 1e3, sum(s.stats.dropped for s in statuses),
             f", model on {sum(modelled)}/{frames} frames" if modelled else "")
    if first.first_result is not None:
        log.info("first frame %.2f s after start", first.first_result - started_at)
    faults = 0
    for status in statuses:
        who = f"camera {status.camera + 1} ({status.name}): " if len(ids) > 1 else ""
        for path in status.recorded:
            if path.exists():
                log.info("%srecording: %s", who, path)
        if status.error:
            log.warning("%sfailed: %s", who, status.error)
        for error in status.sink_errors:
            log.warning("%soutput failed: %s", who, error)
        faults += bool(status.error) + len(status.sink_errors)
    if stop.exit_code is not None:
        return stop.exit_code
    return 1 if faults else 0
