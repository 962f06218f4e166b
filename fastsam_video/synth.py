"""Procedurally generated scenes: training data for the bundled model and the sample clips.

A scene is a background plus shapes painted back to front. Every shape has its own
fill (solid, stripes, checker, smooth noise, gradient) and shading; the instance map
holds the *visible* part of each shape, so occluded objects have occluded masks.
The same renderer draws still images (training) and moving clips (samples, with
DAVIS ground truth), so the bundled model is evaluated in distribution.

    python -m fastsam_video.synth dataset OUT_DIR --train 2000 --val 200
    python -m fastsam_video.synth samples samples/
    python -m fastsam_video.synth scenarios OUT_DIR   # partial occlusion and detection drop-out
"""

from __future__ import annotations

import argparse
import json
import math
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

SHAPE_KINDS = ("ellipse", "rectangle", "triangle", "polygon", "star", "blob", "rounded")
FILL_KINDS = ("solid", "solid", "stripes", "checker", "noise", "gradient")


@dataclass(frozen=True)
class Shape:
    """One object: an outline around the origin, a fill, and a pose."""

    outline: np.ndarray  # (K, 2) float32 points, unit scale, centred on the origin
    fill: str
    colors: tuple[tuple[int, int, int], tuple[int, int, int]]
    fill_scale: float
    fill_angle: float
    fill_seed: int
    cx: float
    cy: float
    radius: float
    angle: float = 0.0

    def polygon(self) -> np.ndarray:
        c, s = math.cos(self.angle), math.sin(self.angle)
        rot = np.array([[c, -s], [s, c]], np.float32)
        pts = self.outline @ rot.T * self.radius + np.array([self.cx, self.cy], np.float32)
        return pts

    def mask(self, height: int, width: int) -> np.ndarray:
        canvas = np.zeros((height, width), np.uint8)
        pts = np.round(self.polygon() * 16).astype(np.int32)  # 4 bits of sub-pixel precision
        cv2.fillPoly(canvas, [pts], 1, lineType=cv2.LINE_8, shift=4)
        return canvas.astype(bool)


def _outline(kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "ellipse":
        t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        aspect = rng.uniform(0.45, 1.0)
        return np.stack([np.cos(t), aspect * np.sin(t)], 1)
    if kind == "rectangle":
        aspect = rng.uniform(0.35, 1.0)
        return np.array([[-1, -aspect], [1, -aspect], [1, aspect], [-1, aspect]], float)
    if kind == "rounded":
        aspect, r = rng.uniform(0.4, 1.0), rng.uniform(0.15, 0.35)
        pts = []
        for cx, cy, start in ((1 - r, aspect - r, 0), (-1 + r, aspect - r, 90),
                              (-1 + r, -aspect + r, 180), (1 - r, -aspect + r, 270)):
            for a in np.radians(np.linspace(start, start + 90, 8)):
                pts.append((cx + r * math.cos(a), cy + r * math.sin(a)))
        return np.array(pts)
    if kind == "triangle":
        t = np.radians([90, 210, 330]) + rng.uniform(-0.3, 0.3, 3)
        return np.stack([np.cos(t), np.sin(t)], 1)
    if kind == "polygon":
        n = int(rng.integers(5, 9))
        t = np.linspace(0, 2 * np.pi, n, endpoint=False)
        return np.stack([np.cos(t), np.sin(t)], 1)
    if kind == "star":
        n = int(rng.integers(4, 7))
        t = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False)
        r = np.where(np.arange(2 * n) % 2 == 0, 1.0, rng.uniform(0.45, 0.65))
        return np.stack([r * np.cos(t), r * np.sin(t)], 1)
    # blob: a smooth closed curve from a few random radial harmonics
    t = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    r = np.ones_like(t)
    for k in range(2, 5):
        r += rng.uniform(-0.18, 0.18) * np.cos(k * t + rng.uniform(0, 2 * np.pi))
    return np.stack([r * np.cos(t), r * np.sin(t)], 1)


