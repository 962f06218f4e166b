"""The file player's core without Qt (issue 26): a correction on a later frame shows at once over
the tracked result, and tracking again re-runs the tracker passes it affects (backwards from the
correction too) on the model's masks of the first run, scored against ground truth."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fastsam_video.evaluate import score_sequence
from fastsam_video.file_review import FileReview
from fastsam_video.sinks import read_davis_png
from fastsam_video.synth import sample_clips, write_clip

FRAMES = 40


@pytest.fixture(scope="module")
def drift(tmp_path_factory):
    clip = replace(next(c for c in sample_clips() if c.name == "drift"), frames=FRAMES)
    folder = write_clip(clip, tmp_path_factory.mktemp("clips"))
    truth = [read_davis_png(p) for p in sorted((folder / "Annotations").glob("*.png"))]
    return folder / "video.mp4", truth


def inner_point(mask: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    k = int(np.argmin((xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2))
    return float(xs[k]), float(ys[k])


def test_a_correction_shows_at_once_and_tracking_again_fixes_the_frames_before_it(drift, segmenter, tmp_path):
    path, truth = drift
    calls = []

    class Counting:
        def segment(self, image):
            calls.append(1)
            return segmenter.segment(image)

    review = FileReview(path, Counting(), memory_limit=50_000, spill_folder=tmp_path)
    try:
        review.go(0)
        background = np.argwhere(truth[0] == 0)[0]  # a wrong first prompt: the background's corner
        review.click(float(background[1]), float(background[0]))
        review.track()
        model_calls = len(calls)
        wrong = review.tracked(10)
        assert not review.stale and wrong is not None

        review.go(25)
        review.click(*inner_point(truth[25] == 1), object_id=1)  # the correction, on frame 25
        assert review.stale and len(review.entries) == 2
        shown = review.selected()
        assert shown.object_ids.tolist() == [1]  # the corrected mask, at once
        assert (shown.masks[0] & (truth[25] == 1)).sum() / (shown.masks[0] | (truth[25] == 1)).sum() > 0.8
        assert review.tracked(10) is not None  # the earlier result stays shown until tracking again

        calls.clear()
        review.track()
        assert not calls  # the model ran on no frame again
        labels = [review.tracked(k).label_map() for k in range(FRAMES)]
        before = score_sequence("before", labels[1:25], truth[1:25], 1.0).objects[0]
        after = score_sequence("after", labels[25:], truth[25:], 1.0).objects[0]
        print(f"model calls first {model_calls}, again {len(calls)}; J 1-24 {before.j:.3f}, 25-{FRAMES - 1} {after.j:.3f}")
        assert before.j >= 0.85 and after.j >= 0.85
        assert store_files(tmp_path)  # the kept masks went past the memory limit to disk
    finally:
        review.close()
    assert not store_files(tmp_path)  # and are removed on close


def store_files(folder) -> list:
    return [p for p in folder.rglob("*") if p.is_file()]
