"""One frame of a camera's zones and lines, the same in the local pipeline and on a cluster camera
actor: the analyser's events and counts, the zones drawn on the annotated frame, and the objects a
detect_new zone found turned into box prompts (tracked from the next frame)."""

from __future__ import annotations

import numpy as np

from ..events import Event
from ..render import draw_zones
from ..tracker import ObjectPrompt, PromptSet
from ..types import Segmentation
from .analyser import ZoneAnalyser


def zones_of_frame(analyser: ZoneAnalyser, prompts: PromptSet, track, frame_index: int, t: float,
                   everything: Segmentation | None, annotated: np.ndarray) -> tuple[tuple[Event, ...], PromptSet | None]:
    """(the frame's zone events, the prompts with the newly found objects added, or None when the
    zones found none). `track` is the tracker's result for the frame."""
    alive = {o.object_id for o in track.objects}
    update = analyser.update(track.segmentation, alive, frame_index, t, everything)
    added = None
    if update.new_objects:
        added = prompts
        for found in update.new_objects:
            object_id = added.next_id()
            added = added.add(ObjectPrompt(object_id, box=found.box))
            analyser.note_new(object_id, found)
    if len(analyser.zones):
        seg = track.segmentation
        boxes = dict(zip(seg.object_ids.tolist(), seg.boxes.tolist()))
        draw_zones(annotated, analyser.zones, update.counts, [boxes[o] for o in update.flashing if o in boxes])
    return update.events, added
