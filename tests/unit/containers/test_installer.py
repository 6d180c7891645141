"""The in-container installer, exercised on the host: hostile archives, `when`, patterns."""

from __future__ import annotations

import ast
import io
import json
import os
import shutil
import stat
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from automation.containers import installer
from automation.containers.installer import (
    Context,
    Platform,
    StepFailure,
    UnsafeArchive,
    pattern_matches,
    safe_extract,
    unsupported_reason,
    when_matches,
)

DEBIAN = Platform.parse("linux-debian-glibc-x86_64")
ALPINE = Platform.parse("linux-alpine-musl-x86_64")
ARM = Platform.parse("linux-rhel-glibc-arm64")
MAC = Platform.parse("darwin-arm64")


# --- hostile archives, built here ------------------------------------------------------------


def make_tar(
    path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], mode: str = "w:gz"
) -> Path:
    with tarfile.open(path, mode) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return path


def file_member(name: str, data: bytes = b"x", mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = mode
    return info, data


def link_member(
    name: str, target: str, kind: bytes = tarfile.SYMTYPE
) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def assert_nothing_left(parent: Path) -> None:
    """A refused archive leaves neither its destination nor a half-extracted tree behind."""
    assert not parent.exists() or list(parent.iterdir()) == [], list(parent.rglob("*"))


@pytest.mark.parametrize(
    "members",
    [
        [file_member("../evil", b"pwned")],
        [file_member("ok/../../evil", b"pwned")],
        [file_member("/tmp/evil-absolute", b"pwned")],
        [link_member("link", "/etc/passwd")],
        [link_member("link", "../../outside")],
        # a symlink pointing at the tree root, then a path climbing out through it
        [link_member("a", "."), link_member("a/a/up", "../..")],
        [link_member("hard", "/etc/passwd", tarfile.LNKTYPE)],
        [link_member("hard", "../outside", tarfile.LNKTYPE)],
    ],
    ids=[
        "dotdot",
        "nested-dotdot",
        "absolute",
        "abs-symlink",
        "rel-symlink-out",
        "symlink-chain",
        "hardlink-abs",
        "hardlink-out",
    ],
)
def test_hostile_tar_is_rejected_and_nothing_escapes(tmp_path: Path, members: list) -> None:
    archive = make_tar(tmp_path / "evil.tar.gz", members)
    dest = tmp_path / "sandbox" / "out"
    with pytest.raises(UnsafeArchive) as caught:
        safe_extract(str(archive), str(dest))
    assert caught.value.category == "install_failed"
    assert caught.value.subcategory == "unsafe_archive"
    assert not (tmp_path / "sandbox" / "evil").exists()
    assert not (tmp_path / "evil").exists()
    assert_nothing_left(tmp_path / "sandbox")


def test_write_through_symlinked_directory_is_rejected(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    # "d" points inside at first glance only if resolved lexically; it really points outside.
    archive = make_tar(
        tmp_path / "evil.tar", [link_member("d", str(outside)), file_member("d/payload")], "w"
    )
    with pytest.raises(UnsafeArchive):
        safe_extract(str(archive), str(tmp_path / "out"))
    assert not (outside / "payload").exists()


def test_device_files_are_rejected(tmp_path: Path) -> None:
    info = tarfile.TarInfo("dev/null-again")
    info.type = tarfile.CHRTYPE
    info.devmajor, info.devminor = 1, 3
    archive = make_tar(tmp_path / "dev.tar", [(info, None)], "w")
    with pytest.raises(UnsafeArchive, match="device"):
        safe_extract(str(archive), str(tmp_path / "out"))


def test_benign_tar_extracts_with_strip_links_and_modes(tmp_path: Path) -> None:
    archive = make_tar(
        tmp_path / "tool-1.0.tar.xz",
        [
            file_member("tool-1.0/bin/tool", b"#!/bin/sh\necho tool 1.0\n", 0o4755),
            file_member("tool-1.0/share/readme", b"hi"),
            link_member("tool-1.0/bin/tool-alias", "tool"),
            link_member("tool-1.0/share/readme2", "tool-1.0/share/readme", tarfile.LNKTYPE),
        ],
        "w:xz",
    )
    out = Path(safe_extract(str(archive), str(tmp_path / "out"), strip_dirs=1))
    tool = out / "bin" / "tool"
    assert tool.read_bytes().startswith(b"#!/bin/sh")
    assert tool.stat().st_mode & 0o777 == 0o755  # setuid dropped, exec kept
    assert not tool.stat().st_mode & stat.S_ISUID
    assert os.readlink(out / "bin" / "tool-alias") == "tool"
    assert (out / "share" / "readme2").read_bytes() == b"hi"


def make_zip(path: Path, entries: list[tuple[str, bytes, int]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = mode << 16
            zf.writestr(info, data)
    return path


@pytest.mark.parametrize(
    "entries",
    [
        [("../../zip-slip", b"pwned", 0o100644)],
        [("/abs/zip", b"pwned", 0o100644)],
        [("..\\windows-slip", b"pwned", 0o100644)],
        [("link", b"/etc/passwd", 0o120777)],
        [("link", b"../../../outside", 0o120777)],
        [("fifo", b"", 0o010644)],
    ],
    ids=["zip-slip", "absolute", "backslash-slip", "abs-symlink", "rel-symlink-out", "fifo"],
)
def test_hostile_zip_is_rejected(tmp_path: Path, entries: list) -> None:
    archive = make_zip(tmp_path / "evil.zip", entries)
    with pytest.raises(UnsafeArchive):
        safe_extract(str(archive), str(tmp_path / "a" / "b" / "out"))
    assert not (tmp_path / "a" / "zip-slip").exists()
    assert not (tmp_path / "zip-slip").exists()
    assert_nothing_left(tmp_path / "a" / "b")


def test_benign_zip_keeps_exec_bit_and_inside_symlinks(tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "ok.zip",
        [("pkg/bin/run", b"#!/bin/sh\n", 0o100755), ("pkg/bin/alias", b"run", 0o120777)],
    )
    out = Path(safe_extract(str(archive), str(tmp_path / "out"), archive_format="zip"))
    assert os.access(out / "pkg" / "bin" / "run", os.X_OK)
    assert os.readlink(out / "pkg" / "bin" / "alias") == "run"


def test_hardlink_to_a_member_replaced_by_a_symlink_is_refused(tmp_path: Path) -> None:
    """``d1/d2/f`` is a file, then a symlink to ``../../g`` (inside: dest/g), then ``h`` is a
    hardlink to it. Copying the link as it is would plant ``h -> ../../g`` at the top of the
    tree, two levels above it."""
    archive = make_tar(
        tmp_path / "chain.tar",
        [
            file_member("d1/d2/f", b"first"),
            link_member("d1/d2/f", "../../g"),
            link_member("h", "d1/d2/f", tarfile.LNKTYPE),
        ],
        "w",
    )
    with pytest.raises(UnsafeArchive, match="not a regular file"):
        safe_extract(str(archive), str(tmp_path / "sandbox" / "out"))
    assert_nothing_left(tmp_path / "sandbox")


def test_hardlinks_to_regular_files_stay_and_to_directories_are_refused(tmp_path: Path) -> None:
    ok = make_tar(
        tmp_path / "ok.tar",
        [
            file_member("bin/tool", b"#!/bin/sh\n", 0o755),
            link_member("bin/alias", "bin/tool", tarfile.LNKTYPE),
        ],
        "w",
    )
    out = Path(safe_extract(str(ok), str(tmp_path / "out")))
    assert (out / "bin" / "alias").read_bytes() == b"#!/bin/sh\n"
    assert not (out / "bin" / "alias").is_symlink()
    directory = tarfile.TarInfo("share")
    directory.type = tarfile.DIRTYPE
    bad = make_tar(
        tmp_path / "dir.tar", [(directory, None), link_member("h", "share", tarfile.LNKTYPE)], "w"
    )
    with pytest.raises(UnsafeArchive):
        safe_extract(str(bad), str(tmp_path / "sandbox" / "out"))
    assert_nothing_left(tmp_path / "sandbox")


def test_a_symlink_a_later_member_turns_outward_is_refused(tmp_path: Path) -> None:
    """``a -> s/../z`` is inside while ``s`` does not exist; ``s -> .`` then makes ``a`` resolve
    to the destination's parent. Each link passes on its own: the finished tree is checked."""
    archive = make_tar(
        tmp_path / "late.tar", [link_member("a", "s/../z"), link_member("s", ".")], "w"
    )
    with pytest.raises(UnsafeArchive, match="symlink out of the tree"):
        safe_extract(str(archive), str(tmp_path / "sandbox" / "out"))
    assert_nothing_left(tmp_path / "sandbox")


def zeros_tar(path: Path, sizes: dict[str, int]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, size in sizes.items():
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, io.BytesIO(bytes(size)))
    return path


def test_a_bomb_is_refused_before_its_bytes_land(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = zeros_tar(tmp_path / "bomb.tar.gz", {"small": 1000, "huge": 8 << 20})
    assert archive.stat().st_size < 64 << 10  # compresses to almost nothing
    opened: list[str] = []
    real_open = os.open

    def spy(path: str, *args: object, **kwargs: object) -> int:
        opened.append(os.path.basename(path))
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", spy)
    with pytest.raises(UnsafeArchive, match="size limit at 'huge'"):
        safe_extract(str(archive), str(tmp_path / "sandbox" / "out"), max_bytes=1 << 20)
    assert "small" in opened and "huge" not in opened  # refused on its declared size
    assert_nothing_left(tmp_path / "sandbox")


def test_many_small_members_over_the_cap_leave_nothing_behind(tmp_path: Path) -> None:
    archive = zeros_tar(tmp_path / "many.tar.gz", {f"part{i}": 300 << 10 for i in range(8)})
    with pytest.raises(UnsafeArchive, match="size limit at 'part3'"):
        safe_extract(str(archive), str(tmp_path / "sandbox" / "out"), max_bytes=1 << 20)
    assert_nothing_left(tmp_path / "sandbox")  # part0..part2 were written, then removed


def test_a_zip_bomb_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ok.txt", b"fine")
        zf.writestr("zeros.bin", bytes(8 << 20))
    with pytest.raises(UnsafeArchive, match="size limit"):
        safe_extract(str(archive), str(tmp_path / "sandbox" / "out"), max_bytes=1 << 20)
    assert_nothing_left(tmp_path / "sandbox")


def test_the_action_passes_its_context_cap_and_the_tree_is_not_created(tmp_path: Path) -> None:
    import hashlib

    archive = zeros_tar(tmp_path / "t.tar.gz", {"bin/t": 4 << 20})
    step = {
        "action": "download_archive",
        "url": archive.as_uri(),
        "checksum": hashlib.sha256(archive.read_bytes()).hexdigest(),
        "binaries": ["bin/t"],
    }
    ctx = Context("t", DEBIAN, str(tmp_path / "p"), extract_limit=1 << 20)
    record = installer.install({"metadata": {"name": "t"}, "steps": [step]}, ctx)
    assert (record["status"], record["subcategory"]) == ("fail", "unsafe_archive"), record
    assert list((tmp_path / "p" / "tools" / "t").iterdir()) == []


def test_a_damaged_archive_is_an_install_failure_that_leaves_nothing(tmp_path: Path) -> None:
    good = zeros_tar(tmp_path / "good.tar.gz", {f"f{i}": 50000 for i in range(4)})
    damaged = tmp_path / "damaged.tar.gz"
    damaged.write_bytes(good.read_bytes()[:-200])
    with pytest.raises(StepFailure) as caught:
        safe_extract(str(damaged), str(tmp_path / "sandbox" / "out"))
    assert caught.value.subcategory == "bad_archive"
    assert_nothing_left(tmp_path / "sandbox")


def test_two_archives_into_one_tree_are_merged(tmp_path: Path) -> None:
    first = make_tar(
        tmp_path / "1.tar", [file_member("bin/a", b"a"), file_member("doc/x", b"1")], "w"
    )
    second = make_tar(
        tmp_path / "2.tar", [file_member("bin/b", b"b"), file_member("doc/x", b"2")], "w"
    )
    out = tmp_path / "tree"
    safe_extract(str(first), str(out))
    safe_extract(str(second), str(out))
    assert sorted(p.name for p in (out / "bin").iterdir()) == ["a", "b"]
    assert (out / "doc" / "x").read_bytes() == b"2"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".extract-")] == []


@pytest.mark.skipif(shutil.which("zstd") is None, reason="zstd is not installed")
def test_tar_zst_streams_through_zstd_under_the_same_cap(tmp_path: Path) -> None:
    import subprocess

    plain = make_tar(tmp_path / "t.tar", [file_member("t-1/bin/t", b"#!/bin/sh\n", 0o755)], "w")
    subprocess.run(["zstd", "-q", str(plain), "-o", str(tmp_path / "t.tar.zst")], check=True)
    out = Path(safe_extract(str(tmp_path / "t.tar.zst"), str(tmp_path / "out"), strip_dirs=1))
    assert os.access(out / "bin" / "t", os.X_OK)
    bomb = zeros_tar(tmp_path / "bomb.tar.gz", {"huge": 8 << 20})
    import gzip

    (tmp_path / "bomb.tar").write_bytes(gzip.decompress(bomb.read_bytes()))
    subprocess.run(
        ["zstd", "-q", str(tmp_path / "bomb.tar"), "-o", str(tmp_path / "b.tar.zst")], check=True
    )
    with pytest.raises(UnsafeArchive, match="size limit"):
        safe_extract(
            str(tmp_path / "b.tar.zst"), str(tmp_path / "sandbox" / "out"), max_bytes=1 << 20
        )
    assert_nothing_left(tmp_path / "sandbox")
    assert not list(tmp_path.glob("*.zst.tar"))  # no decompressed copy lands beside it


def test_not_an_archive_is_an_install_failure(tmp_path: Path) -> None:
    blob = tmp_path / "blob"
    blob.write_bytes(b"just bytes")
    with pytest.raises(StepFailure) as caught:
        safe_extract(str(blob), str(tmp_path / "out"))
    assert caught.value.subcategory == "unknown_archive"


# --- when clauses and metadata constraints ---------------------------------------------------


@pytest.mark.parametrize(
    ("when", "debian", "alpine", "arm", "mac"),
    [
        (None, True, True, True, True),
        ({}, True, True, True, True),
        ({"os": ["linux"]}, True, True, True, False),
        ({"os": ["darwin"]}, False, False, False, True),
        ({"os": ["linux"], "libc": ["glibc"]}, True, False, True, False),
        ({"os": ["linux"], "libc": ["musl"]}, False, True, False, False),
        ({"os": ["linux"], "arch": "amd64", "libc": ["glibc", "musl"]}, True, True, False, False),
        ({"os": ["linux"], "arch": "arm64"}, False, False, True, False),
        ({"platform": ["linux/amd64"]}, True, True, False, False),
        ({"platform": ["darwin/arm64"]}, False, False, False, True),
        ({"os": ["linux"], "libc": ["glibc"], "linux_family": "rhel"}, False, False, True, False),
        ({"os": ["linux"], "libc": ["glibc"], "linux_family": "debian"}, True, False, False, False),
        ({"os": ["linux"], "arch": "amd64", "gpu": ["nvidia"]}, False, False, False, False),
        # tsuku's loader ignores the array form of `arch` (recipes/m/mlx-c.toml)
        ({"arch": ["arm64"]}, True, True, True, True),
        # libc is evaluated on Linux only
        ({"libc": ["musl"]}, False, True, False, True),
    ],
)
def test_when_clause_matching(
    when: dict | None, debian: bool, alpine: bool, arm: bool, mac: bool
) -> None:
    got = [when_matches(when, p) for p in (DEBIAN, ALPINE, ARM, MAC)]
    assert got == [debian, alpine, arm, mac]


def test_when_clauses_from_reference_recipes_parse(reference_dir: Path) -> None:
    import tomllib

    act = tomllib.loads((reference_dir / "recipes" / "a" / "act.toml").read_text())
    steps = installer.matching_steps(act, DEBIAN)
    assert [s["asset_pattern"] for s in steps] == ["act_Linux_{arch}.tar.gz"]
    assert installer.matching_steps(act, ALPINE) == []  # glibc-only steps
    assert unsupported_reason(act["metadata"], ALPINE) == "supported_libc ['glibc'] excludes musl"


def test_metadata_constraints() -> None:
    assert unsupported_reason({"supported_os": ["darwin"]}, DEBIAN)
    assert unsupported_reason({"unsupported_platforms": ["linux/arm64"]}, ARM)
    assert unsupported_reason({"unsupported_platforms": ["linux/amd64/musl"]}, ALPINE)
    assert (
        unsupported_reason({"unsupported_platforms": ["darwin/arm64", "darwin/amd64"]}, DEBIAN)
        is None
    )
    assert unsupported_reason({"supported_arch": ["arm64"]}, DEBIAN)
    assert unsupported_reason({}, MAC) is None


def test_unsupported_platform_is_skipped_not_failed(tmp_path: Path) -> None:
    recipe = {
        "metadata": {"name": "maconly"},
        "steps": [{"action": "homebrew", "formula": "x", "when": {"os": ["darwin"]}}],
    }
    record = installer.install(recipe, Context("maconly", DEBIAN, str(tmp_path)))
    assert (record["status"], record["category"]) == ("skipped", "unsupported_platform")
    assert record["exit_code"] == 0


# --- verify patterns and classification ------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "output", "version", "ok"),
    [
        ("", "anything", None, True),
        ("{version}", "httpie 3.2.4\n", "3.2.4", True),
        ("{version}", "tool v1.2.3", "1.2.3", True),
        ("{version}", "tool 1.2.4", "1.2.3", False),
        ("{version}", "tool 1.2.4", None, True),
        ("tool {version}", "this is tool 0.9.1-rc1", None, True),
        ("tool {version}", "something else", None, False),
        ("usage:", "usage: x [opts]", None, True),
    ],
)
def test_pattern_matching(pattern: str, output: str, version: str | None, ok: bool) -> None:
    assert pattern_matches(pattern, output, version)[0] is ok


def test_network_text_classification() -> None:
    assert installer.classify_network_text("npm ERR! code EAI_AGAIN") == "dns_error"
    assert installer.classify_network_text("SSLError(CERTIFICATE_VERIFY_FAILED)") == "tls_error"
    assert installer.classify_network_text("ReadTimeoutError: Read timed out.") == "timeout"
    assert installer.classify_network_text("ERROR: No matching distribution found") is None


def test_verify_reports_exit_code_and_pattern_failures(tmp_path: Path) -> None:
    ctx = Context("t", DEBIAN, str(tmp_path))
    tool = tmp_path / "tools" / "t" / "tool"
    tool.write_text("#!/bin/sh\necho tool 2.0.0\nexit ${CODE:-0}\n")
    tool.chmod(0o755)
    ctx.link(str(tool))
    (tmp_path / "tools" / "t" / "state.json").write_text(
        json.dumps({"version": "2.0.0", "executables": ["tool"]})
    )
    good = installer.verify({"verify": {"command": "tool --version", "pattern": "{version}"}}, ctx)
    assert good["status"] == "pass" and good["version"] == "2.0.0"
    bad = installer.verify({"verify": {"command": "tool --version", "pattern": "3.{version}"}}, ctx)
    assert (bad["category"], bad["subcategory"], bad["exit_code"]) == (
        "verify_failed",
        "pattern_mismatch",
        7,
    )
    failing = installer.verify({"verify": {"command": "CODE=3 tool"}}, ctx)
    assert failing["subcategory"] == "exit_code"
    expected = installer.verify({"verify": {"command": "CODE=3 tool", "exit_code": 3}}, ctx)
    assert expected["status"] == "pass"


def test_missing_toolchain_is_missing_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    recipe = {
        "metadata": {"name": "ripgrep"},
        "steps": [{"action": "cargo_install", "crate": "ripgrep", "executables": ["rg"]}],
    }
    record = installer.install(recipe, Context("ripgrep", DEBIAN, str(tmp_path / "p")))
    assert (record["category"], record["subcategory"], record["exit_code"]) == (
        "missing_runtime",
        "cargo",
        8,
    )


def test_download_archive_verifies_sha256_and_links_binaries(tmp_path: Path) -> None:
    archive = make_tar(
        tmp_path / "t.tar.gz", [file_member("t-1/bin/t", b"#!/bin/sh\necho t\n", 0o755)]
    )
    import hashlib

    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    step = {
        "action": "download_archive",
        "url": archive.as_uri(),
        "checksum": digest,
        "strip_dirs": 1,
        "binaries": ["bin/t"],
    }
    recipe = {"metadata": {"name": "t"}, "steps": [step]}
    record = installer.install(recipe, Context("t", DEBIAN, str(tmp_path / "p")))
    assert record["status"] == "pass", record
    assert os.access(tmp_path / "p" / "bin" / "t", os.X_OK)
    step["checksum"] = "0" * 64
    shutil.rmtree(tmp_path / "p")
    record = installer.install(recipe, Context("t", DEBIAN, str(tmp_path / "p")))
    assert record["subcategory"] == "checksum_mismatch"


def test_homebrew_bottle_from_configurable_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bottle = make_tar(
        tmp_path / "jq.tar.gz",
        [file_member("jq/1.7.1/bin/jq", b"#!/bin/sh\necho jq-1.7.1\n", 0o755)],
    )
    api = tmp_path / "api"
    (api / "formula").mkdir(parents=True)
    (api / "formula" / "jq.json").write_text(
        json.dumps(
            {
                "versions": {"stable": "1.7.1"},
                "bottle": {
                    "stable": {"files": {"x86_64_linux": {"url": bottle.as_uri(), "sha256": None}}}
                },
            }
        )
    )
    monkeypatch.setenv("TSUKU_HOMEBREW_API", api.as_uri())
    recipe = {
        "metadata": {"name": "jq"},
        "steps": [
            {"action": "homebrew", "formula": "jq"},
            {"action": "install_binaries", "binaries": ["bin/jq"]},
        ],
        "verify": {"command": "jq --version", "pattern": "{version}"},
    }
    ctx = Context("jq", DEBIAN, str(tmp_path / "p"))
    assert installer.install(recipe, ctx)["status"] == "pass"
    assert installer.verify(recipe, ctx)["version"] == "1.7.1"


def test_cli_reads_json_recipe_and_prints_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"metadata": {"name": "none"}, "steps": []}))
    code = installer.main(
        [
            "run",
            str(path),
            "--platform",
            "linux-debian-glibc-x86_64",
            "--prefix",
            str(tmp_path / "p"),
        ]
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["category"] == "unsupported_platform"
    assert code == 0


@pytest.mark.parametrize("flag", [True, False])
def test_cli_reuses_the_interpreters_pip_only_when_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flag: bool
) -> None:
    """``--reuse-host-tools``: the interpreter has pip (the provisioned runtime): venvs are made
    without their own (what pipx does with its shared pip)."""
    seen: list[bool] = []

    def fake_install(recipe: dict[str, object], ctx: Context) -> dict[str, object]:
        seen.append(ctx.reuse_host_tools)
        return installer.result(installer.SKIPPED, installer.UNSUPPORTED, "constraints", "x")

    monkeypatch.setattr(installer, "install", fake_install)
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"metadata": {"name": "none"}, "steps": []}))
    argv = ["install", str(path), "--platform", "linux-debian-glibc-x86_64"]
    argv += ["--prefix", str(tmp_path / "p")] + (["--reuse-host-tools"] if flag else [])
    installer.main(argv)
    assert seen == [flag]


