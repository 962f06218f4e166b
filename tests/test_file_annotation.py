"""Prompts on a later frame of a file, tracked forwards and backwards (issue 26), scored
against the generated clip's ground truth with the bundled model; the bounded mask store."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from fastsam_video.evaluate import score_sequence
from fastsam_video.file_annotation import annotate_file
from fastsam_video.frame_prompts import FramePrompt, PromptSchedule
from fastsam_video.mask_store import FrameStore, SpillStore, pack_segmentation, unpack_segmentation
from fastsam_video.prompts import masks_to_boxes
from fastsam_video.sinks import read_davis_png
from fastsam_video.synth import sample_clips, write_clip
from fastsam_video.tracker import ObjectPrompt
from fastsam_video.types import Segmentation

PROMPT_FRAME = 60


@pytest.fixture(scope="module")
def drift_100(tmp_path_factory):
    """The drifting object clip, 100 frames, and its ground truth."""
    clip = replace(next(c for c in sample_clips() if c.name == "drift"), frames=100)
    folder = write_clip(clip, tmp_path_factory.mktemp("clips"))
    truth = [read_davis_png(p) for p in sorted((folder / "Annotations").glob("*.png"))]
    return folder, truth


def inner_point(mask: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    k = int(np.argmin((xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2))
    return float(xs[k]), float(ys[k])


def run(folder, segmenter, schedule, **kwargs):
    labels: dict[int, np.ndarray] = {}
    report = annotate_file(str(folder / "video.mp4"), segmenter, schedule,
                           [lambda frame, seg: labels.__setitem__(frame.index, seg.label_map())], **kwargs)
    return report, [labels[k] for k in sorted(labels)]


@pytest.mark.parametrize("kind", ["point", "box"])
def test_an_object_prompted_only_at_frame_60_is_tracked_on_every_frame(drift_100, segmenter, kind, tmp_path):
    folder, truth = drift_100
    gt = truth[PROMPT_FRAME] == 1
    if kind == "point":
        prompt = ObjectPrompt(1, points=(inner_point(gt),), labels=(1,))
    else:
        prompt = ObjectPrompt(1, box=tuple(float(v) for v in masks_to_boxes(gt[None])[0]))
    # a small memory limit: most of the kept masks and frames go through the disk
    report, predicted = run(folder, segmenter, PromptSchedule((FramePrompt(PROMPT_FRAME, prompt),)),
                            memory_limit=200_000, spill_folder=tmp_path)
    assert len(predicted) == 100 and report.frames == 100
    assert report.backward_steps == PROMPT_FRAME + 1 and report.spilled_bytes > 0
    assert list(tmp_path.iterdir()) == []  # the spilled files are removed at the end
    score = score_sequence("drift_100", predicted, truth, report.seconds).objects[0]
    before = score_sequence("before", predicted[:PROMPT_FRAME], truth[:PROMPT_FRAME], 1.0).objects[0]
    print(f"{kind}: J {score.j:.3f} (frames 0-{PROMPT_FRAME - 1}: {before.j:.3f}), lost {score.frames_lost}")
    assert score.j >= 0.85 and before.j >= 0.85
    assert score.frames_lost <= 3 and score.id_switches == 0


def test_a_correction_of_a_wrong_first_prompt_is_tracked_back_to_it(drift_100, segmenter):
    """A box on the wrong thing at frame 0, corrected at frame 30: frames from 30 on hold the
    object (the forward pass), and so do frames 1-29 (the correction's backward pass: the wrong
    track never meets the corrected one, so it is replaced down to the first prompt)."""
    folder, truth = drift_100
    wrong = ObjectPrompt(1, box=(0.0, 0.0, 40.0, 40.0))  # the background's corner
    right = ObjectPrompt(1, points=(inner_point(truth[30] == 1),), labels=(1,))
    report, predicted = run(folder, segmenter, PromptSchedule((FramePrompt(0, wrong), FramePrompt(30, right))),
                            max_frames=50)
    assert len(predicted) == 50
    after = score_sequence("after", predicted[30:], truth[30:50], 1.0).objects[0]
    before = score_sequence("before", predicted[1:30], truth[1:30], 1.0).objects[0]
    print(f"J frames 1-29 {before.j:.3f}, 30-49 {after.j:.3f}; backward steps {report.backward_steps}")
    assert after.j >= 0.85 and before.j >= 0.85 and before.frames_lost <= 1
    assert report.backward_steps == 30  # frames 30 down to 1


def test_a_correction_that_agrees_with_the_track_keeps_it_and_stops_early(drift_100, segmenter):
    """A right prompt at frame 0 and a correction at frame 60 that picks the same object: walking
    back from 60 the two tracks agree at once, so the backward pass stops after a few frames and
    frames 0-99 keep J >= 0.85."""
    folder, truth = drift_100
    first = ObjectPrompt(1, points=(inner_point(truth[0] == 1),), labels=(1,))
    again = ObjectPrompt(1, box=tuple(float(v) for v in masks_to_boxes((truth[PROMPT_FRAME] == 1)[None])[0]))
    report, predicted = run(folder, segmenter, PromptSchedule((FramePrompt(0, first), FramePrompt(PROMPT_FRAME, again))))
    score = score_sequence("all", predicted, truth, report.seconds).objects[0]
    print(f"J {score.j:.3f}; backward steps {report.backward_steps}")
    assert score.j >= 0.85 and score.id_switches == 0
    assert report.backward_steps <= 5


def test_a_correction_re_runs_only_the_tracker_with_the_model_cache(drift_100, segmenter, tmp_path):
    """Tracking again after a correction reads the model's masks of the first run: the model does
    not run again, and the result equals a run from scratch."""
    folder, truth = drift_100
    calls = []

    class Counting:
        def segment(self, image):
            calls.append(1)
            return segmenter.segment(image)

    first = PromptSchedule((FramePrompt(0, ObjectPrompt(1, box=(0.0, 0.0, 40.0, 40.0))),))
    corrected = PromptSchedule(first.entries + (FramePrompt(20, ObjectPrompt(1, points=(inner_point(truth[20] == 1),),
                                                                          labels=(1,))),))
    with SpillStore(100_000, tmp_path) as store:
        cache = FrameStore(store)
        run(folder, Counting(), first, max_frames=30, model_cache=cache)
        assert len(calls) == 30
        _, cached = run(folder, Counting(), corrected, max_frames=30, model_cache=cache)
        assert len(calls) == 30  # no model call the second time
    _, fresh = run(folder, segmenter, corrected, max_frames=30)
    assert all(np.array_equal(a, b) for a, b in zip(cached, fresh))


def test_segmentations_round_trip_through_windows_and_the_disk(tmp_path):
    rng = np.random.default_rng(0)
    masks = np.zeros((3, 40, 50), bool)
    masks[0, 5:20, 3:30] = rng.random((15, 27)) > 0.5
    masks[1, 30:40, 40:50] = True
    seg = Segmentation.of(masks, masks_to_boxes(masks), [0.9, 0.8, 0.1], [4, 7, 9])
    back = unpack_segmentation(pack_segmentation(seg))
    assert np.array_equal(back.masks, seg.masks) and back.object_ids.tolist() == [4, 7, 9]
    assert np.allclose(back.boxes, seg.boxes) and np.allclose(back.scores, seg.scores)
    with SpillStore(memory_limit=len(pack_segmentation(seg)) + 10, folder=tmp_path) as store:
        frames = FrameStore(store, lossless=True)
        frames.put_segmentation("model", 0, seg)
        frames.put_segmentation("model", 1, seg)  # over the limit: to disk
        image = rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)
        frames.put_image(0, image)
        assert store.disk_bytes > 0 and store.memory_bytes <= store.memory_limit
        assert np.array_equal(frames.segmentation("model", 1).masks, seg.masks)
        assert np.array_equal(frames.image(0), image)  # lossless
        jpeg = FrameStore(store)
        smooth = np.repeat(np.arange(50, dtype=np.uint8)[None, :, None] * 4, 40, 0).repeat(3, 2)
        jpeg.put_image(1, smooth)
        assert np.abs(jpeg.image(1).astype(int) - smooth).mean() < 2
    assert list(tmp_path.iterdir()) == []


def test_the_kept_data_of_a_long_file_stays_under_the_memory_cap(tmp_path):
    """Five moving discs over 150 frames with prompts at frames 0, 40 and 120 (so the model's
    masks and the frames are kept up to 120): the bytes held in memory never pass the cap, the
    rest is on disk, and the masks and frames kept for the backward pass are dropped after it."""
    from fastsam_video.file_annotation import TwoPassTracker
    from fastsam_video.types import Frame

    h, w, limit = 120, 240, 150_000
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:h, :w]

    def discs(k: int) -> Segmentation:
        masks = np.stack([(xx - (20 + 40 * i + k * 0.3)) ** 2 + (yy - (20 + 20 * i)) ** 2 < 10 ** 2 for i in range(5)])
        return Segmentation.of(masks, masks_to_boxes(masks), [0.9] * 5)

    def frames():
        for k in range(150):
            image = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)  # noise: JPEG keeps it large
            yield Frame(image, k, float(k) / 30, float(k) / 30)
            held = sum(len(v) for v in tracker.store.store._memory.values())
            assert held == tracker.store.store.memory_bytes <= limit

    boxes = {i: tuple(float(v) for v in discs(f).boxes[i]) for i, f in ((0, 0), (1, 40), (2, 120))}
    schedule = PromptSchedule(tuple(FramePrompt(f, ObjectPrompt(i + 1, box=boxes[i])) for i, f in ((0, 0), (1, 40), (2, 120))))
    tracker = TwoPassTracker(schedule, memory_limit=limit, spill_folder=tmp_path)
    try:
        counter = itertools.count()
        tracker.forward(frames(), lambda image: discs(next(counter)))
        assert tracker.store.store.disk_bytes > 10 * limit  # most of it went to disk
        assert tracker.backward() == 121 + 41
        assert not [key for key in [*tracker.store.store._memory, *tracker.store.store._files] if key[0] in ("model", "image")]
        assert tracker.store.store.memory_bytes <= limit
        assert set(tracker.result(80).object_ids.tolist()) == {1, 2, 3}  # 3 backwards from 120
    finally:
        tracker.close()
    assert list(tmp_path.iterdir()) == []

