"""When the model runs: still frames reuse the last result, --detect-every K runs it on every
K-th frame (the tracker carries the others), a new prompt or a lost object runs it at once."""

from __future__ import annotations

import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from fastsam_video.camera_bench import GeneratedCamera, run_cameras, scene_frames, score_detect_every
from fastsam_video.pipeline import Pipeline
from fastsam_video.schedule import CameraSchedule, ScheduleOptions
from fastsam_video.tracker import ObjectPrompt, PromptSet
from fastsam_video.types import Segmentation
from tests.conftest import ROOT, SAMPLES


def noisy(image: np.ndarray, rng: np.random.Generator, sigma: float = 3.0) -> np.ndarray:
    return np.clip(image + rng.normal(0, sigma, image.shape), 0, 255).astype(np.uint8)


def decide(schedule: CameraSchedule, image: np.ndarray, t: float, index: int = 0) -> bool:
    """One frame as the pipeline runs it: the decision, then the tracker's report (no objects)."""
    run = schedule.run_model(image, t)
    schedule.observe((), Segmentation.empty(*image.shape[:2]), index)
    return run


def test_a_still_noisy_scene_runs_the_model_once_a_refresh():
    still = scene_frames("still", 0)[0]
    rng = np.random.default_rng(0)
    schedule = CameraSchedule(ScheduleOptions(refresh_s=10.0), live=True)
    runs = [decide(schedule, noisy(still, rng), i / 5, i) for i in range(100)]  # 20 s at 5 fps
    assert [i for i, run in enumerate(runs) if run] == [0, 50]  # the first frame, and a refresh after 10 s


def test_motion_runs_the_model_and_detect_every_spaces_it():
    frames = scene_frames("moving", 1)
    skip_still = CameraSchedule(ScheduleOptions(), live=True)
    assert sum(decide(skip_still, f, i / 30, i) for i, f in enumerate(frames)) >= 0.9 * len(frames)
    every_3 = CameraSchedule(ScheduleOptions(detect_every=3, skip_still=False), live=True)
    # the tracker has nothing new, lost or fast
    assert [decide(every_3, f, i / 30, i) for i, f in enumerate(frames[:7])] == [1, 0, 0, 1, 0, 0, 1]
    every_3.request()  # a new prompt, a zone entry: at once
    assert decide(every_3, frames[7], 7 / 30, 7) and not decide(every_3, frames[8], 8 / 30, 8)


def test_a_small_object_starting_to_move_in_a_still_scene_is_seen():
    still = scene_frames("still", 0)[0].copy()
    rng = np.random.default_rng(1)
    schedule = CameraSchedule(ScheduleOptions(), live=True)
    assert decide(schedule, noisy(still, rng), 0.0)
    assert not any(decide(schedule, noisy(still, rng), i / 5, i) for i in range(1, 10))
    moved = still.copy()
    cv2.rectangle(moved, (150, 100), (162, 112), (20, 20, 230), -1)  # a 12 px object appears
    assert decide(schedule, noisy(moved, rng), 2.0, 10)


def reported(boxes, states=None):
    """The tracker's report on a frame: objects 1..N at `boxes`, TRACKED unless `states` says."""
    from fastsam_video.events import ObjectState
    from fastsam_video.tracker import ObjectStatus

    states = states or [ObjectState.TRACKED] * len(boxes)
    shown = [i for i, state in enumerate(states) if state.shown]
    seg = Segmentation.of(np.zeros((len(shown), 240, 320), bool), np.array([boxes[i] for i in shown], np.float32),
                          np.ones(len(shown), np.float32), object_ids=[i + 1 for i in shown])
    return tuple(ObjectStatus(i + 1, "points", state, 0) for i, state in enumerate(states)), seg


def runs_of(schedule: CameraSchedule, reports) -> list[bool]:
    frame = np.zeros((240, 320, 3), np.uint8)  # skip_still off: the picture does not matter
    runs = []
    for index, report in enumerate(reports):
        runs.append(schedule.run_model(frame, index / 30))
        schedule.observe(*report, index)
    return runs


