"""The driver's view of the cameras' recordings (no cluster needed): a camera recording to a
disk this machine cannot see is told apart from one in a shared folder, and a segmented recording
asked for a folder is written inside it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

pytest.importorskip("ray", reason="the cluster extra is not installed (uv sync --extra cluster)")

from fastsam_video.cluster.recording import open_recorder, recorded_out_of_sight  # noqa: E402


def test_a_recording_out_of_the_drivers_sight_is_told_apart(tmp_path):
    here = tmp_path / "cam-001.mp4"
    here.write_bytes(b"\0")
    elsewhere = "/nonexistent-node-disk/rec/cam-001.mp4"
    assert recorded_out_of_sight(SimpleNamespace(recording=elsewhere, segments=(elsewhere,)))
    assert not recorded_out_of_sight(SimpleNamespace(recording=str(here), segments=(str(here),)))
    # before its first frame (no segment yet) or not recording: nothing to say
    assert not recorded_out_of_sight(SimpleNamespace(recording=elsewhere, segments=()))
    assert not recorded_out_of_sight(SimpleNamespace(recording=None, segments=()))


def test_a_segmented_recording_asked_for_a_folder_goes_inside_it(tmp_path):
    folder = tmp_path / "rec"
    folder.mkdir()
    first, restarted = (open_recorder(f"{folder}/", run, 2.0, 10, live=False) for run in (1, 2))
    assert first.pattern == folder / "rec-{index:03d}.mp4"
    assert restarted.pattern == folder / "rec-run02-{index:03d}.mp4"
