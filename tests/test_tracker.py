"""Tracked objects through motion, occlusion, crossings; state changes; assignment."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fastsam_video.events import EventKind
from fastsam_video.evaluate import evaluate_clip
from fastsam_video.prompts import masks_to_boxes
from fastsam_video.synth import render_clip, sample_clips
from fastsam_video.tracking import (ObjectPrompt, Patch, PromptSet, PromptTracker, TrackerConfig, intersection,
                                   linear_assignment, overlap, paste, patch_union)
from fastsam_video.types import PromptError, Segmentation

from .conftest import SAMPLES

SHAPE = (60, 80)


def square(x, y, size=10):
    return (x, y, x + size, y + size)


def frame_with(*rects, colours=None):
    """An image with coloured squares and the oracle segmentation of them."""
    image = np.full((*SHAPE, 3), 90, np.uint8)
    masks = np.zeros((len(rects), *SHAPE), dtype=bool)
    for i, (x1, y1, x2, y2) in enumerate(rects):
        masks[i, max(y1, 0):y2, max(x1, 0):x2] = True
        image[masks[i]] = (colours or [(40, 40, 220)] * len(rects))[i]
    seg = Segmentation.of(masks, masks_to_boxes(masks), np.ones(len(rects)))
    return seg, image


def step(tracker, index, *rects, colours=None):
    seg, image = frame_with(*rects, colours=colours)
    return tracker.update(seg, image, index, index / 30)


def states(result):
    return {o.object_id: o.state for o in result.objects}


def test_point_prompt_follows_a_moving_object_with_the_same_id():
    tracker = PromptTracker()
    tracker.set_prompts(PromptSet((ObjectPrompt(1, points=((15, 15),), labels=(1,)),)))
    for i in range(20):
        result = step(tracker, i, square(10 + 2 * i, 10 + i // 2))
        assert result.segmentation.object_ids.tolist() == [1]
        assert result.segmentation.masks[0, 15 + i // 2, 15 + 2 * i]


def test_state_changes_tracked_lost_reacquired_removed():
    tracker = PromptTracker(TrackerConfig(max_lost_seconds=10))
    tracker.set_prompts(PromptSet((ObjectPrompt(1, box=square(20, 20)),)))
    assert states(step(tracker, 0, square(20, 20))) == {1: "tracked"}
    lost = step(tracker, 1)  # gone from the frame
    assert states(lost) == {1: "lost"} and len(lost.segmentation) == 0
    assert [o.object_id for o in lost.lost] == [1]  # drawn as lost, not as a current mask
    back = step(tracker, 4, square(24, 22))
    assert states(back) == {1: "tracked"} and any(e.kind is EventKind.OBJECT_REACQUIRED for e in back.events)
    tracker.set_prompts(tracker.prompts.remove(1))
    removed = step(tracker, 5, square(24, 22))
    assert removed.objects == () and any(e.kind is EventKind.OBJECT_REMOVED for e in removed.events)


def test_lost_object_is_dropped_after_the_configured_time():
    tracker = PromptTracker(TrackerConfig(max_lost_seconds=0.5))
    tracker.set_prompts(PromptSet((ObjectPrompt(1, box=square(20, 20)),)))
    step(tracker, 0, square(20, 20))
    step(tracker, 1)
    result = step(tracker, 30)  # one second later
    assert result.objects == () and any(e.kind is EventKind.OBJECT_DROPPED for e in result.events)


def test_adding_an_object_mid_stream_leaves_the_others_alone():
    tracker = PromptTracker()
    tracker.set_prompts(PromptSet((ObjectPrompt(1, points=((15, 15),), labels=(1,)),)))
    step(tracker, 0, square(10, 10), square(50, 30))
    tracker.set_prompts(tracker.prompts.add(ObjectPrompt(2, points=((55, 35),), labels=(1,))))
    result = step(tracker, 1, square(11, 10), square(51, 30))
    assert sorted(result.segmentation.object_ids.tolist()) == [1, 2]
    assert any((e.kind, e.object_id) == (EventKind.OBJECT_ADDED, 2) for e in result.events)
    assert not any(e.object_id == 1 for e in result.events)


def test_two_objects_competing_for_one_mask_do_not_share_it():
    tracker = PromptTracker()
    tracker.set_prompts(PromptSet((ObjectPrompt(1, box=square(10, 10)), ObjectPrompt(2, box=square(14, 10)))))
    step(tracker, 0, square(10, 10), square(14, 10, 11))
    events = []
    for i in range(1, 12):
        result = step(tracker, i, square(11, 10, 12))  # one merged mask where both were
        masks = result.segmentation.masks
        assert not (masks.sum(0) > 1).any()  # never both on one pixel
        events += [(i, e.kind) for e in result.events]
    # one is hidden behind the other: bridged for a moment like a crossing, then lost, once
    assert len(events) <= 1 and all(i > 6 and kind is EventKind.OBJECT_LOST for i, kind in events)


def test_prompt_on_empty_background_says_nothing_is_there():
    tracker = PromptTracker()
    tracker.set_prompts(PromptSet((ObjectPrompt(1, points=((70, 55),), labels=(1,)),)))
    result = step(tracker, 0, square(10, 10))
    assert result.objects == () and len(result.segmentation) == 0
    assert [(e.kind, e.object_id, e.message()) for e in result.events] == [
        (EventKind.OBJECT_NOT_FOUND, 1, "object 1: nothing found under the points prompt")]
    assert step(tracker, 1, square(10, 10)).events == ()  # said once, not every frame


def test_background_point_keeps_excluding_what_it_excluded():
    tracker = PromptTracker()
    # fg on the left square, bg on the right one that touches it
    tracker.set_prompts(PromptSet((ObjectPrompt(1, points=((12, 12), (25, 12)), labels=(1, 0)),)))
    first = step(tracker, 0, square(10, 8), square(20, 8))
    assert first.segmentation.masks[0, 12, 12] and not first.segmentation.masks[0, 12, 25]
    for i in range(1, 6):
        result = step(tracker, i, square(10 + i, 8), square(20 + i, 8))
        assert not result.segmentation.masks[0, 12, 25 + i]


def test_object_prompt_validation():
    with pytest.raises(PromptError, match="exactly one of"):
        ObjectPrompt(1)
    with pytest.raises(PromptError, match="foreground"):
        ObjectPrompt(1, points=((1, 1),), labels=(0,))
    with pytest.raises(PromptError, match="start at 1"):
        ObjectPrompt(0, box=(0, 0, 5, 5))


def test_linear_assignment_is_optimal():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n, m = int(rng.integers(1, 6)), int(rng.integers(1, 7))
        cost = rng.random((n, m))
        rows, cols = linear_assignment(cost)
        k = min(n, m)
        assert len(set(rows.tolist())) == len(set(cols.tolist())) == k
        best = min(sum(cost[r, c] for r, c in zip(rs, cs))
                   for rs in itertools.combinations(range(n), k) for cs in itertools.permutations(range(m), k))
        assert cost[rows, cols].sum() == pytest.approx(best)


def test_windowed_masks_agree_with_whole_frame_masks():
    """Patches (a mask as its window) give what the same operations on whole frames give."""
    rng = np.random.default_rng(1)
    h, w = 30, 40

    def whole(patch):
        return paste([patch], h, w)[0]

    for _ in range(100):
        masks = [np.zeros((h, w), bool) for _ in range(3)]
        for m in masks:
            y, x = rng.integers(0, h - 2), rng.integers(0, w - 2)
            m[y:y + rng.integers(1, 12), x:x + rng.integers(1, 12)] = rng.random() < 0.9
            m[rng.integers(0, h), rng.integers(0, w)] = True
        a, b, c = (Patch.of_mask(m) for m in masks)
        assert (whole(a) == masks[0]).all() and a.area == masks[0].sum()
        assert overlap(a, b) == (masks[0] & masks[1]).sum()
        assert (whole(intersection(a, b)) == (masks[0] & masks[1])).all()
        assert (whole(patch_union([a, b, c])) == (masks[0] | masks[1] | masks[2])).all()
        dy, dx = (int(v) for v in rng.integers(-15, 15, 2))
        moved = np.zeros((h, w), bool)  # what leaves the frame is gone
        moved[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
            masks[0][max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
        assert (whole(a.moved(dy, dx).clipped(h, w)) == moved).all()
        ys, xs = np.nonzero(masks[0])
        assert a.box().tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def test_memory_per_object_stays_bounded():
    tracker = PromptTracker()
    tracker.set_prompts(PromptSet((ObjectPrompt(1, box=square(10, 10)),)))
    for i in range(200):
        step(tracker, i, square(10 + (i % 40), 10))
    obj = tracker.objects[1]
    assert obj.descriptor.size == 216 and obj.mask.pixels.size <= SHAPE[0] * SHAPE[1]
    assert obj.mask.pixels.size <= 12 * 12 and obj.full_mask.pixels.size <= 12 * 12  # windows, not frames
    assert obj.mask.pixels.base is None or obj.mask.pixels.base.size <= 12 * 12  # not a view of a frame


@pytest.mark.parametrize("clip", [c.name for c in sample_clips()])
def test_sample_clips_with_oracle_masks_keep_ids(clip):
    """The tracker's own logic, on ground-truth masks of every shape: no id switch, quick
    re-acquisition; the model-driven numbers are in the eval benchmark."""
    spec = next(c for c in sample_clips() if c.name == clip)
    _, _, instances = render_clip(spec)

    def oracle(image, index):
        inst = instances[index]
        ids = [v for v in np.unique(inst) if v]
        masks = np.stack([inst == v for v in ids]) if ids else np.zeros((0, *inst.shape), dtype=bool)
        return Segmentation.of(masks, masks_to_boxes(masks), np.ones(len(ids)))

    score = evaluate_clip(SAMPLES / "clips" / clip, oracle)
    assert score.jf >= 0.9
    assert sum(o.id_switches for o in score.objects) == 0
    assert all(r <= 5 for o in score.objects for r in o.reacquire_frames)


def test_an_image_that_is_not_the_frame_of_the_segmentation_is_a_clear_error():
    tracker = PromptTracker()
    seg, image = frame_with(square(10, 10))
    with pytest.raises(ValueError, match=r"expected a \(60, 80, 3\) uint8 numpy array .* got ndarray \(30, 40, 3\)"):
        tracker.update(seg, image[::2, ::2], 0, 0.0)
    with pytest.raises(ValueError, match="got list"):
        tracker.update(seg, image.tolist(), 0, 0.0)


def test_text_prompt_without_clip_is_rejected_and_the_stream_goes_on():
    from fastsam_video.types import WeightsError

    def no_clip():
        raise WeightsError("CLIP weights ViT-B-32.pt are not in weights/")

    tracker = PromptTracker(text_encoder=no_clip)
    tracker.set_prompts(PromptSet((ObjectPrompt(1, box=square(10, 10)), ObjectPrompt(2, text="a dog"))))
    result = step(tracker, 0, square(10, 10))
    assert [o.object_id for o in result.objects] == [1]
    assert any(e.kind is EventKind.OBJECT_REJECTED and e.message().startswith("object 2: CLIP weights")
               for e in result.events)
    assert step(tracker, 1, square(11, 10)).objects[0].state == "tracked"


# ---------------------------------------------------------------- partial occlusion and missed frames

RED, BLUE = (40, 40, 220), (220, 120, 30)


def frame_of(painted, detected, shape=SHAPE):
    """An image with `painted` [(rect, colour)] drawn back to front, and a segmentation holding
    only the `detected` rects (the model's output, which may miss or split things)."""
    image = np.full((*shape, 3), 90, np.uint8)
    for (x1, y1, x2, y2), colour in painted:
        image[max(y1, 0):y2, max(x1, 0):x2] = colour
    masks = np.zeros((len(detected), *shape), dtype=bool)
    for i, (x1, y1, x2, y2) in enumerate(detected):
        masks[i, max(y1, 0):y2, max(x1, 0):x2] = True
    seg = Segmentation.of(masks, masks_to_boxes(masks), np.ones(len(detected)))
    return seg, image


def wide_tracker(frames=4):
    """A wide red object (x 10..50, y 20..34) tracked for a few frames, still."""
    tracker = PromptTracker()
    tracker.set_prompts(PromptSet((ObjectPrompt(1, box=(10, 20, 50, 34)),)))
    for i in range(frames):
        tracker.update(*frame_of([((10, 20, 50, 34), RED)], [(10, 20, 50, 34)]), i, i / 30)
    return tracker


def test_object_split_by_an_occluder_keeps_the_union_of_its_pieces():
    tracker = wide_tracker()
    pole = (26, 0, 34, 60)  # in front, taller than the object: it splits it in two
    for i in range(4, 10):
        result = tracker.update(*frame_of([((10, 20, 50, 34), RED), (pole, BLUE)],
                                          [(10, 20, 26, 34), pole, (34, 20, 50, 34)]), i, i / 30)
        assert states(result) == {1: "occluded"} and result.events == ()
        mask = result.segmentation.masks[0]
        assert mask[20:34, 10:26].all() and mask[20:34, 34:50].all()  # both pieces
        assert not mask[:, 26:34].any()  # never the occluder
    back = tracker.update(*frame_of([((10, 20, 50, 34), RED)], [(10, 20, 50, 34)]), 10, 10 / 30)
    assert states(back) == {1: "tracked"} and back.events == ()


def test_a_small_visible_piece_of_another_colour_is_not_taken():
    tracker = wide_tracker()
    blob = (28, 24, 34, 30)  # a different-coloured thing in front, inside the object's outline
    around = [(10, 20, 50, 24), (10, 30, 50, 34), (10, 24, 28, 30), (34, 24, 50, 30)]  # the object, in pieces
    result = tracker.update(*frame_of([((10, 20, 50, 34), RED), (blob, BLUE)], around + [blob]), 4, 4 / 30)
    assert result.segmentation.object_ids.tolist() == [1]
    mask = result.segmentation.masks[0]
    assert not mask[24:30, 28:34].any() and int(mask.sum()) == 40 * 14 - 36


def test_missed_for_two_frames_the_mask_is_carried_without_events():
    tracker = PromptTracker()
    tracker.set_prompts(PromptSet((ObjectPrompt(1, box=square(10, 20)),)))
    for i in range(6):  # moving right 2 px a frame
        tracker.update(*frame_of([(square(10 + 2 * i, 20), RED)], [square(10 + 2 * i, 20)]), i, i / 30)
    for i in (6, 7):  # still in the picture, but the model misses it
        result = tracker.update(*frame_of([(square(10 + 2 * i, 20), RED)], []), i, i / 30)
        assert states(result) == {1: "predicted"} and result.events == () and result.lost == ()
        mask = result.segmentation.masks[0]
        assert abs(int(mask.sum()) - 100) <= 20 and mask[25, 15 + 2 * i]  # moved with the object
    back = tracker.update(*frame_of([(square(26, 20), RED)], [square(26, 20)]), 8, 8 / 30)
    assert states(back) == {1: "tracked"} and back.events == ()


BIG = (120, 160)


def big_frame(painted, detected):
    """frame_of on a 120 x 160 frame (room to move for a long time)."""
    return frame_of(painted, detected, BIG)


def test_missed_for_sixty_frames_while_visible_it_is_carried_by_its_own_mask():
    """The model misses a moving object for 60 frames: no cap, no event, the mask follows it."""
    tracker = PromptTracker()
    tracker.set_prompts(PromptSet((ObjectPrompt(1, box=square(10, 40, 20)),)))
    for i in range(4):
        rect = square(10 + i, 40, 20)
        tracker.update(*big_frame([(rect, RED)], [rect]), i, i / 30)
    for i in range(4, 64):
        rect = square(10 + 2 * i - 4, 40 + (i - 4) // 4, 20)  # it speeds up and turns down: not the motion model's
        result = tracker.update(*big_frame([(rect, RED)], []), i, i / 30)
        assert states(result) == {1: "predicted"} and result.events == (), i
        truth = np.zeros(BIG, bool)
        truth[rect[1]:rect[3], rect[0]:rect[2]] = True
        mask = result.segmentation.masks[0]
        assert (mask & truth).sum() / (mask | truth).sum() > 0.75, i
    back = tracker.update(*big_frame([(rect, RED)], [rect]), 64, 64 / 30)
    assert states(back) == {1: "tracked"} and back.events == ()


def test_hidden_wholly_it_becomes_lost_once_and_comes_back_with_its_id():
    tracker = PromptTracker()
    tracker.set_prompts(PromptSet((ObjectPrompt(1, box=square(30, 40, 20)),)))
    wall = (60, 0, 110, 120)  # a blue wall in front; the model sees only the wall
    seen = []
    for i in range(50):
        rect = square(30 + 2 * i, 40, 20)
        visible = [(rect[0], 40, min(rect[2], wall[0]), 60)] if rect[0] < wall[0] else []
        visible += [(max(rect[0], wall[2]), 40, rect[2], 60)] if rect[2] > wall[2] else []
        result = tracker.update(*big_frame([(rect, RED), (wall, BLUE)], visible + [wall]), i, i / 30)
        seen.append((states(result)[1], [e.kind for e in result.events]))
    kinds = [k for _, ks in seen[1:] for k in ks]
    assert kinds == [EventKind.OBJECT_LOST, EventKind.OBJECT_REACQUIRED]
    assert seen[-1][0] == "tracked"
    assert all(state != "lost" for state, _ in seen[:12])  # still partly in view: kept


def test_frames_the_model_skipped_are_carried_by_propagation_and_are_no_miss():
    """update(None, ...): the model did not run. Objects follow by their own masks; an object
    that is gone is not declared lost on such frames (no events), only on the next model frame."""
    tracker = PromptTracker()
    tracker.set_prompts(PromptSet((ObjectPrompt(1, box=square(10, 40, 20)),)))
    for i in range(20):
        rect = square(10 + 3 * i, 40, 20)
        seg, image = big_frame([(rect, RED)], [rect])
        result = tracker.update(seg if i % 3 == 0 else None, image, i, i / 30)
        assert states(result) == {1: "tracked"} and result.events == (() if i else result.events)
        assert result.pts == i / 30 and result.frame_index == i
        mask = result.segmentation.masks[0]
        assert mask[50, rect[0] + 10] and not mask[50, max(rect[0] - 4, 0)], i
    empty = big_frame([], [])[1]
    for i in range(20, 24):  # gone, but the model is not running
        result = tracker.update(None, empty, i, i / 30)
        assert result.events == () and states(result) == {1: "tracked"}
    result = tracker.update(Segmentation.empty(*BIG), empty, 24, 24 / 30)
    assert states(result) == {1: "lost"} and [e.kind for e in result.events] == [EventKind.OBJECT_LOST]
    with pytest.raises(ValueError, match="expected a"):
        tracker.update(None, empty[..., 0], 25, 25 / 30)


def test_an_object_hidden_behind_another_one_is_not_predicted_onto_it():
    tracker = PromptTracker()
    tracker.set_prompts(PromptSet((ObjectPrompt(1, box=square(10, 20)), ObjectPrompt(2, box=square(40, 20)))))
    tracker.update(*frame_of([(square(10, 20), RED), (square(40, 20), RED)],
                             [square(10, 20), square(40, 20)]), 0, 0.0)
    # object 2 jumps in front of object 1 (same colour): object 1 is gone, not carried onto 2
    result = tracker.update(*frame_of([(square(10, 20), RED), (square(10, 20), RED)], [square(10, 20)]), 1, 1 / 30)
    ids = result.segmentation.object_ids.tolist()
    assert ids.count(1) + ids.count(2) <= 1 and len(ids) <= 1


def test_a_point_added_to_a_moving_object_corrects_its_mask_and_keeps_its_motion():
    """Refinement: a background point on a leak (the model joined a neighbour to the object)
    makes the object the corrected selection from that frame on, same id, its motion kept."""
    tracker = PromptTracker()
    tracker.set_prompts(PromptSet((ObjectPrompt(1, points=((13, 13),), labels=(1,)),)))
    for i in range(6):  # moving right 2 px a frame; the model gives it joined to the square beside it
        a, b = square(10 + 2 * i, 8), square(20 + 2 * i, 8)
        seg, image = frame_with(a, b)
        leak = seg.masks[0] | seg.masks[1]
        seg = Segmentation.of(np.stack([leak, seg.masks[0], seg.masks[1]]), masks_to_boxes(
            np.stack([leak, seg.masks[0], seg.masks[1]])), np.array([0.9, 0.8, 0.8]))
        result = tracker.update(seg, image, i, i / 30)
        if i == 2:  # the user adds a background point on the leaked half
            x = 25 + 2 * i
            tracker.set_prompts(PromptSet((ObjectPrompt(1, points=((13 + 2 * i, 13), (x, 13)), labels=(1, 0)),)))
        if i >= 3:
            mask = result.segmentation.masks[0]
            assert result.segmentation.object_ids.tolist() == [1]
            assert mask[13, 13 + 2 * i] and not mask[13, 25 + 2 * i], i  # the leak is gone, for good
            assert not any(e.kind is EventKind.OBJECT_LOST for e in result.events)
    assert abs(tracker.objects[1].kalman.x[4] - 2) < 0.6  # its velocity survived the refinement


def test_the_work_grid_takes_every_nth_pixel_of_any_frame_size():
    from fastsam_video.tracking.frames import every_nth_pixel

    rng = np.random.default_rng(3)
    for h, w in ((240, 320), (241, 321), (480, 854), (1080, 1920), (7, 5)):
        image = rng.integers(0, 255, (h, w, 3), np.uint8)
        for stride in (1, 2, 3, 4):
            small = every_nth_pixel(image, stride)
            assert small.flags.c_contiguous and np.array_equal(small, image[::stride, ::stride]), (h, w, stride)


def test_the_flow_keeps_its_scale_and_follows_a_moving_texture_in_any_window():
    """OpenCV's DIS lowers its finest scale for good after one small window (5x slower from then
    on): a large window after a small one is still computed at the tracker's scale, and the flow is
    right in small and large ones."""
    import cv2

    from fastsam_video.tracking.propagation import FLOW_SCALE, FlowField

    rng = np.random.default_rng(4)
    before = cv2.GaussianBlur(rng.integers(0, 255, (120, 160), np.uint8), (5, 5), 0)
    now = np.roll(before, 3, axis=1)  # everything moved 3 work pixels right
    flow = FlowField()
    flow.next_frame(before)
    flow.next_frame(now)
    for window in ((10, 10, 40, 44), (10, 10, 100, 150), (20, 30, 36, 62), (5, 5, 95, 125)):
        back = flow.backward(window)
        y1, x1, y2, x2 = window
        assert back.shape == (y2 - y1, x2 - x1, 2)
        inner = back[4:-4, 8:-8]  # this frame's pixel came from 3 pixels to its left
        assert abs(float(np.median(inner[..., 0])) + 3) < 0.5 and abs(float(np.median(inner[..., 1]))) < 0.5, window
        if max(y2 - y1, x2 - x1) >= 46:  # (a smaller one is at full resolution: DIS has no coarser scale there)
            assert flow._dis.getFinestScale() == FLOW_SCALE, window
