"""Options, parsed once from the command line and checked where they are parsed.

Every front end (the CLI, the window, the web server) builds the same frozen records from an
argparse namespace and hands them to `factory.build_pipeline`:

    ModelOptions    which checkpoint, where and how it runs (size, thresholds, precision)
    StreamOptions   how sources are opened and paced (timeouts, reconnection, queues)
    OutputOptions   recordings, exports and the HUD

Each flag's `type=` checks its value and raises `argparse.ArgumentTypeError` with one line
naming what is allowed ("expected a positive integer, got -5"), so argparse exits with status 2
before anything is loaded. The prompt flags (--point, --box, --text, --object-points) become
`ObjectPrompt`s here too. Nothing in this module imports a front end, torch, an engine or the model: `engines.open_engine(options)` loads it.
"""

from __future__ import annotations

import argparse
import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import FastSAMVideoError, PromptError
from .frame_prompts import AtFrame, framed

RTSP_TRANSPORTS = ("tcp", "udp")
BACKENDS = ("torch", "onnx", "openvino", "auto")


# ---------------------------------------------------------------- value checks (argparse `type=`)

def _checked(kind: type, allowed: str, ok: Callable[[float], bool]) -> Callable[[str], float]:
    """An argparse `type=`: `kind(text)` if `ok` accepts it, else "expected {allowed}, got {text}"."""
    def convert(text: str):
        try:
            value = kind(text)
        except (TypeError, ValueError):
            value = None
        if value is None or not ok(value):
            shown = str(text)
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {shown if shown.strip() else repr(text)}")
        return value
    return convert


def checked(name: str, value, check: Callable):
    """`check(value)` for the Python API: a bad value raises FastSAMVideoError("conf: expected
    a number from 0 to 1, got 2"); None passes through (the model's default)."""
    if value is None:
        return None
    try:
        return check(value)
    except argparse.ArgumentTypeError as err:
        raise FastSAMVideoError(f"{name}: {err}") from None


positive_int = _checked(int, "a positive integer", lambda v: v >= 1)
positive_float = _checked(float, "a positive number", lambda v: 0 < v < float("inf"))
non_negative_float = _checked(float, "a number >= 0", lambda v: 0 <= v < float("inf"))
unit_interval = _checked(float, "a number from 0 to 1", lambda v: 0 <= v <= 1)  # thresholds
image_size = _checked(int, "an integer of at least 32 (pixels, e.g. 640)", lambda v: v >= 32)  # padded to the stride


def _output(what: str, wrong: Callable[[Path], bool], wrong_kind: str) -> Callable[[str], Path]:
    """An argparse `type=` for a path to write: not empty, and not an existing `wrong_kind`."""
    def convert(text: str) -> Path:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"expected {what}, got ''")
        if wrong(Path(text)):
            raise argparse.ArgumentTypeError(f"expected {what}, got the {wrong_kind} {text!r}")
        return Path(text)
    return convert


output_file = _output("a file name", Path.is_dir, "folder")  # a COCO JSON
output_folder = _output("a folder", lambda p: p.exists() and not p.is_dir(), "file")  # DAVIS masks


