"""A camera actor's recording files: the name of each run's file (NAME-runNN.mp4 after a restart
on another node), its recorder, how many frames earlier runs' files hold (where a restarted
file camera resumes), and, on the driver, which files are open (what retention never deletes)."""

from __future__ import annotations

import os
from pathlib import Path

import av
import ray

from ..sinks import SegmentedRecorder, VideoRecorder


def recording_file(path: str | Path, run: int) -> Path:
    """The file a run records to: the one asked for, then NAME-run02.mp4, ... after restarts."""
    path = Path(path)
    return path if run == 1 else path.with_name(f"{path.stem}-run{run:02d}{path.suffix or '.mp4'}")


def open_recorder(path: str | Path, run: int, segment_seconds: float | None, fps: float, live: bool):
    """The recorder of a run; a segmented recording asked for a folder (`rec/`) goes to rec/rec-NNN.mp4."""
    if segment_seconds and (str(path).endswith(("/", os.sep)) or Path(path).is_dir()):
        path = Path(path) / "rec.mp4"
    target = recording_file(path, run)
    if segment_seconds:
        return SegmentedRecorder(target.with_name(f"{target.stem}-{{index:03d}}{target.suffix or '.mp4'}"),
                                 segment_seconds, fps_hint=fps, low_latency=live)
    return VideoRecorder(target, fps_hint=fps, low_latency=live)


def frames_recorded(paths: tuple[str, ...] | list[str]) -> int:
    """Frames held by recording files, a file cut short by a lost node included (its last
    fragment may be missing: fragments end at keyframes)."""
    total = 0
    for path in paths:
        if not Path(path).exists():
            continue
        try:
            with av.open(str(path)) as container:
                for packet in container.demux(container.streams.video[0]):
                    total += packet.size > 0
        except av.error.FFmpegError:  # truncated mid-fragment: what was read before counts
            pass
    return total


def files_open(actors: dict, reports: dict, timeout: float) -> set[Path]:
    """The files the camera `actors` ({camera: actor}) have open, each actor asked now (after the
    caller listed the folder: a segment that rolls meanwhile is a new file it did not list). One
    that does not answer within `timeout` (being moved to another node) counts with the file of
    its last report (`reports`)."""
    asked = {actor.file_being_written.remote(): camera for camera, actor in actors.items()}
    ready, _ = ray.wait(list(asked), num_returns=len(asked), timeout=timeout) if asked else ([], [])
    files, answered = set(), set()
    for ref in ready:
        try:
            path = ray.get(ref)
        except ray.exceptions.RayError:  # its actor or node is going away
            continue
        answered.add(asked[ref])
        if path is not None:
            files.add(Path(path))
    for camera in actors.keys() - answered:
        report = reports.get(camera)
        if report is not None and report.recording is not None:
            files.add(Path(report.recording))
    return files


def recorded_out_of_sight(report) -> bool:
    """The camera (a `CameraReport`) records to a file this machine cannot see: a node's own disk."""
    return (report.recording is not None and bool(report.segments) and not Path(report.recording).exists()
            and not Path(report.segments[-1]).exists())
