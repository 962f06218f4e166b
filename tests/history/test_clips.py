"""Clips cut from real recording segments: the event's frame is in them, at its offset, across
two segments, by remux or by re-encoding."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from fastsam_video.events import Event, EventKind
from fastsam_video.history import ClipError, Review, Segment, cut_clip
from fastsam_video.sinks import SegmentedRecorder

FPS = 10
WALL0 = 1_700_000_000.0


def numbered(i: int, size=(160, 120)) -> np.ndarray:
    """A grey frame showing its number in binary along its top: 8 bands, white for a set bit
    (a small change from frame to frame: the encoder adds no keyframe of its own)."""
    image = np.full((size[1], size[0], 3), 128, np.uint8)
    band = size[0] // 8
    for bit in range(8):
        image[:16, bit * band:(bit + 1) * band] = 255 if i >> bit & 1 else 0
    return image


def number_of(frame_bgr: np.ndarray) -> int:
    band = frame_bgr.shape[1] // 8
    return sum(1 << bit for bit in range(8) if frame_bgr[2:14, bit * band + 2:(bit + 1) * band - 2].mean() > 128)


def record(folder: Path, review: Review, frames: int, segment_s: float, *, keyframe_s: float = 1.0,
           sizes=None) -> None:
    """A camera recorded in segments, with the recording_segment events the pipeline sends."""
    rec = SegmentedRecorder(folder / "cam-{index}.mp4", segment_s, fps_hint=FPS, keyframe_seconds=keyframe_s)
    for i in range(frames):
        files = len(rec.paths)
        size = sizes(i) if sizes else (160, 120)
        rec.write(numbered(i, size), 500.0 + i / FPS)
        if len(rec.paths) != files:
            review.record(Event(EventKind.RECORDING_SEGMENT, 0, detail=str(rec.path), wall_time=WALL0 + i / FPS))
    rec.close()


def decode(data: bytes, tmp_path: Path) -> list[tuple[float, int]]:
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as c:
        return [(float(f.time), number_of(f.to_ndarray(format="bgr24"))) for f in c.decode(video=0)]


@pytest.fixture
def review(tmp_path):
    r = Review(tmp_path / "events.db")
    yield r
    r.close()


def test_a_clip_across_two_segments_holds_the_event_frame_at_its_offset(tmp_path, review):
    record(tmp_path, review, 120, 4.0)  # 12 s: cam-1 0-4 s, cam-2 4-8 s, cam-3 8-12 s
    eid = review.record(Event(EventKind.OBJECT_LOST, 0, object_id=1, pts=6.0, wall_time=WALL0 + 6.0)).id
    review.store.flush()
    assert review.store.get(eid)["segment"] == "cam-2.mp4"
    clip, offset = review.clip(eid, pre=3.5, post=3.0)  # 2.5 s .. 9 s: three segments
    assert clip.remuxed
    frames = decode(clip.data, tmp_path)
    numbers = [n for _, n in frames]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # no frame lost or doubled at the joins
    assert numbers[0] <= 25 and numbers[0] >= 20  # from the keyframe at or before 2.5 s
    assert numbers[-1] == 90
    at = min(frames, key=lambda f: abs(f[0] - offset))
    assert at[1] == 60  # the event's frame, at the offset the API reports


def test_keyframes_too_far_apart_are_encoded_again(tmp_path, review):
    record(tmp_path, review, 100, 60.0, keyframe_s=30.0)  # one segment, one keyframe at 0 s
    eid = review.record(Event(EventKind.OBJECT_ADDED, 0, object_id=1, wall_time=WALL0 + 7.0)).id
    review.store.flush()
    clip, offset = review.clip(eid, pre=2.0, post=2.0)
    assert not clip.remuxed
    frames = decode(clip.data, tmp_path)
    assert frames[0][1] == 50 and frames[-1][1] == 90  # exactly 5 s .. 9 s
    assert min(frames, key=lambda f: abs(f[0] - offset))[1] == 70


def test_segments_of_another_frame_size_are_encoded_to_the_first(tmp_path, review):
    record(tmp_path, review, 60, 100.0, sizes=lambda i: (160, 120) if i < 30 else (200, 150))
    eid = review.record(Event(EventKind.OBJECT_LOST, 0, wall_time=WALL0 + 3.0)).id
    review.store.flush()
    clip, offset = review.clip(eid, pre=1.0, post=1.0)
    assert not clip.remuxed
    frames = decode(clip.data, tmp_path)
    assert [n for _, n in frames] == list(range(20, 41))


def test_no_recording_no_clip(tmp_path, review):
    eid = review.record(Event(EventKind.OBJECT_LOST, 0, wall_time=WALL0)).id
    review.store.flush()
    with pytest.raises(ClipError, match="no clip"):
        review.clip(eid)
    with pytest.raises(ClipError, match="no recording holds"):
        cut_clip([Segment(str(tmp_path / "gone.mp4"), 0, WALL0)], WALL0, WALL0 + 1)


def test_a_deleted_segment_leaves_the_event_without_a_clip(tmp_path, review):
    record(tmp_path, review, 30, 100.0)
    eid = review.record(Event(EventKind.OBJECT_LOST, 0, wall_time=WALL0 + 1.0)).id
    review.store.flush()
    assert review.store.get(eid)["has_clip"]
    (tmp_path / "cam-1.mp4").unlink()
    with pytest.raises(ClipError, match="deleted"):
        review.clip(eid)
    review.store.flush()
    assert review.store.get(eid)["has_clip"] is False and review.store.get(eid)["kind"] == "object_lost"


def test_snapshots_of_events_and_the_best_frame_of_an_object(tmp_path, review):
    from fastsam_video.pipeline import Result
    from fastsam_video.tracker import ObjectStatus
    from fastsam_video.events import ObjectState
    from fastsam_video.types import Frame, Segmentation

    def result(radius: int, events=()):
        image = np.zeros((240, 320, 3), np.uint8)
        mask = np.zeros((1, 240, 320), bool)
        cv2.circle(mask[0].view(np.uint8), (160, 120), radius, 1, -1)
        seg = Segmentation.of(mask, [[160 - radius, 120 - radius, 160 + radius, 120 + radius]], [0.9], [3])
        annotated = image.copy()
        annotated[mask[0]] = (0, 0, 255)
        return Result(Frame(image, 0, 0.0), seg, annotated, (), (ObjectStatus(3, "box", ObjectState.TRACKED, 0),),
                      tuple(events), 0.0)

    lost = review.record(Event(EventKind.OBJECT_LOST, 0, object_id=3))
    review.on_result(result(20))
    for r in (10, 60, 30):  # the largest mask is the object's thumbnail
        review.on_result(result(r))
    review.snapshots.close()
    annotated = cv2.imread(str(review.snapshots.event_path(lost.id)))
    clean = cv2.imread(str(review.snapshots.event_path(lost.id, clean=True)))
    assert annotated.shape == clean.shape == (240, 320, 3)
    assert annotated[120, 160, 2] > 200 and clean[120, 160].max() < 20
    track = review.store.get(lost.id) if review.store.flush() else None
    thumb = cv2.imread(str(review.snapshots.track_path(track["track"])))
    assert thumb is not None and abs(max(thumb.shape[:2]) - 2 * 60 * 1.5) < 20  # the 60 px disc, with its margin


def test_events_of_one_frame_share_its_snapshot_files(tmp_path, review):
    from fastsam_video.pipeline import Result
    from fastsam_video.types import Frame, Segmentation

    image = np.full((60, 80, 3), 90, np.uint8)
    result = Result(Frame(image, 0, 0.0), Segmentation.empty(60, 80), image, (), (), (), 0.0)
    ids = [review.record(Event(EventKind.OBJECT_LOST, 0, object_id=k)).id for k in range(3)]
    review.on_result(result)
    review.snapshots.close()
    files = [review.snapshots.event_path(i) for i in ids]
    assert all(f.exists() for f in files)
    assert len({f.stat().st_ino for f in files}) == 1  # one JPEG, three names
    assert cv2.imread(str(files[2])).shape == (60, 80, 3)


def test_an_object_id_used_again_gets_its_own_thumbnail(tmp_path, review):
    first = review.record(Event(EventKind.OBJECT_ADDED, 0, object_id=1)).id
    review.record(Event(EventKind.OBJECT_REMOVED, 0, object_id=1))
    second = review.record(Event(EventKind.OBJECT_ADDED, 0, object_id=1)).id  # the id comes back
    other = review.record(Event(EventKind.OBJECT_ADDED, 1, object_id=1)).id  # another camera
    review.store.flush()
    tracks = [review.store.get(i)["track"] for i in (first, second, other)]
    assert len(set(tracks)) == 3 and tracks[1] == tracks[0] + "-2"
