"""Timestamps: read every form the reference data uses, write RFC3339 UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_HYPHENATED = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})Z$")
_FRACTION = re.compile(r"\.(\d+)")


def parse_timestamp(text: str) -> datetime:
    """Parse RFC3339 (with up to nanoseconds) or the hyphenated file-name form, as UTC.

    Raises ValueError naming the text when it is none of them.
    """
    if not isinstance(text, str):
        raise ValueError(f"timestamp must be a string, got {type(text).__name__}")
    match = _HYPHENATED.match(text)
    if match:
        text = f"{match[1]}T{match[2]}:{match[3]}:{match[4]}Z"
    normalised = _FRACTION.sub(lambda m: "." + m[1][:6].ljust(6, "0"), text)
    if normalised.endswith(("Z", "z")):
        normalised = normalised[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(normalised)
    except ValueError:
        raise ValueError(f"not an RFC3339 timestamp: {text!r}") from None
    if value.tzinfo is None or "T" not in normalised.upper():
        raise ValueError(f"not an RFC3339 timestamp with time zone: {text!r}")
    return value.astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (the form tsuku's Go readers parse with an exact layout)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_filename_stamp(value: datetime) -> str:
    """``YYYY-MM-DDTHH-MM-SSZ`` as used in the reference file names."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