def test_the_gap_between_model_runs_follows_what_the_tracker_reports():
    from fastsam_video.events import ObjectState

    every_5 = ScheduleOptions(detect_every=5, skip_still=False)
    slow = [reported([(10 + 2 * i, 10, 50 + 2 * i, 50)]) for i in range(11)]  # 0.05 of its size a frame
    assert runs_of(CameraSchedule(every_5, live=False), slow) == [1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0]  # new: twice
    # 0.25 of its size a frame: the model on every 2nd frame (no further than REACH between runs)
    fast = [reported([(10 + 10 * i, 10, 50 + 10 * i, 50)]) for i in range(9)]
    runs = runs_of(CameraSchedule(every_5, live=False), fast)
    assert runs == [1, 1, 0, 1, 0, 1, 0, 1, 0] and sum(runs) == 5  # counted: 5 model runs in 9 frames
    # lost: at once, then every 2nd frame while it is; found again: back to every 5th
    lost, tracked = ObjectState.LOST, ObjectState.TRACKED
    states = [tracked, tracked, lost, lost, lost, lost, lost, tracked, tracked, tracked, tracked, tracked]
    reports = [reported([(10, 10, 50, 50)], [state]) for state in states]
    assert runs_of(CameraSchedule(every_5, live=False), reports) == [1, 1, 0, 1, 0, 1, 0, 1, 1, 0, 0, 0]
    # partly hidden (occluded, or carried by propagation alone): every 3rd frame
    hidden = [reported([(10, 10, 50, 50)], [state]) for state in [tracked, tracked] + [ObjectState.OCCLUDED] * 6]
    assert runs_of(CameraSchedule(every_5, live=False), hidden) == [1, 1, 0, 0, 1, 0, 0, 1]


def test_a_carried_frame_is_decided_after_the_tracker_reported_on_the_last_one():
    """The inference thread runs ahead of the tracker: a loss reported on frame n must still put
    frame n + 1 through the model, not the frame after whatever was decided meanwhile."""
    import threading

    from fastsam_video.events import ObjectState

    schedule = CameraSchedule(ScheduleOptions(detect_every=5, skip_still=False), live=False)
    frame = np.zeros((240, 320, 3), np.uint8)
    for index in range(2):  # seen twice: its speed is known, the gap is 5
        schedule.run_model(frame, index / 30)
        schedule.observe(*reported([(10, 10, 50, 50)]), index)
    assert not schedule.run_model(frame, 2 / 30)
    late = threading.Timer(0.05, lambda: schedule.observe(*reported([(10, 10, 50, 50)], [ObjectState.LOST]), 2))
    late.start()
    assert schedule.run_model(frame, 3 / 30)  # waited for frame 2's report: lost, so the model at once
    late.join()


def test_files_run_every_frame_unless_asked_and_options_are_checked():
    assert not CameraSchedule(ScheduleOptions(), live=False).skip_still
    assert CameraSchedule(ScheduleOptions(), live=True).skip_still
    with pytest.raises(ValueError, match="detect_every: expected a positive integer, got 0"):
        ScheduleOptions(detect_every=0)


def test_a_still_camera_runs_the_model_on_a_small_fraction_of_its_frames(segmenter):
    """A live still camera through the real pipeline: every frame comes out, few go through the model."""
    run = run_cameras(segmenter, 1, "still", ScheduleOptions(), fps=20, seconds=3, warmup=0.5)
    assert run.rates[0] >= 0.9 * 20  # every frame has a result
    assert run.model_fraction <= 0.05


def test_detect_every_outputs_every_frame_and_counts_the_model_runs(tmp_path):
    clip = SAMPLES / "clips" / "crossing" / "video.mp4"
    masks = tmp_path / "masks"
    done = subprocess.run([sys.executable, "-m", "fastsam_video", "run", str(clip), "--detect-every", "3",
                           "--export-masks", str(masks), "--no-window", "--device", "cpu", "--backend", "onnx"],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    frames = int(cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FRAME_COUNT))
    assert len(list(masks.glob("*.png"))) == frames  # drawn, recorded and exported at the source rate
    line = [ln for ln in (done.stdout + done.stderr).splitlines() if "model on" in ln][-1]
    ran = int(line.split("model on ")[1].split("/")[0])
    assert frames / 3 <= ran < frames / 2, line  # every 3rd frame, plus re-searches for lost objects