def _runtime_imports(tree: ast.Module) -> set[str]:
    """Modules a file imports when it runs (``if TYPE_CHECKING:`` blocks never run)."""
    skipped = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")
        for statement in node.body
        for inner in ast.walk(statement)
    }
    return {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in skipped
        for alias in node.names
    }


def test_every_kit_file_is_python39_and_imports_only_the_standard_library() -> None:
    files = installer.kit_files()
    assert files[0] == ("containers/installer.py", installer.__file__)
    assert len(files) >= 9  # the core and eight ecosystems' install modules
    for relative, path in files:
        tree = ast.parse(Path(path).read_text(), filename=relative, feature_version=(3, 9))
        roots = {m.split(".")[0] for m in _runtime_imports(tree) if m}
        assert roots <= set(sys.stdlib_module_names) | {"__future__"}, (relative, roots)


def test_every_former_action_is_registered_where_its_ecosystem_lives() -> None:
    assert set(installer.ACTIONS) == {
        "npm_install", "pipx_install", "cargo_install", "gem_install", "go_install",
        "cpan_install", "github_archive", "github_file", "download_archive", "homebrew",
        "install_binaries",
    }  # fmt: skip
    assert installer.ACTIONS["npm_install"].__code__.co_filename.endswith("npm/install.py")
    assert installer.ACTIONS["download_archive"].__module__ == installer.__name__
    assert sorted(installer.LOCAL_ACTIONS) == [
        "cargo_install",
        "cpan_install",
        "gem_install",
        "go_install",
        "npm_install",
        "pipx_install",
    ]
    assert "GONOSUMDB" in installer.PASS_ENV  # declared by go/install.py


