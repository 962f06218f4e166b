"""Passwords never reach a message, a log line or a name: everything a source shows goes through
`redact_url`, errors through `_reason` / `_scrub`, and FFmpeg's own log messages are redacted too
(`install_log_redaction`)."""

from __future__ import annotations

import logging
import re
from typing import Any

import av

_SECRET_QUERY_KEYS = re.compile(r"([?&](?:password|passwd|pwd|pass|token|access_token|key|secret|auth|signature|sig)=)[^&#\s'\"]*",
                                re.IGNORECASE)
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


def redact_url(url: str) -> str:
    """`url` with its password (and password-like query values) replaced by ***.

    rtsp://admin:s3cret@cam/live -> rtsp://admin:***@cam/live. Text without a URL is
    returned unchanged."""
    scheme, sep, rest = url.partition("://")
    if sep:
        # The authority ends at the first / ? or #; the password may itself hold '@' or ':'.
        end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
        authority, tail = rest[:end], rest[end:]
        userinfo, at, host = authority.rpartition("@")
        if at and ":" in userinfo:
            user = userinfo.split(":", 1)[0]
            authority = f"{user}:***@{host}"
        url = f"{scheme}://{authority}{tail}"
    return _SECRET_QUERY_KEYS.sub(r"\1***", url)


def _redact_text(text: str) -> str:
    """Redacts every URL inside `text` (FFmpeg errors quote the URL they failed on)."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group()), text)


def _reason(err: BaseException) -> str:
    """A short, password-free description of an exception for a one-line message."""
    text = getattr(err, "strerror", None) or str(err) or type(err).__name__
    return _redact_text(" ".join(str(text).split()))


def _redact_any(value: Any) -> Any:
    if isinstance(value, str):
        return _redact_text(value)
    if isinstance(value, tuple):
        return tuple(_redact_any(v) for v in value)
    return value


def _scrub(err: BaseException) -> BaseException:
    """`err` with the URLs in its arguments redacted, in place, before it becomes the
    `__cause__` of a SourceError: PyAV's errors quote the URL they failed on, password
    included, and a printed traceback shows the cause too."""
    try:
        err.args = _redact_any(err.args)
        for attr in ("filename", "filename2"):  # plain OSErrors keep these apart from args
            if isinstance(err, OSError) and not isinstance(err, av.error.FFmpegError) \
                    and isinstance(getattr(err, attr, None), str):
                setattr(err, attr, _redact_text(getattr(err, attr)))
    except (AttributeError, TypeError):  # an exception type that will not be changed: leave it
        pass
    return err


_AUTH_HEADER = re.compile(r"((?:Proxy-)?Authorization:\s*)[^\r\n]*", re.IGNORECASE)
_log_redaction_installed = False


def install_log_redaction() -> None:
    """Makes FFmpeg's own log messages password-free.

    With `av.logging.set_level(...)` PyAV forwards FFmpeg's messages to the `libav.*`
    loggers; at DEBUG the RTSP client logs every request it sends, with its URLs and its
    `Authorization: Basic <base64 of user:password>` header. This wraps the log record
    factory (chaining the one in place) so that `libav` records are redacted as they are
    made, whatever handlers are attached. Idempotent; StreamSource calls it."""
    global _log_redaction_installed
    if _log_redaction_installed:
        return
    _log_redaction_installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.name.startswith("libav"):
            try:
                text = record.getMessage()
            except Exception:  # a malformed record: leave it to the handler to report
                return record
            record.msg, record.args = _AUTH_HEADER.sub(r"\1***", _redact_text(text)), None
        return record

    logging.setLogRecordFactory(factory)