def recording_file(text: str) -> str:
    """A recording: a file name, or with --segment-seconds a folder/ or a name pattern (kept as
    a str: a trailing / matters)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a file name ending in .mp4, got ''")
    return text


def parse_bool(value: str | bool) -> bool:
    """FastSAM declared some booleans as str, so "False" meant true; here it means false."""
    if isinstance(value, bool):
        return value
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on", "y", "t"):
        return True
    if text in ("0", "false", "no", "off", "n", "f", "none", ""):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


# ---------------------------------------------------------------- prompts

def _numbers(text: str, count: int, what: str, example: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != count:
        raise PromptError(f"{what} {text!r}: expected {count} comma-separated numbers, e.g. {example}")
    return values


def parse_point(text: str) -> tuple[float, float, int]:
    """X,Y (foreground) or X,Y:neg / X,Y:0 (background)."""
    coords, _, tag = text.partition(":")
    x, y = _numbers(coords, 2, "--point", "--point 120,80 or --point 120,80:neg")
    if tag.lower() in ("", "pos", "fg", "1", "+"):
        return x, y, 1
    if tag.lower() in ("neg", "bg", "0", "-"):
        return x, y, 0
    raise PromptError(f"--point {text!r}: the label after ':' must be neg (background) or pos, e.g. 120,80:neg")


def parse_box(text: str) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = _numbers(text, 4, "--box", "--box 10,20,200,180 (X1,Y1,X2,Y2)")
    if not (x2 > x1 and y2 > y1):
        raise PromptError(f"--box {text!r}: expected X1,Y1,X2,Y2 with X1 < X2 and Y1 < Y2")
    return x1, y1, x2, y2


def parse_point_set(text: str) -> list[tuple[float, float, int]]:
    """X,Y;X,Y:neg - one object's point set in one flag."""
    points = [parse_point(part) for part in text.split(";") if part.strip()]
    if not points:
        raise PromptError(f"--object-points {text!r}: expected X,Y;X,Y:neg (points separated by ';')")
    return points