def test_the_kit_folder_runs_alone_with_only_the_standard_library(tmp_path: Path) -> None:
    """What the container gets: the kit folder, run with -I -S (no site-packages, no
    repository on the path). An ecosystem action answers (cargo is missing on this PATH) and a
    generic one installs: both halves of the kit were found and loaded."""
    import hashlib
    import subprocess

    kit = tmp_path / "kit"
    for relative, path in installer.kit_files():
        (kit / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, kit / relative)
    archive = make_tar(
        tmp_path / "t.tar.gz", [file_member("bin/t", b"#!/bin/sh\necho t 1\n", 0o755)]
    )
    recipes = {
        "cargo": {
            "metadata": {"name": "rg"},
            "steps": [{"action": "cargo_install", "crate": "ripgrep", "executables": ["rg"]}],
        },
        "archive": {
            "metadata": {"name": "t"},
            "steps": [
                {
                    "action": "download_archive",
                    "url": archive.as_uri(),
                    "checksum": hashlib.sha256(archive.read_bytes()).hexdigest(),
                    "binaries": ["bin/t"],
                }
            ],
            "verify": {"command": "t", "pattern": "t 1"},
        },
    }
    records = {}
    for key, recipe in recipes.items():
        (tmp_path / f"{key}.json").write_text(json.dumps(recipe))
        done = subprocess.run(
            [sys.executable, "-I", "-S", str(kit / "containers" / "installer.py"), "run",
             str(tmp_path / f"{key}.json"), "--platform", "linux-debian-glibc-x86_64",
             "--prefix", str(tmp_path / "prefix")],
            capture_output=True, text=True, cwd=tmp_path, env={"PATH": str(tmp_path / "empty")},
            check=False, timeout=120,
        )  # fmt: skip
        assert done.stdout.count("\n") == 1, done.stderr
        records[key] = json.loads(done.stdout)
    assert (records["cargo"]["category"], records["cargo"]["subcategory"]) == (
        "missing_runtime",
        "cargo",
    )
    assert records["archive"]["status"] == "pass", records["archive"]


