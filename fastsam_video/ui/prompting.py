"""What the window's mouse gestures and buttons do to the prompt state (no Qt).

The window owns one `PromptEditor`; every edit replaces its immutable `PromptSet`, which
the window then hands to `Pipeline.set_prompts`. Object ids only grow within a session,
so a new object never inherits the colour of a removed one.
"""

from __future__ import annotations

from dataclasses import replace

from ..tracker import ObjectPrompt, PromptSet
from ..types import PromptError

NEW, ADD, BACKGROUND = "new", "add", "background"


def point_gesture(*, right: bool = False, shift: bool = False, ctrl: bool = False,
                  add_to_selected: bool = False, has_selection: bool = False) -> str:
    """Which edit a click makes: right click or shift+click -> a background point for the
    selected object; ctrl+click, or a plain click while "add to selected" is on and an object
    is selected -> a foreground point for it; otherwise a new object."""
    if right or shift:
        return BACKGROUND
    if has_selection and (ctrl or add_to_selected):
        return ADD
    return NEW


class PromptEditor:
    def __init__(self, prompts: PromptSet | None = None):
        self.prompts = prompts if prompts is not None else PromptSet(everything=True)
        self._next_id = self.prompts.next_id()

    def _allocate(self) -> int:
        object_id = max(self._next_id, self.prompts.next_id())
        self._next_id = object_id + 1
        return object_id

    def get(self, object_id: int | None) -> ObjectPrompt | None:
        return next((o for o in self.prompts.objects if o.object_id == object_id), None)

    def click(self, x: float, y: float, gesture: str, selected: int | None = None, pts: float | None = None) -> int:
        """Apply a click at frame point (x, y) of the frame shown at `pts` (resolved on that
        frame); returns the id of the object made or changed.
        Raises PromptError (one line, for the status bar) when the gesture needs a selected
        point-prompted object and there is none."""
        point = (round(float(x), 1), round(float(y), 1))
        if gesture == NEW or (gesture == ADD and selected is None):
            object_id = self._allocate()
            self.prompts = self.prompts.add(ObjectPrompt(object_id, points=(point,), labels=(1,), pts=pts))
            return object_id
        label = 1 if gesture == ADD else 0
        what = "a foreground" if label else "a background"
        old = self.get(selected)
        if old is None:
            raise PromptError(f"select an object in the list first: {what} point refines the selected object")
        if not old.points:
            raise PromptError(f"object {old.object_id} was picked by its {old.kind}: points can only be added to "
                              "an object picked by clicking")
        self.prompts = self.prompts.add(replace(old, points=old.points + (point,), labels=old.labels + (label,),
                                                pts=pts))
        return old.object_id

    def box(self, x1: float, y1: float, x2: float, y2: float, pts: float | None = None) -> int:
        box = (round(min(x1, x2), 1), round(min(y1, y2), 1), round(max(x1, x2), 1), round(max(y1, y2), 1))
        object_id = self._allocate()
        self.prompts = self.prompts.add(ObjectPrompt(object_id, box=box, pts=pts))
        return object_id

    def text(self, text: str) -> int:
        text = " ".join(text.split())
        if not text:
            raise PromptError("type what to look for first, e.g. \"a red car\"")
        object_id = self._allocate()
        self.prompts = self.prompts.add(ObjectPrompt(object_id, text=text))
        return object_id

    def remove(self, object_id: int) -> None:
        self.prompts = self.prompts.remove(object_id)

    def clear(self) -> None:
        self.prompts = replace(self.prompts, objects=())

    def set_everything(self, on: bool) -> None:
        self.prompts = replace(self.prompts, everything=bool(on))
