"""The site's configuration file (`serve --config site.yaml`, `run --config site.yaml`).

    server:   {host: 0.0.0.0, port: 8000, output: /data/rec, mqtt: [mqtt://broker/site/events]}
    model:    {model: FastSAM-s.pt, imgsz: 640}
    defaults: {keep_days: 7, keep_max_size: 20GB, segment_seconds: 600}   # every camera, unless it says
    cameras:
      yard:
        source: rtsp://user:${YARD_PASSWORD}@10.0.0.5/stream
        record: true
        prompts: [{text: a person}]
      door: {source: /data/door.mp4, realtime: true, keep_days: 2}

`${NAME}` is replaced by the environment variable NAME (secrets stay out of the file). The file
is checked with pydantic: every mistake is one line naming the file, the line and the key
("site.yaml:7: cameras.door.realtime: expected true or false, got 'maybe'"). Flags given on
the command line win over the file (`flag_defaults` become the parser's defaults).
`SiteConfig.model_json_schema()` is served at `GET /api/config/schema`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import FastSAMVideoError
from .retention import parse_size

ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(FastSAMVideoError):
    """A config file that cannot be used; one line per mistake."""


def _size(value):
    return parse_size(value) if isinstance(value, str) else value


ByteSize = Annotated[int, BeforeValidator(_size), Field(gt=0, description="bytes, or a size like 500MB, 20GB")]
Positive = Annotated[float, Field(gt=0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PromptConfig(Strict):
    """One tracked object: exactly one of points [[x, y, label], ...] (label 1 foreground, 0
    background), box [x1, y1, x2, y2] or text; `id` keeps its id and colour (default 1, 2, ...)."""

    id: int | None = Field(None, ge=1)
    points: list[Annotated[list[float], Field(min_length=2, max_length=3)]] | None = Field(None, min_length=1)
    box: Annotated[list[float], Field(min_length=4, max_length=4)] | None = None
    text: Annotated[str, Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def one_kind(self):
        given = sum(v is not None for v in (self.points, self.box, self.text))
        if given != 1:
            raise ValueError(f"expected exactly one of points, box or text, got {given}")
        if self.box is not None and not (self.box[2] > self.box[0] and self.box[3] > self.box[1]):
            raise ValueError(f"box: expected [x1, y1, x2, y2] with x1 < x2 and y1 < y2, got {self.box}")
        return self


class CameraSettings(Strict):
    """What a camera can set; `defaults` sets it for every camera."""

    realtime: bool | None = Field(None, description="play a file at its frame rate, like a camera")
    rtsp_transport: Literal["tcp", "udp"] | None = None
    open_timeout: Positive | None = None
    read_timeout: Positive | None = None
    max_lost: Annotated[float, Field(ge=0)] | None = Field(None, description="seconds a lost object is searched for")
    everything: bool | None = Field(None, description="show every mask besides the tracked objects")
    prompts: list[PromptConfig] | None = None
    record: bool | None = Field(None, description="record into OUTPUT/<camera name>/ in segments")
    segment_seconds: Positive | None = Field(None, description="length of a recording segment (default 600)")
    keep_days: Positive | None = Field(None, description="delete finished segments older than this")
    keep_max_size: ByteSize | None = Field(None, description="delete the oldest finished segments above this")
    zones: list[dict[str, Any]] | None = Field(None, description="zones {name, polygon: [[x, y], ...], options} "
                                               "and lines {name, line: [[x1, y1], [x2, y2]], options}, in 0-1")

    @field_validator("zones")
    @classmethod
    def valid_zones(cls, zones):
        from .analytics.geometry import ZoneError, ZoneSet

        try:
            ZoneSet.from_list(zones or [])
        except ZoneError as err:
            raise ValueError(str(err)) from None
        return zones


class CameraConfig(CameraSettings):
    source: Annotated[str, Field(min_length=1, description="a file, folder, webcam index or stream URL")]


class ServerConfig(Strict):
    host: str | None = None
    port: Annotated[int, Field(ge=0, le=65535)] | None = None
    token: str | None = None
    output: str | None = Field(None, description="folder for recordings")
    state: str | None = Field(None, description="state file (default: beside this file, NAME.state.json)")
    webhook: list[str] | None = None
    mqtt: list[str] | None = None


class ModelConfig(Strict):
    model: str | None = None
    device: str | None = None
    backend: Literal["torch", "onnx", "openvino", "auto"] | None = None
    imgsz: Annotated[int, Field(ge=32)] | None = None
    conf: Annotated[float, Field(ge=0, le=1)] | None = None
    iou: Annotated[float, Field(ge=0, le=1)] | None = None
    fp32: bool | None = None
    int8: bool | None = Field(None, description="the INT8 model on OpenVINO (CPU)")
    bf16: bool | None = Field(None, description="OpenVINO in bfloat16 on a CPU that has it")
    max_det: Annotated[int, Field(ge=1)] | None = None
    retina: bool | None = None
    clip_model: str | None = None


class SiteConfig(Strict):
    server: ServerConfig = ServerConfig()
    model: ModelConfig = ModelConfig()
    defaults: CameraSettings = CameraSettings()
    cameras: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")], CameraConfig] = {}

    def camera_settings(self, name: str) -> dict[str, Any]:
        """The camera's settings: its own, else the defaults' (only the keys set somewhere)."""
        return {**self.defaults.model_dump(exclude_none=True), **self.cameras[name].model_dump(exclude_none=True)}

    def flag_defaults(self) -> dict[str, Any]:
        """Command-line option values (argparse dests) the file sets."""
        values = {**self.model.model_dump(exclude_none=True), **self.server.model_dump(exclude_none=True)}
        for key in ("realtime", "rtsp_transport", "open_timeout", "read_timeout", "max_lost", "everything",
                    "segment_seconds", "keep_days", "keep_max_size"):
            value = getattr(self.defaults, key)
            if value is not None:
                values[key] = value
        return values


# ---------------------------------------------------------------- loading with line numbers

def load_config(path: str | Path, environ: dict[str, str] | None = None) -> SiteConfig:
    import yaml

    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"cannot read the config file {path}: {err.strerror or err}") from None
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path.name}:{mark.line + 1}" if mark else path.name
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML ({problem})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name}:1: expected a mapping with server, model, defaults and cameras, "
                          f"got {type(data).__name__}")
    environ = os.environ if environ is None else environ
    mistakes: list[str] = []
    data = _substitute(data, (), environ, lambda loc, msg: mistakes.append(_line(path, root, loc, msg)))
    try:
        config = SiteConfig.model_validate(data)
    except ValidationError as err:
        for error in err.errors():
            loc = tuple(error["loc"])
            message = _expected(error)
            if error["type"] == "extra_forbidden":
                message = f"unknown key (expected one of: {', '.join(_known_keys(loc))})"
            elif (error["type"] != "missing" and "got" not in message and error.get("input") is not None
                  and not isinstance(error["input"], (dict, list))):
                message += f", got {json.dumps(error['input'])[:60]}"
            mistakes.append(_line(path, root, _model_loc(loc), message))
    if mistakes:
        raise ConfigError("\n".join(dict.fromkeys(mistakes)))
    return config


EXPECTED = {"bool_parsing": "expected true or false", "bool_type": "expected true or false",
            "int_parsing": "expected an integer", "int_type": "expected an integer",
            "float_parsing": "expected a number", "float_type": "expected a number", "string_type": "expected text",
            "greater_than": "expected more than {gt}", "greater_than_equal": "expected at least {ge}",
            "less_than_equal": "expected at most {le}", "literal_error": "expected {expected}",
            "string_pattern_mismatch": "expected letters, digits, _ and - (a camera name)",
            "missing": "required, not given"}


def _expected(error: dict) -> str:
    template = EXPECTED.get(error["type"])
    if template is None:
        return error["msg"].removeprefix("Value error, ")
    return template.format(**{k: v for k, v in (error.get("ctx") or {}).items()})


def _substitute(value, loc: tuple, environ, report):
    if isinstance(value, dict):
        return {k: _substitute(v, (*loc, k), environ, report) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, (*loc, i), environ, report) for i, v in enumerate(value)]
    if isinstance(value, str):
        def replace(match):
            name = match.group(1)
            if name not in environ:
                report(loc, f"${{{name}}} is not set in the environment (export {name}=...)")
                return ""
            return environ[name]
        return ENV_REFERENCE.sub(replace, value)
    return value


def _model_loc(loc: tuple) -> tuple:
    """pydantic's loc without its validator tags (e.g. 'function-after[one_kind()]')."""
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))