# --- real installs (live registries) ---------------------------------------------------------


@pytest.mark.network
@pytest.mark.slow
def test_real_pipx_install_of_cowsay(tmp_path: Path) -> None:
    recipe = {
        "metadata": {"name": "cowsay"},
        "steps": [{"action": "pipx_install", "package": "cowsay", "executables": ["cowsay"]}],
        "verify": {"command": "cowsay -t moo", "pattern": "moo"},
    }
    ctx = Context("cowsay", DEBIAN, str(tmp_path))
    installed = installer.install(recipe, ctx)
    assert installed["status"] == "pass", installed
    assert installed["version"]
    assert installer.verify(recipe, ctx)["status"] == "pass"


@pytest.mark.network
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_real_npm_install_of_cowsay(tmp_path: Path) -> None:
    recipe = {
        "metadata": {"name": "cowsay"},
        "steps": [{"action": "npm_install", "package": "cowsay", "executables": ["cowsay"]}],
        "verify": {"command": "cowsay --version", "pattern": "{version}"},
    }
    ctx = Context("cowsay", DEBIAN, str(tmp_path))
    installed = installer.install(recipe, ctx)
    assert installed["status"] == "pass", installed
    verified = installer.verify(recipe, ctx)
    assert verified["status"] == "pass" and verified["version"] == installed["version"]


