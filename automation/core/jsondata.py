"""Decoding JSON data files defensively: every failure becomes a Problem naming the place.

The readers of data files (metrics, audits, results, manifests, ...) share these helpers so that
arbitrary bytes, truncated files, deep nesting or huge numbers are reported, never raised.

Every decoded value is also held to fixed bounds before any model is built from it: nesting at
most :data:`MAX_DEPTH` levels (no file the kit writes nests more than a handful; deeper values
crash recursive checkers and renderers) and integers within a signed 64-bit range (what SQLite
and every other consumer can store; a larger one raised ``OverflowError`` in the failure index).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automation.core.report import Problem

MAX_DEPTH = 64
INT_MIN = -(2**63)
INT_MAX = 2**63 - 1


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are accepted by Python's json module but are not JSON.
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
_WHITESPACE = " \t\r\n"


@dataclass(frozen=True, slots=True)
class Decoded:
    """One decoded JSON value (or the reason it could not be decoded) and where it started."""

    line: int
    value: Any
    problem: Problem | None = None


def read_text(path: Path, rel: str) -> tuple[str | None, Problem | None]:
    """The file's text, or a Problem when it cannot be read or is not UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, Problem(rel, "", f"cannot read: {exc.strerror or exc}")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, Problem(rel, f"line {line}", f"not UTF-8 (byte {exc.start})")


TOO_DEEP = f"invalid JSON: nested deeper than {MAX_DEPTH} levels"


def _out_of_bounds(value: Any) -> bool:
    """True when ``value`` nests deeper than MAX_DEPTH or holds an integer outside int64.

    Iterative (a recursive walk would itself hit the recursion limit on the values it rejects)
    and without paths, so the common in-bounds case costs one pass over the containers.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        items = current.values() if type(current) is dict else current
        for item in items:
            kind = type(item)
            if kind is dict or kind is list:
                stack.append((item, depth + 1))
            elif kind is int and not INT_MIN <= item <= INT_MAX:
                return True
    return False


def bounds_message(value: Any) -> str | None:
    """Why ``value`` is out of bounds (naming the field), or None when it is within them."""
    if type(value) is int:
        return None if INT_MIN <= value <= INT_MAX else _int_message("(top level)", value)
    if type(value) not in (dict, list) or not _out_of_bounds(value):
        return None
    # Rare: walk again, this time keeping the path to name the offending field.
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        current, depth, path = stack.pop()
        if depth > MAX_DEPTH:
            return f"{TOO_DEEP} (at {path or '(top level)'})"
        is_list = type(current) is list
        pairs = enumerate(current) if is_list else current.items()
        for key, item in pairs:
            where = f"{path}[{key}]" if is_list else f"{path}.{key}" if path else str(key)
            kind = type(item)
            if kind is dict or kind is list:
                stack.append((item, depth + 1, where))
            elif kind is int and not INT_MIN <= item <= INT_MAX:
                return _int_message(where, item)
    return None  # pragma: no cover - _out_of_bounds said otherwise


def _int_message(where: str, value: int) -> str:
    digits = str(value)
    shown = digits if len(digits) <= 40 else digits[:40] + "..."
    return f"integer {shown} at {where} is outside the 64-bit range [-2**63, 2**63-1]"


def bounded(value: Any, rel: str, where: str) -> Problem | None:
    """A Problem naming file and place when ``value`` is outside the bounds, else None."""
    message = bounds_message(value)
    return None if message is None else Problem(rel, where or "(top level)", message)


def loads(text: str, rel: str, where: str = "") -> tuple[Any, Problem | None]:
    """``json.loads`` that reports instead of raising (syntax, huge integers, deep nesting).

    A value outside the bounds (see module) is reported like a syntax error: no reader ever
    builds a model from it.
    """
    value, problem = decode(text, rel, where)
    if problem is None:
        problem = bounded(value, rel, where)
    return (None, problem) if problem else (value, None)


def decode(text: str, rel: str, where: str = "") -> tuple[Any, Problem | None]:
    """Decode without the bounds walk: syntax, NaN, over-long numbers and nesting deep enough to
    exhaust the recursion limit are reported, but a value may still nest past MAX_DEPTH or hold
    an integer outside int64.

    Only for a hot reader that proves most values in bounds with its own closed-shape check
    (every field typed, integers range-checked) and calls :func:`bounded` on the rest.
    """
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        place = f"{where} column {exc.colno}" if where else f"line {exc.lineno} column {exc.colno}"
        return None, Problem(rel, place, f"invalid JSON: {exc.msg}")
    except ValueError as exc:  # e.g. an integer longer than Python's digit limit
        return None, Problem(rel, where or "(top level)", f"invalid JSON value: {exc}"[:300])
    except RecursionError:
        return None, Problem(rel, where or "(top level)", TOO_DEEP)
    return value, None


def read_json(path: Path, rel: str) -> tuple[Any, Problem | None]:
    """One whole JSON file, decoded within the bounds: ``read_text`` then ``loads``."""
    text, problem = read_text(path, rel)
    if text is None:
        return None, problem
    return loads(text, rel)


def iter_json_lines(text: str, rel: str) -> Iterator[Decoded]:
    """One value per non-blank line (JSONL); a bad line is reported by its number."""
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        value, problem = loads(line, rel, f"line {lineno}")
        yield Decoded(lineno, value, problem)


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def iter_json_stream(text: str, rel: str) -> Iterator[Decoded]:
    """Concatenated JSON values (pretty-printed or one a line), as the metrics files hold them.

    After a syntax error the reader skips to the next line that starts with ``{`` so one broken
    record does not hide the ones after it; the error is reported as ``line L column C``.
    """
    index = 0
    end = len(text)
    while True:
        while index < end and text[index] in _WHITESPACE:
            index += 1
        if index >= end:
            return
        line, column = _position(text, index)
        try:
            value, next_index = _DECODER.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            err_line, err_column = _position(text, exc.pos)
            yield Decoded(
                line,
                None,
                Problem(rel, f"line {err_line} column {err_column}", f"invalid JSON: {exc.msg}"),
            )
            resume = text.find("\n{", max(exc.pos, index + 1) - 1)
            if resume < 0:
                return
            index = resume + 1
            continue
        except ValueError as exc:
            yield Decoded(
                line,
                None,
                Problem(rel, f"line {line} column {column}", f"invalid JSON value: {exc}"[:300]),
            )
            resume = text.find("\n{", index + 1)
            if resume < 0:
                return
            index = resume + 1
            continue
        except RecursionError:
            yield Decoded(line, None, Problem(rel, f"line {line} column {column}", TOO_DEEP))
            return
        index = next_index
        problem = bounded(value, rel, f"line {line} column {column}")
        yield Decoded(line, None, problem) if problem else Decoded(line, value)


def non_finite_paths(value: Any, path: str = "") -> list[str]:
    """Places holding NaN or infinity: valid Python floats, but not JSON a writer may emit."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [path or "(top level)"]
    if isinstance(value, dict):
        out: list[str] = []
        for key, item in value.items():
            out += non_finite_paths(item, f"{path}.{key}" if path else str(key))
        return out
    if isinstance(value, list):
        out = []
        for index, item in enumerate(value):
            out += non_finite_paths(item, f"{path}[{index}]")
        return out
    return []