def _known_keys(loc: tuple) -> list[str]:
    model: type[BaseModel] = SiteConfig
    for part in loc[:-1]:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            continue
        for candidate in (PromptConfig, CameraConfig, CameraSettings, ServerConfig, ModelConfig):
            if candidate.__name__ in repr(field.annotation):
                model = candidate
                break
    return list(model.model_fields)


def _line(path: Path, root, loc: tuple, message: str) -> str:
    """"site.yaml:7: cameras.door.realtime: <message>", the line of the deepest node found."""
    node, line = root, 1 if root is None else root.start_mark.line + 1
    for part in loc:
        child = None
        if node is not None and node.id == "mapping":
            child = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if child is not None:
                line = child[0].start_mark.line + 1
                child = child[1]
        elif node is not None and node.id == "sequence" and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    key = ".".join(str(p) for p in loc) or "the file"
    return f"{path.name}:{line}: {key}: {message}"


# ---------------------------------------------------------------- the command line

def with_config(parser, argv, args):
    """`args` parsed again with the config file's values as the defaults (flags given win), the
    config as `args.site_config` and the state file's path as `args.state_path`. `parser`: the
    CLI's, with `parser.subcommands` its subparsers."""
    from .state import default_path

    site = None
    if getattr(args, "config", None):
        site = load_config(args.config)
        parser.subcommands.choices[args.command].set_defaults(**site.flag_defaults())
        args = parser.parse_args(argv)
    args.site_config = site
    args.state_path = default_path(getattr(args, "config", None), getattr(args, "state", None))  # gui: no --config
    return args


def config_prompts(given, everything: bool, config: SiteConfig):
    """`run --config`: the command line's prompts (`given`, a PromptSet) if it has objects, else the
    config's defaults' or first camera's prompts."""
    from .state import prompt_set

    if given.objects:
        return given
    found = config.defaults.prompts or next((c.prompts for c in config.cameras.values() if c.prompts), None) or []
    return prompt_set(found, everything or None) if found else given


def schema() -> dict:
    return SiteConfig.model_json_schema()