def test_a_wrapped_archive_without_strip_dirs_names_the_fix(tmp_path: Path) -> None:
    """The builder guesses strip_dirs from asset names; a wrong guess says what would work."""
    import hashlib

    archive = make_tar(
        tmp_path / "t.tar.gz", [file_member("t-1.0-x86_64/t", b"#!/bin/sh\necho t\n", 0o755)]
    )
    step = {
        "action": "download_archive",
        "url": archive.as_uri(),
        "checksum": hashlib.sha256(archive.read_bytes()).hexdigest(),
        "binaries": ["t"],
    }
    recipe = {"metadata": {"name": "t"}, "steps": [step]}
    record = installer.install(recipe, Context("t", DEBIAN, str(tmp_path / "p")))
    assert (record["status"], record["subcategory"]) == ("fail", "layout_mismatch"), record
    assert "strip_dirs = 1" in record["message"] and "t-1.0-x86_64/" in record["message"]
    # A binary that is nowhere stays a missing executable.
    step["binaries"] = ["other"]
    shutil.rmtree(tmp_path / "p")
    record = installer.install(recipe, Context("t", DEBIAN, str(tmp_path / "p")))
    assert record["subcategory"] == "missing_executable"


# --- mirrors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://mirror.example/crates/", "https://mirror.example/crates"),
        ("", None),
    ],
)
def test_configured_endpoint_is_the_forwarded_base_url(
    tmp_path: Path, value: str, expected: str | None
) -> None:
    ctx = Context("t", DEBIAN, str(tmp_path), env={"AUTOMATION_ENDPOINT_GOPROXY": value})
    assert installer.configured_endpoint(ctx, "goproxy") == expected
    assert installer.configured_endpoint(ctx, "cratesio") is None