def test_a_new_prompt_runs_the_model_at_once(segmenter):
    frames = scene_frames("moving", 0)
    camera = GeneratedCamera(frames, fps=15, seconds=3.0)
    pipeline = Pipeline([camera], segmenter, PromptSet(everything=True),
                        schedule=ScheduleOptions(detect_every=1000, skip_still=False))
    with pipeline:
        time.sleep(1.0)
        before = pipeline.channels[0].schedule.model_frames
        pipeline.set_prompts(PromptSet((ObjectPrompt(1, points=((160.0, 120.0),), labels=(1,)),)))
        time.sleep(0.5)
        after = pipeline.channels[0].schedule.model_frames
        pipeline.wait(5)
    assert before == 1 and after >= 2


def test_carried_frames_reach_result_observers_with_their_timings(segmenter):
    """Frames the model skipped still carry a timings dict: a server's result observers (metrics)
    read it on every frame, and an observer's error used to stop the pipeline silently."""
    from fastsam_video.synth import render_clip, sample_clips

    frames, labels, _ = render_clip(sample_clips()[0])
    ys, xs = np.nonzero(np.asarray(labels[0]) == 1)  # a point on object 1 of the first frame
    camera = GeneratedCamera(frames, fps=15, seconds=2.0)
    carried = []

    def observe(result):
        forward = result.segmentation.timings.get("forward")  # what the metrics read
        carried.append(forward is None and len(result.segmentation) > 0)

    pipeline = Pipeline([camera], segmenter, PromptSet(everything=True), on_result=observe,
                        schedule=ScheduleOptions(detect_every=3, skip_still=False))
    with pipeline:
        pipeline.set_prompts(PromptSet((ObjectPrompt(1, points=((float(xs.mean()), float(ys.mean())),),
                                                     labels=(1,)),)))
        pipeline.wait(10)
    assert len(carried) >= 20 and any(carried)  # 2 s at 15 fps, some frames carried by the tracker


def test_detect_every_3_keeps_j_near_every_frame_and_runs_the_model_on_fewer_frames(segmenter):
    """Two sample clips through the real pipeline: a fast object bouncing off the borders (the
    speed rule) and one that leaves the frame and comes back (lost, then found)."""
    clips = [SAMPLES / "clips" / name for name in ("fast", "exit_return")]
    every_frame, every_third = score_detect_every(segmenter, (1, 3), clips=clips)
    assert every_frame.model_fraction == 1.0 and 1 / 3 <= every_third.model_fraction <= 0.65, every_third
    assert every_frame.j > 0.85 and every_third.j >= every_frame.j - 0.03, (every_frame, every_third)


@pytest.mark.slow
def test_detect_every_3_is_scored_on_the_tracker_scenarios(segmenter):
    every_frame, every_third = score_detect_every(segmenter, (1, 3))  # the sample clips and the 12 scenarios
    # issue 25's target: J within 0.03 of every frame, on at most half the frames
    assert every_frame.j > 0.85 and every_third.j >= every_frame.j - 0.03, (every_frame, every_third)
    assert every_third.model_fraction <= 0.5, every_third


def test_an_object_sliding_behind_a_still_occluder_is_followed_on_carried_frames(segmenter, tmp_path):
    """The object passes behind a still pole: most of its frames are carried, and each carried mask
    is a little shorter than the last (the pole cuts one side). The carried box must not teach the
    motion model that the object shrinks and stops (it did: J fell from 0.96 to 0.83, the mask
    left behind at the pole while the object moved on)."""
    from fastsam_video.scenarios import tracking_scenarios
    from fastsam_video.synth import write_clip

    clip = next(c for c in tracking_scenarios() if c.name == "behind_still_missed")
    every_frame, every_third = score_detect_every(segmenter, (1, 3), clips=[write_clip(clip, tmp_path)], rounds=2)
    assert every_third.model_fraction <= 0.5, every_third
    assert every_frame.j > 0.9 and every_third.j >= every_frame.j - 0.03, (every_frame, every_third)
    assert [name for name, _ in every_third.clips] == ["behind_still_missed"]  # two rounds, one clip's J
