"""Replacing one section of BENCHMARKS.md (``python -m bench.<section>`` runs one alone)."""

from __future__ import annotations

import re
from pathlib import Path


def replace_section(output: Path, title: str, lines: list[str]) -> None:
    """Put ``lines`` (starting with ``title``) into ``output`` in place of the section of that
    title, or before the closing "Total benchmark time" line, or at the end."""
    text = output.read_text(encoding="utf-8") if output.exists() else ""
    block = "\n".join(lines).rstrip() + "\n\n"
    pattern = re.compile(re.escape(title) + r".*?(?=^## |^Total benchmark time|\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text)
    elif "Total benchmark time" in text:
        text = text.replace("Total benchmark time", block + "Total benchmark time", 1)
    else:
        text += "\n" + block
    output.write_text(text, encoding="utf-8")