@pytest.mark.parametrize(
    "value", ["ftp://mirror.example", "http://", 'http://x/"; rm -rf /', "http://x/?a=1", "x"]
)
def test_a_configured_endpoint_that_is_no_base_url_fails_the_install(
    tmp_path: Path, value: str
) -> None:
    ctx = Context("t", DEBIAN, str(tmp_path), env={"AUTOMATION_ENDPOINT_CRATESIO": value})
    with pytest.raises(StepFailure) as caught:
        installer.configured_endpoint(ctx, "cratesio")
    assert (caught.value.category, caught.value.subcategory) == ("install_failed", "bad_endpoint")
    assert "AUTOMATION_ENDPOINT_CRATESIO" in caught.value.message


# --- the shared download cache ------------------------------------------------------------------


def test_download_cache_is_a_created_folder_of_the_shared_cache(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    ctx = Context("t", DEBIAN, str(tmp_path / "p"), env={"AUTOMATION_DOWNLOAD_CACHE": str(shared)})
    assert installer.download_cache(ctx, "npm") == str(shared / "npm")
    assert (shared / "npm").is_dir()


@pytest.mark.parametrize("value", ["", "off", "relative/dir"])
def test_no_absolute_cache_folder_means_no_shared_cache(tmp_path: Path, value: str) -> None:
    ctx = Context("t", DEBIAN, str(tmp_path / "p"), env={"AUTOMATION_DOWNLOAD_CACHE": value})
    assert installer.download_cache(ctx, "npm") is None


def test_an_unusable_cache_costs_downloads_never_the_install(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("in the way")
    ctx = Context(
        "t", DEBIAN, str(tmp_path / "p"), env={"AUTOMATION_DOWNLOAD_CACHE": str(tmp_path / "file")}
    )
    assert installer.download_cache(ctx, "npm") is None
    # A name that is not one folder is refused rather than joined.
    ok = Context("t", DEBIAN, str(tmp_path / "p"), env={"AUTOMATION_DOWNLOAD_CACHE": str(tmp_path)})
    assert installer.download_cache(ok, "../escape") is None


def test_note_runtime_asks_with_the_given_arguments(tmp_path: Path) -> None:
    seen: list[list[str]] = []

    def runner(argv: list[str], env: dict[str, str], cwd: str, timeout: float) -> object:
        seen.append(argv)
        return installer.ProcessResult(0, "go version go1.19.8 linux/amd64\n")

    ctx = Context("t", DEBIAN, str(tmp_path), runner=runner)
    ctx.note_runtime("go", "/usr/bin/go", ("version",))
    ctx.note_runtime("go", "/usr/bin/go", ("version",))  # once per name
    assert seen == [["/usr/bin/go", "version"]]
    assert ctx.runtimes == [{"name": "go", "version": "1.19.8", "path": "/usr/bin/go"}]
