"""Decoding JSON data files defensively: every failure becomes a Problem naming the place.

The readers of data files (metrics, audits, results, manifests, ...) share these helpers so that
arbitrary bytes, truncated files, deep nesting or huge numbers are reported, never raised.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automation.core.report import Problem


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


def loads(text: str, rel: str, where: str = "") -> tuple[Any, Problem | None]:
    """``json.loads`` that reports instead of raising (syntax, huge integers, deep nesting)."""
    try:
        return _DECODER.decode(text), None
    except json.JSONDecodeError as exc:
        place = f"{where} column {exc.colno}" if where else f"line {exc.lineno} column {exc.colno}"
        return None, Problem(rel, place, f"invalid JSON: {exc.msg}")
    except ValueError as exc:  # e.g. an integer longer than Python's digit limit
        return None, Problem(rel, where or "(top level)", f"invalid JSON value: {exc}"[:300])
    except RecursionError:
        return None, Problem(rel, where or "(top level)", "invalid JSON: nested too deeply")


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
            yield Decoded(
                line,
                None,
                Problem(rel, f"line {line} column {column}", "invalid JSON: nested too deeply"),
            )
            return
        yield Decoded(line, value)
        index = next_index


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
