"""The harder tracking bench (issue 21): generated clips with ground truth where the object must
be followed by its own evidence, beside the sample clips and the occlusion scenarios in synth.py.

Each clip is short (240 x 320, 48-90 frames) so that the tests can score all of them end to end
with the bundled model. Misses of the model are injected through `Clip.dropout` (the model's masks
on the object removed in those frames), the same hook `fastsam-video eval --miss` offers on any clip.

    python -m fastsam_video.synth scenarios OUT_DIR   # writes these and the occlusion scenarios
"""

from __future__ import annotations

import numpy as np

from .synth import Background, Clip, Track, _oval, _plate, _styled, occlusion_scenarios, sample_clips


def tracking_scenarios(seed: int = 21) -> list[Clip]:
    rng = np.random.default_rng(seed)
    bg_plain = Background("gradient", ((70, 70, 70), (110, 110, 110)), 40.0, 0.3, 1)
    bg_noise = Background("noise", ((200, 190, 180), (170, 165, 150)), 40.0, 0.0, 2)
    red, blue, green, orange = (40, 40, 210), (200, 90, 30), (60, 180, 60), (30, 140, 240)
    purple, teal = (160, 60, 150), (160, 150, 40)
    return [
        Clip("slide_out", "an object slides out from behind a larger still occluder that hid most of it",
             bg_plain, (Track(_oval(90, 64, "stripes", red, 11), ((170, 120), (265, 122))),
                        Track(_plate(150, 200, "checker", blue, 12), ((120, 120), (120, 120)))),
             (0,), frames=48),
        Clip("long_occlusion", "an object passes wholly behind a wide still occluder for about 25 frames",
             bg_noise, (Track(_oval(56, 48, "solid", green, 13), ((30, 125), (300, 120))),
                        Track(_plate(120, 180, "solid", blue, 14), ((165, 120), (165, 120)))),
             (0,), frames=80),
        Clip("leave_return", "an object leaves the frame and comes back; a look-alike is in view all along",
             bg_plain, (Track(_styled(rng, "rounded", "solid", purple, 30.0), ((160, 80), (400, 80), (170, 90))),
                        Track(_styled(rng, "rounded", "solid", purple, 30.0), ((70, 185), (250, 190)))),
             (0,), frames=90),
        Clip("touching", "two look-alike objects meet, move on touching for a while, and part",
             bg_noise, (Track(_oval(60, 60, "solid", orange, 15), ((50, 120), (128, 120), (128, 120), (60, 100))),
                        Track(_oval(60, 60, "solid", orange, 16), ((270, 120), (188, 120), (188, 120), (260, 140)))),
             (0, 1), frames=60),
        Clip("reshape", "an elongated object turns half a turn and grows",
             bg_plain, (Track(_plate(110, 34, "solid", teal, 17), ((100, 120), (210, 115)), spin=0.05, grow=0.006),),
             (0,), frames=60),
        Clip("long_miss", "the model misses a moving, turning object for 60 frames in a row while it stays in view",
             bg_noise, (Track(_styled(rng, "blob", "checker", red, 36.0), ((60, 90), (260, 150)), spin=0.01),
                        Track(_styled(rng, "triangle", "solid", green, 30.0), ((250, 60), (90, 190)))),
             (0, 1), frames=80, dropout=((1, tuple(range(10, 70))),)),
        Clip("behind_still_missed", "an object passes behind a still pole, a quarter to most of it in view, and "
             "the model has no mask for it for 30 frames",
             bg_plain, (Track(_oval(120, 60, "stripes", orange, 18), ((40, 120), (270, 125))),
                        Track(_plate(44, 260, "solid", blue, 19), ((160, 120), (160, 120)))),
             (0,), frames=60, dropout=((1, tuple(range(15, 45))),)),
    ]


def all_scenarios() -> list[Clip]:
    """Every scored clip: the sample clips, the occlusion scenarios and the tracking ones."""
    return sample_clips() + occlusion_scenarios() + tracking_scenarios()