def parse_nested_list(text: str, inner: int, flag: str, example: str) -> list[list[float]]:
    """FastSAM's list literals: "[[x,y,w,h]]", "[[x,y],[x,y]]"."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = None
    if isinstance(value, (list, tuple)) and value and not isinstance(value[0], (list, tuple)):
        value = [value]  # a single [x, y] is accepted too
    if (not isinstance(value, (list, tuple)) or
            not all(isinstance(v, (list, tuple)) and len(v) == inner and
                    all(isinstance(n, (int, float)) for n in v) for v in value)):
        raise PromptError(f"{flag} {text!r}: expected a list of {inner}-number lists, e.g. {flag} \"{example}\"")
    return [list(map(float, v)) for v in value]


def parse_labels(text: str) -> list[int]:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = None
    if isinstance(value, int):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(v in (0, 1) for v in value):
        raise PromptError(f"--point_label {text!r}: expected a list of 1 (foreground) / 0 (background), e.g. \"[1,0]\"")
    return list(value)


def as_argument(parse: Callable, error: type[Exception] = PromptError):
    """An argparse `type=` from a parser raising `error` (PromptError), so argparse prints our message."""
    def convert(text: str):
        try:
            return parse(text)
        except error as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    convert.__name__ = parse.__name__.removeprefix("parse_")
    return convert


class OrderedPrompt(argparse.Action):
    """Collects prompt flags in command-line order, so object ids follow the order given."""

    def __call__(self, parser, namespace, values, option_string=None):
        ordered = list(getattr(namespace, "ordered_prompts", None) or [])
        ordered.append((self.dest, values))
        namespace.ordered_prompts = ordered


def object_prompts(ordered: list[tuple[str, object]]):
    """ObjectPrompts with ids 1, 2, ... in the order given. All --point flags together form one
    object (FastSAM's semantics), placed where the first --point stands; each --object-points,
    --box and --text is an object of its own."""
    from .tracker import ObjectPrompt

    entries: list[tuple[str, object]] = []
    loose_points: list[tuple[float, float, int]] = []
    for kind, value in ordered:
        if isinstance(value, AtFrame):
            if value.frame:
                raise PromptError(f"--{kind} @{value.frame}: prompts on later frames work with `run` on a video "
                                  "file; here give them without @FRAME")
            value = value.value
        if kind == "point":
            if not loose_points:
                entries.append(("points", loose_points))
            loose_points.append(value)
        elif kind == "object_points":
            entries.append(("points", value))
        else:
            entries.append((kind, value))
    prompts = []
    for object_id, (kind, value) in enumerate(entries, start=1):
        if kind == "points":
            prompts.append(ObjectPrompt(object_id, points=tuple((x, y) for x, y, _ in value),
                                        labels=tuple(l for _, _, l in value)))
        elif kind == "box":
            prompts.append(ObjectPrompt(object_id, box=value))
        else:
            prompts.append(ObjectPrompt(object_id, text=value))
    return prompts


def prompt_set(args: argparse.Namespace):
    """The PromptSet the stream flags ask for: their objects, plus everything mode when asked
    for or when there is no object to track."""
    from .tracker import PromptSet

    objects = tuple(object_prompts(getattr(args, "ordered_prompts", None) or []))
    return PromptSet(objects, everything=bool(getattr(args, "everything", False)) or not objects)


# ---------------------------------------------------------------- zones and lines

def add_zone_options(p: argparse.ArgumentParser) -> None:
    """--zone and --line (run, serve, gui): zones and lines of every camera, in fractions 0-1."""
    from .analytics.geometry import ZoneError, parse_line, parse_zone

    group = p.add_argument_group("zones and lines (coordinates: fractions 0-1 of the frame's width and height)")
    group.add_argument("--zone", type=as_argument(parse_zone, ZoneError), action="append", default=[],
                       metavar="NAME:X,Y;X,Y;X,Y", help="a zone (a polygon of 3 or more points): events when "
                       "an object enters, leaves or loiters in it; repeatable")
    group.add_argument("--line", type=as_argument(parse_line, ZoneError), action="append", default=[],
                       metavar="NAME:X1,Y1,X2,Y2", help="a line: an event when an object crosses it, with the "
                       "direction (in = from its left to its right, looking from the first point); repeatable")


def zone_set(args: argparse.Namespace):
    """The ZoneSet of --zone and --line; ZoneError (one line) for a name used twice."""
    from .analytics.geometry import ZoneSet

    return ZoneSet((*(getattr(args, "zone", None) or ()), *(getattr(args, "line", None) or ())))


# ---------------------------------------------------------------- the records

@dataclass(frozen=True)
class ModelOptions:
    model: str | None = None  # a path, FastSAM-s.pt / FastSAM-x.pt, or None for the bundled model
    device: str | None = None  # None: the best available
    backend: str = "auto"
    imgsz: int | None = None  # None: the model's own
    conf: float | None = None
    iou: float | None = None
    fp32: bool = False
    max_det: int = 300
    retina: bool = True
    clip_model: str = "ViT-B/32"
    int8: bool = False  # the OpenVINO INT8 model (quantized once, cached)
    bf16: bool = False  # OpenVINO in bfloat16 on a CPU that has it (AMX, AVX-512 BF16)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ModelOptions:
        return cls(model=None if args.model is None else str(args.model), device=args.device,
                   backend=getattr(args, "backend", "auto"), imgsz=args.imgsz, conf=args.conf, iou=args.iou,
                   fp32=args.fp32, max_det=args.max_det, retina=args.retina,
                   clip_model=getattr(args, "clip_model", "ViT-B/32"), int8=bool(getattr(args, "int8", False)),
                   bf16=bool(getattr(args, "bf16", False)))


@dataclass(frozen=True)
class StreamOptions:
    realtime: bool = False  # pace files at their frame rate and drop frames like a camera
    fps: float | None = None  # an image folder's frame rate
    rtsp_transport: str = "tcp"
    open_timeout: float = 5.0
    read_timeout: float = 5.0
    reconnect: bool = True  # network cameras retry with backoff; False: fail at once
    queue_size: int = 8  # a file's frames read ahead of the model
    max_frames: int | None = None  # per camera
    max_lost: float = 10.0  # seconds a lost object is searched for
    detect_every: int = 1  # the model on every K-th frame, the tracker carries the others
    skip_still: bool | None = None  # reuse the last result when nothing moved; None: on for live sources

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> StreamOptions:
        return cls(realtime=bool(getattr(args, "realtime", False)), fps=getattr(args, "fps", None),
                   rtsp_transport=args.rtsp_transport, open_timeout=args.open_timeout,
                   read_timeout=args.read_timeout, reconnect=not getattr(args, "no_reconnect", False),
                   queue_size=getattr(args, "queue_size", 8), max_frames=getattr(args, "max_frames", None),
                   max_lost=getattr(args, "max_lost", 10.0), detect_every=getattr(args, "detect_every", 1),
                   skip_still=getattr(args, "skip_still", None))


@dataclass(frozen=True)
class OutputOptions:
    record: str | None = None  # several cameras: NAME-camN.mp4; with segment_seconds also a folder/ or pattern
    segment_seconds: float | None = None  # roll the recording to a new file every N seconds
    export_masks: Path | None = None  # DAVIS PNGs
    export_coco: Path | None = None  # COCO JSON with RLE masks
    hud: bool = False  # FPS and latency drawn on the recorded frames
    export_yolo: Path | None = None  # YOLO segmentation labels (and the frames)
    export_every: int = 1  # the exports hold every Nth frame (0, N, 2N ...); the recording every frame

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> OutputOptions:
        def path(value) -> Path | None:
            return None if value in (None, "") else Path(value)

        record = getattr(args, "record", None)
        return cls(record=None if record in (None, "") else str(record), segment_seconds=getattr(args, "segment_seconds", None),
                   export_masks=path(getattr(args, "export_masks", None)),
                   export_coco=path(getattr(args, "export_coco", None)), hud=bool(getattr(args, "hud", False)),
                   export_yolo=path(getattr(args, "export_yolo", None)), export_every=getattr(args, "export_every", 1))


# ---------------------------------------------------------------- the flags

def add_model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--model", "--model_path", dest="model", default=None,
                       help="checkpoint: a path, FastSAM-s.pt, FastSAM-x.pt (default: the bundled model)")
    group.add_argument("--device", default=None, help="cuda, cuda:N, mps or cpu (default: best available)")
    group.add_argument("--fp32", action="store_true", help="full precision on CUDA (default there: FP16)")
    group.add_argument("--imgsz", type=image_size, default=None,
                       help="inference size in pixels, at least 32 (default: the model's)")
    group.add_argument("--conf", type=unit_interval, default=None, help="score threshold, 0-1 (default: the model's)")
    group.add_argument("--iou", type=unit_interval, default=None, help="NMS IoU threshold, 0-1 (default: the model's)")
    group.add_argument("--max-det", type=positive_int, default=300)
    group.add_argument("--retina", type=parse_bool, nargs="?", const=True, default=True,
                       help="full-resolution mask edges (default true)")
    group.add_argument("--backend", choices=BACKENDS, default="auto",
                       help="forward pass: torch, onnx (ONNX Runtime on the CPU, exported once and cached), "
                            "openvino (OpenVINO on the CPU, the same export compiled once), auto (default: on the "
                            "CPU onnx, or openvino where it is measured faster; torch on a GPU)")
    group.add_argument("--int8", action="store_true",
                       help="the INT8 model on OpenVINO (CPU): quantized once on frames of the shipped clips, or "
                            "your own with `fastsam-video quantize MODEL --calib VIDEO`, then cached")
    group.add_argument("--bf16", action="store_true",
                       help="OpenVINO on the CPU in bfloat16, where the CPU has it (AMX or AVX-512 BF16): the "
                            "FP32 export run at half width, no calibration (masks agree with FP32 to 0.99; "
                            "see docs/benchmarks.md)")


def add_ray_option(p: argparse.ArgumentParser) -> None:
    """--ray ADDRESS: the cameras and the model on a Ray cluster (the `cluster` extra)."""
    p.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="run on a Ray cluster: auto (the one `ray start` joined here), local (one started in "
                        "this process) or HOST:PORT; needs the cluster extra (pip install fastsam-video[cluster])")


def add_schedule_options(p: argparse.ArgumentParser) -> None:
    """When the model runs (`schedule`): --detect-every K and --skip-still / --no-skip-still."""
    group = p.add_argument_group("model schedule (more cameras per machine)")
    group.add_argument("--detect-every", type=positive_int, default=1, metavar="K",
                       help="run the model at least every K-th frame; the tracker carries the frames between (a new "
                            "prompt or a lost object runs it at once; fast or partly hidden objects more often; "
                            "default 1: every frame)")
    group.add_argument("--skip-still", action=argparse.BooleanOptionalAction, default=None,
                       help="reuse the last result on frames where nothing moved (default: on for live cameras "
                            "and --realtime files, off for files)")


def add_stream_options(p: argparse.ArgumentParser) -> None:
    """The options of `run`, `demo` and `gui`: model, prompts, outputs and sources."""
    add_model_options(p)
    prompts = p.add_argument_group("prompts (each starts a tracked object; none = everything mode)")
    prompts.add_argument("--point", type=as_argument(framed(parse_point)), action=OrderedPrompt,
                         metavar="X,Y[:neg][@FRAME]", help="a point; all --point flags (of one @FRAME, default 0) "
                         "together select one object")
    prompts.add_argument("--object-points", type=as_argument(parse_point_set), action=OrderedPrompt,
                         metavar="X,Y;X,Y:neg", help="one more point-prompted object per flag")
    prompts.add_argument("--box", type=as_argument(framed(parse_box)), action=OrderedPrompt,
                         metavar="X1,Y1,X2,Y2[@FRAME]", help="a box; @FRAME: prompted on that frame of a file (run)")
    prompts.add_argument("--text", action=OrderedPrompt, help="a text prompt (CLIP)")
    prompts.add_argument("--everything", action="store_true",
                         help="also show every mask (faintly) besides the tracked objects")
    prompts.add_argument("--clip-model", default="ViT-B/32", help="CLIP model name or .pt file")
    prompts.add_argument("--max-lost", type=non_negative_float, default=10.0, metavar="SECONDS",
                         help="how long a lost object is searched for (default 10)")
    out = p.add_argument_group("output")
    out.add_argument("--record", type=recording_file, metavar="OUT.mp4",
                     help="record the annotated video (H.264, fragmented MP4)")
    out.add_argument("--export-masks", type=output_folder, metavar="DIR",
                     help="per-frame masks as DAVIS PNGs (pixel = object id)")
    out.add_argument("--export-coco", type=output_file, metavar="FILE", help="COCO-style JSON with RLE masks")
    out.add_argument("--export-yolo", type=output_folder, metavar="DIR", help="YOLO segmentation labels: "
                     "DIR/labels/NNNNN.txt (normalised polygons, class = object id - 1), DIR/images/, DIR/data.yaml")
    out.add_argument("--export-every", type=positive_int, default=1, metavar="N",
                     help="export every Nth frame only (0, N, 2N ...; default 1: every frame)")
    out.add_argument("--segment-seconds", type=positive_float, default=None, metavar="N",
                     help="roll the recording to a new file every N seconds (OUT-<time>.mp4; long monitoring runs)")
    out.add_argument("--hud", action="store_true", help="draw FPS and latency on the recorded frames")
    out.add_argument("--no-window", action="store_true", help="run headless even when a display is available")
    src = p.add_argument_group("source")
    src.add_argument("--max-frames", type=positive_int, default=None, help="stop each camera after N frames")
    src.add_argument("--realtime", action="store_true",
                     help="pace a file at its frame rate and drop frames like a live camera")
    src.add_argument("--fps", type=positive_float, default=None, help="an image folder's frame rate (default 30)")
    src.add_argument("--rtsp-transport", choices=RTSP_TRANSPORTS, default="tcp",
                     help="tcp (default, reliable) or udp (lower latency, may lose packets)")
    src.add_argument("--no-reconnect", action="store_true",
                     help="fail at once when a network camera is down instead of retrying with backoff")
    src.add_argument("--open-timeout", type=positive_float, default=5.0, metavar="SECONDS")
    src.add_argument("--read-timeout", type=positive_float, default=5.0, metavar="SECONDS")
    src.add_argument("--queue-size", type=positive_int, default=8, metavar="N",
                     help="frames of a file read ahead of the model (default 8)")
    add_zone_options(p)
    add_schedule_options(p)
    p.set_defaults(ordered_prompts=[])


__all__ = [
    "ModelOptions", "StreamOptions", "OutputOptions", "add_model_options", "add_zone_options", "zone_set", "add_ray_option", "add_stream_options",
    "add_schedule_options",
    "object_prompts", "prompt_set", "parse_point", "parse_box", "parse_point_set", "parse_nested_list",
    "parse_labels", "parse_bool", "as_argument", "OrderedPrompt", "positive_int", "positive_float",
    "non_negative_float", "unit_interval", "image_size", "output_file", "output_folder", "recording_file",
]
