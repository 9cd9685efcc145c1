"""Post-processing after a successful run (platypus.md §8): logging `status` normalisation,
`time` key promotion, and the drop mark. Skipped entirely when the run failed."""

from __future__ import annotations

from typing import Any

from offload.point import Point, UInt

from .convert import wrap_int64

__all__ = ["STATUS_MAP", "normalize_status", "postprocess", "promote_time"]

STATUS_MAP = {
    "f": "emerg", "emerg": "emerg",
    "a": "alert", "alert": "alert",
    "c": "critical", "critical": "critical",
    "e": "error", "error": "error",
    "w": "warning", "warn": "warning", "warning": "warning",
    "n": "notice", "notice": "notice",
    "i": "info", "info": "info",
    "d": "debug", "trace": "debug", "verbose": "debug", "debug": "debug",
    "o": "OK", "s": "OK", "ok": "OK",
    "": "info",
}


def normalize_status(s: str) -> str:
    """The §8.1 table: known spellings mapped, anything else lower-cased, empty -> info."""
    low = s.lower()
    return STATUS_MAP.get(low, low)


_STATUS_CACHE: dict[str, str] = {}  # raw status -> normalised; few distinct values in practice


def _normalized(raw: str) -> str:
    s = _STATUS_CACHE.get(raw)
    if s is None:
        s = normalize_status(raw)
        if len(_STATUS_CACHE) < 4096:
            _STATUS_CACHE[raw] = s
    return s


def _status_of(raw: Any) -> str:
    """The normalised status of a non-str `status` field value (bytes are decoded, others are info)."""
    if raw.__class__ is bytes:
        return _normalized(raw.decode("utf-8", "replace"))
    return "info"


def _status(point: Point, ignore_status: Any, disable_status: bool) -> bool:
    """Normalise `status`; True if the point must be dropped by the ignore list."""
    tags, fields = point.tags, point.fields
    if tags and "status" in tags:
        raw: Any = tags["status"]
        target = tags
    else:
        raw = fields.get("status")
        target = fields
        if raw.__class__ is bytes:
            raw = raw.decode("utf-8", "replace")
    s = raw if raw.__class__ is str else "info"
    if not disable_status:
        s = _normalized(s)
        target["status"] = s
    if ignore_status:
        return s.lower() in ignore_status
    return False


def promote_time(point: Point) -> None:
    """§8.3: a non-zero int `time` key becomes the timestamp; the key is removed in every case."""
    tags, fields = point.tags, point.fields
    if "time" in tags:
        del tags["time"]
        return
    v = fields.pop("time", None)
    if v is not None and type(v) is not bool and isinstance(v, int):
        v = wrap_int64(int(v)) if type(v) is UInt else v
        if v:
            point.time = v


def postprocess(ctx: Any, point: Point, category: str, ignore_status: Any = (), disable_status: bool = False) -> bool:
    """Apply §8 to a successfully run point; returns True if the status ignore list drops it."""
    dropped = False
    if category == "logging":
        opts = ctx._options
        if opts is None or opts.get("status_mapping", True) is not False:
            dropped = _status(point, ignore_status, disable_status)
    if "time" in point.fields or "time" in point.tags:
        promote_time(point)
    return dropped
