"""The state file: atomic writes that survive kill -9 at any moment, and one-line errors."""

from __future__ import annotations

import os
import random
import select
import signal
import time

import pytest

from fastsam_video.config import PromptConfig
from fastsam_video.state import SavedCamera, SavedState, StateError, StateFile, default_path, prompt_config, prompt_set
from fastsam_video.tracker import ObjectPrompt, PromptSet


def state_of(n: int) -> SavedState:
    """A state whose size changes with n (so a torn write would show)."""
    return SavedState(cameras=[SavedCamera(id=i, source=f"rtsp://cam/{i}", everything=bool(n % 2),
                                           objects=[PromptConfig(id=j + 1, box=[0, 0, 10 + n, 10]) for j in range(n % 7)])
                               for i in range(1 + n % 5)])


def test_saved_state_reads_back_exactly(tmp_path):
    state = StateFile(tmp_path / "s.json")
    assert state.load() is None  # no file yet: nothing to restore
    state.save(state_of(12))
    assert state.load() == state_of(12)
    assert oct(os.stat(tmp_path / "s.json").st_mode & 0o777) == "0o600"  # sources may hold passwords
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]  # no temporary file left behind


def test_kill_9_at_random_moments_during_writes_always_leaves_a_loadable_file(tmp_path):
    """200 writers killed with SIGKILL at random moments while they rewrite the file in a loop."""
    path = tmp_path / "state.json"
    StateFile(path).save(state_of(0))
    rng = random.Random(23)
    versions, torn = set(), 0
    for attempt in range(200):
        wrote, told = os.pipe()
        pid = os.fork()
        if pid == 0:  # the writer: rewrites the state as fast as it can until killed
            try:
                writer, n = StateFile(path), attempt * 1000
                while True:
                    n += 1
                    writer.save(state_of(n))
                    if n == attempt * 1000 + 1:
                        os.write(told, b"1")  # one whole write done: the kill may come from now on
            finally:
                os._exit(1)
        os.close(told)
        # a loaded machine may not run the writer for a while: its first write is waited for, then
        # the kill comes at a random moment of the writes that follow
        assert select.select([wrote], [], [], 30)[0], "the writer wrote nothing within 30 s"
        os.close(wrote)
        time.sleep(rng.uniform(0.0, 0.02))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        torn += any(p != path for p in tmp_path.iterdir())  # killed inside a write: its temporary file
        loaded = StateFile(path).load()  # raises StateError for a broken file
        assert loaded is not None and loaded.cameras
        versions.add(loaded.model_dump_json())
    assert len(versions) > 50  # the writers did write (some were killed before their first write)
    assert torn > 5 and [p.name for p in tmp_path.iterdir()] == ["state.json"]  # load() removed them
    print(f"200 kills: {len(versions)} distinct states loaded, {torn} kills inside a write, 0 broken")


def test_a_broken_state_file_is_one_line_naming_it(tmp_path):
    path = tmp_path / "state.json"
    path.write_text('{"cameras": [{"id": -1}]}')
    with pytest.raises(StateError) as err:
        StateFile(path).load()
    assert str(path) in str(err.value) and "\n" not in str(err.value) and "delete it" in str(err.value)
    path.write_text("{not json")
    with pytest.raises(StateError):
        StateFile(path).load()


def test_prompts_round_trip_with_their_ids():
    prompts = PromptSet((ObjectPrompt(2, points=((1.0, 2.0), (3.0, 4.0)), labels=(1, 0)),
                         ObjectPrompt(5, box=(1.0, 2.0, 30.0, 40.0)), ObjectPrompt(7, text="a dog")), everything=False)
    assert prompt_set([prompt_config(p) for p in prompts.objects], False) == prompts
    assert prompt_set([], None).everything and not prompt_set([PromptConfig(text="x")], None).everything


def test_the_state_file_goes_beside_the_config_unless_given(tmp_path):
    assert default_path(tmp_path / "site.yaml", None) == tmp_path / "site.state.json"
    assert default_path(tmp_path / "site.yaml", tmp_path / "x.json") == tmp_path / "x.json"
    assert default_path(None, None) is None
