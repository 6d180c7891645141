"""Faster code paths of live generation give the bytes and answers of the straightforward ones.

Recipe rendering has a direct layout for the common shape (values still escaped by tomlkit);
wheel central directories are read without building an entry object per file. Each is held to
a plain reference implementation here.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automation.ecosystems import recipe as builders
from automation.ecosystems.pypi import client as pypi
from automation.ecosystems.recipe import render_recipe

# ------------------------------------------------------------------ recipe rendering


def document_path(**kwargs: Any) -> str:
    """render_recipe with the direct layout switched off: the tomlkit document path."""
    saved = builders._render_common
    builders._render_common = lambda *a, **k: None  # type: ignore[assignment]
    try:
        return render_recipe(**kwargs)
    finally:
        builders._render_common = saved


TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=25)
KEYS = st.sampled_from(["action", "package", "executables", "crate", "x-y", "a_b", "two words"])
VALUES = st.one_of(TEXT, st.lists(TEXT, max_size=4), st.booleans(), st.integers())


@settings(max_examples=400)
@given(
    description=TEXT,
    homepage=TEXT,
    steps=st.lists(st.dictionaries(KEYS, VALUES, max_size=4), max_size=3),
    verify_command=st.one_of(st.none(), TEXT),
    verify_pattern=TEXT,
    dependencies=st.lists(TEXT, max_size=3),
)
def test_direct_layout_gives_the_document_bytes(**kwargs: Any) -> None:
    kwargs["dependencies"] = tuple(kwargs["dependencies"])
    assert render_recipe(name="tool", **kwargs) == document_path(name="tool", **kwargs)


def test_usual_recipes_take_the_direct_layout() -> None:
    args = ("cowsay", 'Say "moo"\t\\', "https://example.org", [
        {"action": "npm_install", "package": "cowsay", "executables": ["cowsay", "cowthink"]}
    ], "cowsay --version", "", ())  # fmt: skip
    text = builders._render_common(*args)
    assert text is not None
    assert text == document_path(
        name="cowsay",
        description=args[1],
        homepage=args[2],
        steps=args[3],
        verify_command=args[4],
    )


def test_extra_metadata_takes_the_document_path() -> None:
    kwargs: dict[str, Any] = {
        "name": "gh",
        "description": "d",
        "homepage": "https://x.example",
        "steps": [{"action": "github_archive", "repo": "cli/cli"}],
        "verify_command": "gh --version",
        "extra_metadata": {"tier": 2},
    }
    assert "tier = 2" in render_recipe(**kwargs)
    assert render_recipe(**kwargs) == document_path(**kwargs)


# ------------------------------------------------------------------ wheel central directory


def reference_safe_member(name: str) -> bool:
    """The original check, segment by segment."""
    if not name or name.startswith(("/", "\\")) or "\\" in name or "\x00" in name:
        return False
    return all(p not in ("", ".", "..") and p.isprintable() for p in name.split("/"))


NAMES = st.one_of(
    st.text(alphabet="ab./\\\x00\n\u00e9\u2028 ", max_size=12),
    st.lists(
        st.sampled_from(["", ".", "..", "...", "a", "b.c", "é", "x\ny", "d\u200b"]), max_size=5
    ).map("/".join),
)


@settings(max_examples=2000)
@given(NAMES)
def test_safe_member_matches_the_segment_check(name: str) -> None:
    assert pypi._safe_member(name) == reference_safe_member(name)


def build_wheel(names: list[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            archive.writestr(name, b"[console_scripts]\nx = x:main\n")
    return buffer.getvalue()


def central_directory(blob: bytes) -> tuple[bytes, int]:
    count, size, offset, _ = pypi._find_eocd(blob[-65536:], "u")
    return blob[offset : offset + size], count


@pytest.mark.parametrize(
    "names",
    [
        ["tool/__init__.py", "tool-1.0.dist-info/entry_points.txt", "tool-1.0.data/scripts/t"],
        ["pkg/\u00fcber.py", "pkg/\u65e5\u672c.txt", "pkg-1.dist-info/RECORD"],  # UTF-8 flag
        ["a/./b", "../evil", "ok-1.dist-info/entry_points.txt", "x.data/scripts/bad name"],
    ],
)
def test_central_directory_lists_what_zipfile_lists(names: list[str]) -> None:
    blob = build_wheel(names)
    data, count = central_directory(blob)
    entries = pypi.parse_central_directory(data, count, "u")
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        infos = archive.infolist()
    assert [e.name for e in entries] == [i.filename for i in infos]
    assert [(e.compressed_size, e.size, e.header_offset, e.crc) for e in entries] == [
        (i.compress_size, i.file_size, i.header_offset, i.CRC) for i in infos
    ]


def test_cp437_names_decode_as_before() -> None:
    blob = build_wheel(["caf\u00e9.txt"])
    # Clear the UTF-8 flag of the central record: the name then reads as cp437.
    data, count = central_directory(blob)
    raw = bytearray(data)
    assert raw[9] & 0x08  # zipfile set the UTF-8 flag (bit 11: high byte of the flags)
    raw[9] &= ~0x08
    entry = pypi.parse_central_directory(bytes(raw), count, "u")[0]
    assert entry.name == "caf\u00e9.txt".encode().decode("cp437")


@settings(max_examples=300)
@given(st.lists(NAMES | st.sampled_from([
    "tool-1.0.dist-info/entry_points.txt", "other-2.dist-info/entry_points.txt",
    "tool-1.0.data/scripts/tool", "tool-1.0.data/scripts/bad name",
    "a/b.dist-info/entry_points.txt",
]), max_size=8))  # fmt: skip
def test_locate_members_on_names_matches_entries(names: list[str]) -> None:
    entries = [pypi.ZipEntry(n, 8, 0, 0, 1, 1, i) for i, n in enumerate(names)]
    chosen, scripts, ignored = pypi.locate_members(entries, "tool")
    index, scripts2, ignored2 = pypi._locate(names, "tool")
    assert (scripts, ignored) == (scripts2, ignored2)
    assert chosen == (None if index is None else entries[index])
    # The reference: every member the original loop would have considered.
    expected_scripts = sorted(
        {
            n.split("/")[2]
            for n in names
            if reference_safe_member(n)
            and len(n.split("/")) == 3
            and n.split("/")[0].endswith(".data")
            and n.split("/")[1] == "scripts"
            and pypi.SCRIPT_NAME.fullmatch(n.split("/")[2])
        }
    )
    assert list(scripts) == expected_scripts