def _random_color(rng: np.random.Generator) -> tuple[int, int, int]:
    hsv = np.array([[[rng.integers(0, 180), rng.integers(60, 256), rng.integers(70, 256)]]],
                   np.uint8)
    return tuple(int(v) for v in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])


def _fill(kind: str, colors, scale: float, angle: float, seed: int,
          height: int, width: int, origin: tuple[float, float]) -> np.ndarray:
    """A (H, W, 3) float32 texture; `origin` makes the pattern move with its object."""
    c0, c1 = (np.array(c, np.float32) for c in colors)
    if kind == "solid":
        return np.broadcast_to(c0, (height, width, 3)).astype(np.float32)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    xx -= origin[0]
    yy -= origin[1]
    u = xx * math.cos(angle) + yy * math.sin(angle)
    v = -xx * math.sin(angle) + yy * math.cos(angle)
    if kind == "stripes":
        w = (np.sin(u * 2 * np.pi / scale) > 0).astype(np.float32)
    elif kind == "checker":
        w = ((np.floor(u / scale) + np.floor(v / scale)) % 2).astype(np.float32)
    elif kind == "gradient":
        w = np.clip(u / (4 * scale) + 0.5, 0, 1)
    else:  # smooth noise, drawn once on a coarse grid in the object's own frame
        grid = np.random.default_rng(seed).random((8, 8)).astype(np.float32)
        gx = np.mod(u / scale, 7.0)
        gy = np.mod(v / scale, 7.0)
        w = cv2.remap(grid, gx.astype(np.float32), gy.astype(np.float32), cv2.INTER_CUBIC)
        w = np.clip(w, 0, 1)
    return c0 + (c1 - c0) * w[..., None]


def random_shape(rng: np.random.Generator, height: int, width: int,
                 radius_range: tuple[float, float] = (0.07, 0.32)) -> Shape:
    kind = SHAPE_KINDS[int(rng.integers(len(SHAPE_KINDS)))]
    fill = FILL_KINDS[int(rng.integers(len(FILL_KINDS)))]
    side = min(height, width)
    radius = float(np.exp(rng.uniform(*np.log(radius_range)))) * side
    c0 = _random_color(rng)
    c1 = _random_color(rng) if rng.random() < 0.5 else tuple(int(v * 0.55) for v in c0)
    return Shape(
        outline=_outline(kind, rng).astype(np.float32), fill=fill, colors=(c0, c1),
        fill_scale=float(rng.uniform(3, 14)), fill_angle=float(rng.uniform(0, np.pi)),
        fill_seed=int(rng.integers(1 << 31)),
        cx=float(rng.uniform(0, width)), cy=float(rng.uniform(0, height)),
        radius=radius, angle=float(rng.uniform(0, 2 * np.pi)),
    )


@dataclass(frozen=True)
class Background:
    fill: str
    colors: tuple[tuple[int, int, int], tuple[int, int, int]]
    scale: float
    angle: float
    seed: int


def random_background(rng: np.random.Generator) -> Background:
    gray = int(rng.integers(20, 236))
    base = _random_color(rng) if rng.random() < 0.5 else (gray, gray, gray)
    # low-contrast second colour: backgrounds are busy but not object-like
    other = tuple(int(np.clip(v + rng.integers(-45, 46), 0, 255)) for v in base)
    kind = ("solid", "gradient", "noise", "stripes")[int(rng.integers(4))]
    return Background(kind, (base, other), float(rng.uniform(20, 60)),
                      float(rng.uniform(0, np.pi)), int(rng.integers(1 << 31)))


