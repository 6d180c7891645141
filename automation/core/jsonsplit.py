"""Split a large JSON object into the raw texts of the members a caller reads.

Registry documents are large and the kit reads a small part of each: an npm packument carries
every version's manifest (typescript's is 10 MB) and a PyPI project document every release's
files, yet a recipe needs the latest ones. Decoding all of it with ``json.loads`` was the largest
CPU cost of live generation, all of it holding the GIL. ``split_object`` checks the syntax of the
whole document but builds nothing for the parts nobody reads (msgspec's ``Raw``); the caller
decodes the members it reads with ``json.loads`` itself.

Faithfulness: ``split_object`` answers None whenever it cannot vouch that ``json.loads(body)``
would give the same members (a BOM or UTF-16/32, bytes that are not UTF-8 as ``json.loads``
reads them, not an object, malformed anywhere, ``NaN``, a lone surrogate escape, too deep, the
nested member not an object, msgspec missing...). Callers then decode the whole body with
``json.loads``, which raises exactly the errors it always did. Duplicate keys keep the last
value, as in ``json.loads``.
"""

from __future__ import annotations

import codecs
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

try:
    import msgspec
except ImportError:  # pragma: no cover - the fallback gives the same results, only slower
    msgspec = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from msgspec import Raw


@dataclass(frozen=True, slots=True)
class Members:
    """Raw JSON texts (msgspec ``Raw`` buffers into the body, no copies) of the requested
    members that are present.

    ``nested`` maps each key of the object at the requested nested member to its raw text, or
    is None when that member is absent. ``json.loads(bytes(text))`` decodes one text.
    """

    raw: dict[str, Raw]
    nested: dict[str, Raw] | None


@functools.cache
def _decoder(keys: tuple[str, ...], nested: str | None) -> Any:
    fields: list[tuple[str, Any, Any]] = [
        (f"m{i}", msgspec.Raw | msgspec.UnsetType, msgspec.field(default=msgspec.UNSET, name=key))
        for i, key in enumerate(keys)
    ]
    if nested is not None:
        fields.append(
            (
                "nested",
                dict[str, msgspec.Raw] | msgspec.UnsetType,
                msgspec.field(default=msgspec.UNSET, name=nested),
            )
        )
    return msgspec.json.Decoder(msgspec.defstruct("Members", fields))


def split_object(body: bytes, keys: tuple[str, ...], nested: str | None = None) -> Members | None:
    """The members ``keys`` (and the members of the object at ``nested``) of the JSON object
    ``body`` as raw texts, in one pass; None when only ``json.loads`` can decide (see module)."""
    if msgspec is None or nested in keys:
        return None
    if body[:1] not in (b"{", b" ", b"\t", b"\n", b"\r"):
        return None  # a BOM, UTF-16/32 or not an object
    try:
        # json.loads(bytes) decodes UTF-8 with "surrogatepass"; msgspec does not look at the
        # bytes inside strings it skips, so the encoding is checked here.
        codecs.utf_8_decode(body, "surrogatepass", True)
        decoded = _decoder(keys, nested).decode(body)
    except (ValueError, RecursionError, msgspec.MsgspecError):
        return None
    raw: dict[str, Raw] = {}
    for i, key in enumerate(keys):
        value = getattr(decoded, f"m{i}")
        if value is not msgspec.UNSET:
            raw[key] = value
    inner = getattr(decoded, "nested", msgspec.UNSET)
    return Members(raw, None if inner is msgspec.UNSET else inner)