def render(background: Background, shapes: list[Shape], height: int, width: int,
           rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Paint `shapes` back to front. Returns (BGR uint8 image, visible instance map).

    Instance map values are 1 + the shape's index in `shapes`; 0 is background.
    """
    image = _fill(background.fill, background.colors, background.scale, background.angle,
                  background.seed, height, width, (0.0, 0.0))
    instances = np.zeros((height, width), np.uint8)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    for index, shape in enumerate(shapes):
        mask = shape.mask(height, width)
        if not mask.any():
            continue
        texture = _fill(shape.fill, shape.colors, shape.fill_scale, shape.fill_angle + shape.angle,
                        shape.fill_seed, height, width, (shape.cx, shape.cy))
        # directional shading so objects are not flat cut-outs
        light = 0.85 + 0.25 * np.clip(((xx - shape.cx) - (yy - shape.cy)) / (2.5 * shape.radius), -1, 1)
        image[mask] = texture[mask] * light[mask, None]
        instances[mask] = index + 1
    if rng is not None:
        image = cv2.GaussianBlur(image, (3, 3), rng.uniform(0.3, 0.9))
        image += rng.normal(0, rng.uniform(1, 6), image.shape).astype(np.float32)
    else:
        image = cv2.GaussianBlur(image, (3, 3), 0.6)
    return np.clip(image, 0, 255).astype(np.uint8), instances


def _distinct(shape: Shape, background: Background, rng: np.random.Generator) -> Shape:
    """Re-draw the colour until the object stands out from the background."""
    bg = np.mean(background.colors, 0)
    for _ in range(20):
        if np.abs(np.array(shape.colors[0], float) - bg).sum() > 90:
            return shape
        c0 = _random_color(rng)
        shape = replace(shape, colors=(c0, shape.colors[1]))
    return shape


def random_scene(rng: np.random.Generator, height: int, width: int):
    background = random_background(rng)
    count = int(rng.integers(2, 11))
    shapes = [_distinct(random_shape(rng, height, width), background, rng) for _ in range(count)]
    image, instances = render(background, shapes, height, width, rng)
    return image, instances


# ---------------------------------------------------------------- training dataset (YOLO)

MIN_INSTANCE_PIXELS = 40


def instance_polygons(instances: np.ndarray) -> list[np.ndarray]:
    """Visible instances as YOLO polygons in pixels (fragments joined like ultralytics' COCO converter)."""
    from ultralytics.data.converter import merge_multi_segment

    polygons = []
    for value in np.unique(instances):
        if value == 0:
            continue
        mask = (instances == value).astype(np.uint8)
        if mask.sum() < MIN_INSTANCE_PIXELS:
            continue
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        contours = [c.reshape(-1, 2) for c in contours if cv2.contourArea(c) >= 4]
        if not contours:
            continue
        if len(contours) == 1:
            polygon = contours[0]
        else:
            polygon = np.concatenate(merge_multi_segment([c.reshape(-1).tolist() for c in contours]))
        polygons.append(polygon.astype(np.float32))
    return polygons


def write_dataset(out: Path, train: int, val: int, seed: int = 0) -> Path:
    """YOLO-seg dataset of random scenes with varied sizes; returns the data yaml."""
    rng = np.random.default_rng(seed)
    sizes = ((240, 320), (320, 320), (256, 384), (320, 240), (288, 352))
    for split, count in (("train", train), ("val", val)):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            h, w = sizes[int(rng.integers(len(sizes)))]
            image, instances = random_scene(rng, h, w)
            cv2.imwrite(str(out / "images" / split / f"{i:05d}.png"), image)
            lines = []
            for polygon in instance_polygons(instances):
                coords = (polygon / np.array([w, h], np.float32)).clip(0, 1).reshape(-1)
                lines.append("0 " + " ".join(f"{v:.5f}" for v in coords))
            (out / "labels" / split / f"{i:05d}.txt").write_text("\n".join(lines))
    data = out / "data.yaml"
    data.write_text(f"path: {out.resolve()}\ntrain: images/train\nval: images/val\nnames:\n  0: object\n")
    return data


# ---------------------------------------------------------------- sample clips (DAVIS)

@dataclass(frozen=True)
class Track:
    """A shape's trajectory: position, radius and angle as functions of the frame index."""

    shape: Shape
    path: tuple[tuple[float, float], ...]  # key points (x, y), linearly interpolated
    spin: float = 0.0  # radians per frame
    grow: float = 0.0  # relative radius change per frame

    def at(self, t: float, frames: int) -> Shape:
        keys = np.asarray(self.path, np.float32)
        pos = t / max(frames - 1, 1) * (len(keys) - 1)
        i = min(int(pos), len(keys) - 2) if len(keys) > 1 else 0
        frac = pos - i if len(keys) > 1 else 0.0
        x, y = keys[i] + (keys[min(i + 1, len(keys) - 1)] - keys[i]) * frac
        return replace(self.shape, cx=float(x), cy=float(y), angle=self.shape.angle + self.spin * t,
                       radius=self.shape.radius * (1 + self.grow * t))


@dataclass(frozen=True)
class Clip:
    """A sample clip: tracks painted back to front; `objects` are the ones with ground truth
    (DAVIS id = position in `objects` + 1) and first-frame prompts."""

    name: str
    description: str
    background: Background
    tracks: tuple[Track, ...]
    objects: tuple[int, ...]
    frames: int = 60
    size: tuple[int, int] = (240, 320)
    # frames in which the model's detection of each object is removed (scored by `evaluate`):
    # {DAVIS id: frame indices}, as a tuple of pairs so the clip stays hashable
    dropout: tuple[tuple[int, tuple[int, ...]], ...] = ()


def _styled(rng, kind: str, fill: str, color, radius: float, **pose) -> Shape:
    outline = _outline(kind, rng).astype(np.float32)
    second = tuple(int(v * 0.55) for v in color)
    return Shape(outline, fill, (tuple(color), second), 6.0, 0.5, int(rng.integers(1 << 31)),
                 cx=0.0, cy=0.0, radius=radius, **pose)


def sample_clips(seed: int = 7) -> list[Clip]:
    rng = np.random.default_rng(seed)
    bg_plain = Background("gradient", ((70, 70, 70), (110, 110, 110)), 40.0, 0.3, 1)
    bg_noise = Background("noise", ((200, 190, 180), (170, 165, 150)), 40.0, 0.0, 2)
    bg_stripes = Background("stripes", ((40, 60, 40), (60, 80, 55)), 30.0, 1.0, 3)
    red, blue, yellow, green = (40, 40, 210), (200, 90, 30), (40, 210, 230), (60, 180, 60)
    orange, purple = (30, 140, 240), (160, 60, 150)
    clips = [
        Clip("drift", "one object drifting slowly across the frame, turning and growing",
             bg_plain, (Track(_styled(rng, "blob", "solid", orange, 40.0), ((70, 90), (250, 150)),
                              spin=0.01, grow=0.004),), (0,), frames=60),
        Clip("occlusion", "a large object passes fully in front of a smaller one, which then reappears",
             bg_noise, (Track(_styled(rng, "ellipse", "stripes", red, 34.0, angle=0.2), ((150, 120), (170, 125))),
                        Track(_styled(rng, "rectangle", "solid", blue, 62.0), ((-70, 120), (400, 120)))),
             (0,), frames=70),
        Clip("crossing", "two look-alike objects cross paths",
             bg_plain, (Track(_styled(rng, "polygon", "solid", green, 30.0), ((40, 70), (280, 170))),
                        Track(_styled(rng, "polygon", "solid", (70, 170, 70), 30.0), ((280, 70), (40, 170)))),
             (0, 1), frames=60),
        Clip("fast", "a small object moving fast, bouncing off the borders",
             bg_stripes, (Track(_styled(rng, "star", "solid", yellow, 26.0),
                                ((40, 40), (280, 120), (60, 200), (280, 200), (160, 60)), spin=0.05),),
             (0,), frames=50),
        Clip("exit_return", "an object leaves the frame on the right and comes back",
             bg_noise, (Track(_styled(rng, "rounded", "checker", purple, 36.0), ((120, 120), (420, 110), (160, 130))),
                        Track(_styled(rng, "triangle", "solid", green, 28.0, angle=0.4), ((60, 60), (70, 190)))),
             (0, 1), frames=80),
    ]
    return clips


def _plate(width: float, height: float, fill: str, color, seed: int = 0, angle: float = 0.0) -> Shape:
    """A rectangle of exactly width x height pixels (an occluder, a pole, a band)."""
    half = max(width, height) / 2
    outline = np.array([[-width, -height], [width, -height], [width, height], [-width, height]],
                       np.float32) / (2 * half)
    second = tuple(int(v * 0.55) for v in color)
    return Shape(outline, fill, (tuple(color), second), 6.0, 0.5, seed, cx=0.0, cy=0.0, radius=half, angle=angle)


def _oval(width: float, height: float, fill: str, color, seed: int = 0) -> Shape:
    t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    half = max(width, height) / 2
    outline = (np.stack([np.cos(t) * width, np.sin(t) * height], 1) / (2 * half)).astype(np.float32)
    second = tuple(int(v * 0.55) for v in color)
    return Shape(outline, fill, (tuple(color), second), 7.0, 0.8, seed, cx=0.0, cy=0.0, radius=half)


def occlusion_scenarios(seed: int = 11) -> list[Clip]:
    """Clips where the prompted object stays partly visible behind something, or where the model
    misses it in single frames: the tracker must keep it (issue 13). Short, 240x320."""
    rng = np.random.default_rng(seed)
    bg_plain = Background("gradient", ((70, 70, 70), (110, 110, 110)), 40.0, 0.3, 1)
    bg_noise = Background("noise", ((200, 190, 180), (170, 165, 150)), 40.0, 0.0, 2)
    red, blue, yellow, green, teal = (40, 40, 210), (200, 90, 30), (40, 210, 230), (60, 180, 60), (160, 150, 40)
    dropped = sorted(int(v) for v in rng.choice(np.arange(3, 45, 3), 7, replace=False))
    dropped = tuple(sorted(set(dropped + [dropped[-1] + 1])))  # six single misses and one double
    return [
        Clip("pole_wide", "a narrow tall pole passes in front of a wide object, splitting it in two",
             bg_plain, (Track(_oval(150, 64, "stripes", red, 1), ((130, 125), (190, 130))),
                        Track(_plate(40, 260, "solid", blue, 2), ((-20, 120), (340, 120)))),
             (0,), frames=48),
        Clip("band_tall", "a wide short band passes in front of a tall object; its top and bottom stay visible",
             bg_noise, (Track(_oval(56, 170, "solid", green, 3), ((150, 120), (175, 122))),
                        Track(_plate(340, 110, "checker", blue, 4), ((160, -40), (160, 280)))),
             (0,), frames=48),
        Clip("similar_pole", "a pole of nearly the same colour crosses a wide object",
             bg_plain, (Track(_oval(150, 70, "solid", red, 5), ((150, 120), (170, 120))),
                        Track(_plate(30, 260, "solid", (60, 50, 185), 6), ((340, 120), (-20, 125)))),
             (0,), frames=48),
        Clip("behind_prompted", "an object passes behind another prompted object that hides part of it",
             bg_noise, (Track(_oval(130, 96, "checker", teal, 7), ((90, 120), (230, 120))),
                        Track(_oval(52, 52, "solid", yellow, 8), ((250, 115), (60, 125)))),
             (0, 1), frames=48),
        Clip("dropout", "the model's detection of the object is removed in random single frames",
             bg_plain, (Track(_styled(rng, "blob", "solid", (30, 140, 240), 38.0), ((70, 80), (250, 160)),
                              spin=0.01),
                        Track(_styled(rng, "rectangle", "solid", green, 30.0), ((250, 70), (80, 190)))),
             (0, 1), frames=48, dropout=((1, dropped),)),
    ]


def zone_scenarios(seed: int = 23) -> list[Clip]:
    """Clips for zones and lines (issue 22), 240x320, 90 frames at 30 fps; the true events follow
    from the ground-truth masks. `patrol`: object 1 goes right across the middle and comes back
    (two crossings of x = 160, out of and into the left part); object 2 waits on the left for
    1.5 s (loitering), then leaves to the right."""
    rng = np.random.default_rng(seed)
    bg = Background("gradient", ((70, 70, 70), (110, 110, 110)), 40.0, 0.3, 1)
    orange, blue = (30, 140, 240), (200, 90, 30)
    return [
        Clip("patrol", "one object goes right and back across the middle; another waits on the left, then leaves",
             bg, (Track(_styled(rng, "blob", "solid", orange, 26.0), ((50, 70), (270, 70), (50, 70))),
                  Track(_styled(rng, "rectangle", "solid", blue, 26.0), ((60, 175), (60, 175), (270, 175)))),
             (0, 1), frames=90),
    ]


def render_clip(clip: Clip) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Frames (BGR), DAVIS label maps (object id = index in clip.objects + 1) and the full
    instance maps (every shape, value = track index + 1)."""
    h, w = clip.size
    rng = np.random.default_rng(zlib.crc32(clip.name.encode()))  # the same noise in every process
    frames, labels, all_instances = [], [], []
    for t in range(clip.frames):
        shapes = [track.at(t, clip.frames) for track in clip.tracks]
        image, instances = render(clip.background, shapes, h, w, rng)
        label = np.zeros((h, w), np.uint8)
        for davis_id, track_index in enumerate(clip.objects, start=1):
            label[instances == track_index + 1] = davis_id
        frames.append(image)
        labels.append(label)
        all_instances.append(instances)
    return frames, labels, all_instances


def write_clip(clip: Clip, root: Path, fps: int = 30) -> Path:
    """Write root/NAME/{video.mp4, Annotations/00000.png..., prompts.json}."""
    from .sinks import write_davis_png  # the same writer the exporter uses
    import av

    frames, labels, _ = render_clip(clip)
    folder = root / clip.name
    (folder / "Annotations").mkdir(parents=True, exist_ok=True)
    with av.open(str(folder / "video.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = clip.size[1], clip.size[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "16", "preset": "medium"}
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    for t, label in enumerate(labels):
        write_davis_png(folder / "Annotations" / f"{t:05d}.png", label)
    prompts = []
    for davis_id in range(1, len(clip.objects) + 1):
        ys, xs = np.nonzero(labels[0] == davis_id)
        if len(xs) == 0:
            continue
        # the visible pixel nearest the visible part's centroid: always inside the object
        cx, cy = xs.mean(), ys.mean()
        k = int(np.argmin((xs - cx) ** 2 + (ys - cy) ** 2))
        prompts.append({"id": davis_id, "point": [int(xs[k]), int(ys[k])],
                        "box": [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]})
    meta = {"description": clip.description, "fps": fps, "frames": clip.frames, "objects": prompts}
    if clip.dropout:
        meta["dropout"] = {str(davis_id): list(frames) for davis_id, frames in clip.dropout}
    (folder / "prompts.json").write_text(json.dumps(meta, indent=1))
    return folder


def write_stills(root: Path, count: int = 4, seed: int = 123) -> None:
    """Still images with instance ground truth (DAVIS-style PNG, id = paint order)."""
    from .sinks import write_davis_png

    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        image, instances = random_scene(rng, 320, 416)
        cv2.imwrite(str(root / "images" / f"scene{i}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        write_davis_png(root / "images" / f"scene{i}_gt.png", instances)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fastsam_video.synth", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    ds = sub.add_parser("dataset", help="YOLO-seg training set of random scenes")
    ds.add_argument("out", type=Path)
    ds.add_argument("--train", type=int, default=2000)
    ds.add_argument("--val", type=int, default=200)
    ds.add_argument("--seed", type=int, default=0)
    sp = sub.add_parser("samples", help="sample clips with DAVIS ground truth, and still images")
    sp.add_argument("out", type=Path)
    sc = sub.add_parser("scenarios", help="partial-occlusion and drop-out clips with DAVIS ground truth")
    sc.add_argument("out", type=Path)
    zs = sub.add_parser("zones", help="clips with known paths for zones and lines, with DAVIS ground truth")
    zs.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if args.what == "dataset":
        print(write_dataset(args.out, args.train, args.val, args.seed))
    elif args.what == "zones":
        for clip in zone_scenarios():
            print(write_clip(clip, args.out))
    elif args.what == "scenarios":
        from .scenarios import tracking_scenarios

        for clip in occlusion_scenarios() + tracking_scenarios():
            print(write_clip(clip, args.out))
    else:
        for clip in sample_clips():
            print(write_clip(clip, args.out / "clips"))
        write_stills(args.out)


if __name__ == "__main__":
    main()
