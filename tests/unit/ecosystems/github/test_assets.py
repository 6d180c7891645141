"""The asset picker against real data: saved release listings, and the asset names the reference
registry's hand-written github_archive / github_file recipes choose on every platform.

For each real recipe, the names a release would carry are derived by expanding its
``asset_pattern`` with its ``os_mapping`` / ``arch_mapping`` for every platform, plus distractors
a real release carries next to them (Windows, FreeBSD and 32-bit/other-architecture builds of the
same pattern, checksum files, signatures, SBOMs, .deb/.rpm packages). The picker must choose the
asset the recipe's author chose, platform by platform.
"""

from __future__ import annotations

import json
import random
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from automation.ecosystems.github import assets
from automation.ecosystems.github.assets import TARGETS, Target, classify, expand, pick, plan_steps
from automation.registry.recipes import load_recipe_model

VERSION = "4.5.6"


# Agreement floor on glibc Linux and macOS (what the recipes' authors chose, measured 100 %);
# a couple of points of slack so that adding a recipe with a deliberate oddity does not fail CI.
AGREEMENT_FLOOR = 0.97


# musl: the recipes often install a gnu build on musl (which the picker refuses on purpose).
MUSL_FLOOR = 0.80


@dataclass
class RecipeCase:
    name: str
    repo: str
    executables: tuple[str, ...]
    expected: dict[Target, str]  # the recipe's asset per supported platform
    listing: list[str]
    skipped: str | None = None


def _when_matches(when: dict[str, Any] | None, t: Target) -> bool:
    if not when:
        return True
    if when.get("gpu"):
        return False  # GPU variants are not a platform dimension the picker knows
    if "platform" in when and f"{t.os}/{t.arch}" not in when["platform"]:
        return False
    if "os" in when and t.os not in when["os"]:
        return False
    if isinstance(when.get("arch"), str) and when["arch"] != t.arch:
        return False
    return not ("libc" in when and t.os == "linux" and t.libc not in when["libc"])


def _distractors(pattern: str, step: dict[str, Any]) -> list[str]:
    """Names a real release carries next to the chosen ones (same naming scheme)."""
    os_map = dict(step.get("os_mapping") or {})
    arch_map = dict(step.get("arch_mapping") or {})
    out: list[str] = []
    oses = ["windows", "freebsd"] if "{os}" in pattern else []
    arches = ["386", "armv7", "s390x", "ppc64le", "riscv64"] if "{arch}" in pattern else []
    for os_ in oses:
        for arch in ["amd64", "arm64"]:
            out.append(
                pattern.replace("{version}", VERSION)
                .replace("{os}", os_)
                .replace("{arch}", arch_map.get(arch, arch))
            )
    for arch in arches:
        for os_ in ["linux", "darwin"]:
            out.append(
                pattern.replace("{version}", VERSION)
                .replace("{os}", os_map.get(os_, os_))
                .replace("{arch}", arch)
            )
    return out


def _sidecars(name: str) -> list[str]:
    out = [name + ".sha256", name + ".sig", name + ".sbom.json"]
    if "linux" in name.lower():
        base = name.split(".tar")[0].split(".zip")[0]
        out += [base + ".deb", base + ".rpm"]
    return out


def recipe_cases(reference_dir: Path) -> list[RecipeCase]:
    cases: list[RecipeCase] = []
    for path in sorted(reference_dir.glob("recipes/*/*.toml")):
        raw = tomllib.loads(path.read_text())
        steps = [
            s for s in raw.get("steps", []) if s.get("action") in ("github_archive", "github_file")
        ]
        if not steps:
            continue
        model = load_recipe_model(path, strict=False)
        supported = model.constraints.supported_platforms()
        expected: dict[Target, str] = {}
        listing: set[str] = set()
        skipped = None
        executables: set[str] = set()
        repo = steps[0].get("repo", "")
        for step in steps:
            pattern = step.get("asset_pattern", "")
            if "*" in pattern:
                skipped = "glob in asset_pattern"
            for entry in step.get("binaries", []) or []:
                name = entry["dest"] if isinstance(entry, dict) else entry
                executables.add(name.rsplit("/", 1)[-1])
            if step.get("binary"):
                executables.add(step["binary"])
            listing.update(_distractors(pattern, step))
        for t in TARGETS:
            label = t.label
            if label not in supported:
                continue
            step = next((s for s in steps if _when_matches(s.get("when"), t)), None)
            if step is None:
                continue
            if any(
                s.get("action") not in ("github_archive", "github_file")
                and _when_matches(s.get("when"), t)
                and s.get("action") in ("apk_install", "download")
                for s in raw["steps"]
            ) and not (step.get("when") or {}).get("libc"):
                continue  # the platform is served by another action first
            name = expand(step["asset_pattern"], t, VERSION, step)
            expected[t] = name
            listing.add(name)
        for name in list(listing):
            listing.update(_sidecars(name))
        listing.update(["checksums.txt", "checksums.txt.sig", "install.sh", "source.tar.gz"])
        cases.append(
            RecipeCase(
                path.stem, repo, tuple(sorted(executables)), expected, sorted(listing), skipped
            )
        )
    return cases


def agreement(reference_dir: Path) -> dict[str, Any]:
    """Per-platform agreement of the picker with the recipes (printed by -s, asserted below)."""
    counts: Counter[str] = Counter()
    disagreements: list[str] = []
    for case in recipe_cases(reference_dir):
        if case.skipped or not case.expected:
            counts["skipped_recipes"] += 1
            continue
        counts["recipes"] += 1
        preferred = [*case.executables, case.repo.rsplit("/", 1)[-1]]
        shuffled = list(case.listing)
        random.Random(case.name).shuffle(shuffled)
        picks = pick(shuffled, preferred=preferred)
        for t, want in case.expected.items():
            bucket = "musl" if t.libc == "musl" else "main"
            counts[f"{bucket}_total"] += 1
            got = picks.name_for(t)
            if got == want:
                counts[f"{bucket}_agree"] += 1
            else:
                disagreements.append(f"{case.name} {t.label}: recipe {want} picker {got}")
        # whatever was chosen must come back out of the generated patterns
        plan_steps(picks, repo=case.repo or "o/r", version=VERSION, executables=["x"])
    return {
        "counts": counts,
        "main": counts["main_agree"] / max(1, counts["main_total"]),
        "musl": counts["musl_agree"] / max(1, counts["musl_total"]),
        "disagreements": disagreements,
    }


def test_agreement_with_real_recipes(reference_dir: Path) -> None:
    result = agreement(reference_dir)
    counts = result["counts"]
    print(
        f"\nrecipes {counts['recipes']} (skipped {counts['skipped_recipes']}); "
        f"glibc+darwin {counts['main_agree']}/{counts['main_total']} = {result['main']:.3f}; "
        f"musl {counts['musl_agree']}/{counts['musl_total']} = {result['musl']:.3f}"
    )
    for line in result["disagreements"]:
        print("  ", line)
    assert counts["recipes"] >= 100
    assert result["main"] >= AGREEMENT_FLOOR
    assert result["musl"] >= MUSL_FLOOR


def test_token_aliases() -> None:
    assert classify("tool_1.0_Darwin_x86_64.tar.gz").os == "darwin"
    assert classify("tool-1.0-aarch64-apple-darwin.tar.gz").arch == "arm64"
    assert classify("tool-macos-arm64").os == "darwin"
    assert classify("tool-osx-x64.zip").arch == "amd64"
    info = classify("tool-1.0-x86_64-unknown-linux-musl.tar.xz")
    assert (info.os, info.arch, info.libc, info.archive_format) == (
        "linux",
        "amd64",
        "musl",
        "tar.xz",
    )
    assert classify("trivy_0.5_Linux-64bit.tar.gz").arch == "amd64"
    for bad in (
        "tool_1.0_windows_amd64.zip",
        "tool_1.0_linux_386.tar.gz",
        "tool_1.0_linux_armv7.tar.gz",
        "tool-1.0-x86_64-pc-windows-msvc.zip",
        "tool_1.0_linux_amd64.deb",
        "tool_1.0_linux_amd64.rpm",
        "tool_1.0_linux_amd64.tar.gz.sha256",
        "tool_1.0_linux_amd64.tar.gz.sig",
        "checksums.txt",
        "SHA256SUMS",
        "tool_1.0_checksums.txt",
        "tool-1.0-src.tar.gz",
        "tool_1.0_linux_amd64.sbom.json",
        "tool-debug-linux-amd64.tar.gz",
        "tool.dmg",
        "tool-setup.msi",
        "tool-freebsd-amd64.tar.gz",
        "tool-1.0.tar.gz",
    ):
        assert classify(bad).excluded, bad


def test_libc_and_universal_preferences() -> None:
    names = [
        "t-1.0-x86_64-unknown-linux-gnu.tar.gz",
        "t-1.0-x86_64-unknown-linux-musl.tar.gz",
        "t-1.0-aarch64-unknown-linux-musl.tar.gz",
        "t-1.0-universal-apple-darwin.tar.gz",
    ]
    picks = pick(names)
    assert picks.name_for(Target("linux", "amd64", "glibc")) == names[0]
    assert picks.name_for(Target("linux", "amd64", "musl")) == names[1]
    # a static musl build serves glibc when there is nothing better
    assert picks.name_for(Target("linux", "arm64", "glibc")) == names[2]
    assert picks.name_for(Target("darwin", "amd64", None)) == names[3]
    assert picks.name_for(Target("darwin", "arm64", None)) == names[3]
    # a gnu build never serves musl
    assert pick([names[0]]).name_for(Target("linux", "amd64", "musl")) is None


def test_preferred_tool_wins_in_multi_tool_release() -> None:
    names = ["kubens_v0.9.5_linux_x86_64.tar.gz", "kubectx_v0.9.5_linux_x86_64.tar.gz"]
    assert pick(names, preferred=["kubectx"]).name_for(TARGETS[0]) == names[1]
    assert pick(names, preferred=["kubens"]).name_for(TARGETS[0]) == names[0]


def test_order_independence_and_determinism() -> None:
    names = [
        f"tool_{v}_{o}_{a}.tar.gz"
        for v in ("2.0",)
        for o in ("linux", "darwin", "windows")
        for a in ("amd64", "arm64", "386")
    ]
    names += ["tool_2.0_linux_amd64", "tool_2.0_checksums.txt", "tool_2.0_linux_amd64.zip"]
    baseline = None
    for seed in range(20):
        shuffled = list(names)
        random.Random(seed).shuffle(shuffled)
        picks = pick(shuffled, preferred=["tool"])
        steps, _ = plan_steps(
            picks, repo="o/tool", version="2.0", executables=["tool"], all_names=shuffled
        )
        rendered = json.dumps(steps, sort_keys=False)
        baseline = baseline or rendered
        assert rendered == baseline


def test_patterns_and_when_clauses() -> None:
    names = [
        "rg-1.0-x86_64-unknown-linux-musl.tar.gz",
        "rg-1.0-aarch64-unknown-linux-gnu.tar.gz",
        "rg-1.0-x86_64-apple-darwin.tar.gz",
        "rg-1.0-aarch64-apple-darwin.tar.gz",
        "rg-1.0-x86_64-pc-windows-msvc.zip",
        "rg-1.0-x86_64-unknown-linux-musl.tar.gz.sha256",
        "rg-1.0-aarch64-unknown-linux-gnu.tar.gz.sha256",
        "rg-1.0-x86_64-apple-darwin.tar.gz.sha256",
        "rg-1.0-aarch64-apple-darwin.tar.gz.sha256",
    ]
    picks = pick(names, preferred=["rg"])
    assert [t.label for t in picks.missing] == ["linux/arm64/musl"]
    steps, plan = plan_steps(picks, repo="o/rg", version="1.0", executables=["rg"], all_names=names)
    for planned in plan:
        for t, name in planned.assets.items():
            assert (
                expand(
                    planned.asset_pattern,
                    t,
                    "1.0",
                    {"os_mapping": planned.os_mapping, "arch_mapping": planned.arch_mapping},
                )
                == name
            )
    assert all(s["checksum_asset"].endswith(".tar.gz.sha256") for s in steps)
    assert all(s["strip_dirs"] == 1 for s in steps)
    covered = {t for p in plan for t in p.targets}
    assert len(covered) == 5
    # no covered platform is selected by two steps
    for t in covered:
        hits = [p for p in plan if assets._matches(p.when, t)]
        assert len(hits) == 1, t


def test_single_pattern_with_mappings() -> None:
    names = [
        f"act_{o}_{a}.tar.gz"
        for o in ("Linux", "Darwin", "Windows")
        for a in ("x86_64", "arm64", "i386")
    ]
    names.append("checksums.txt")
    steps, _ = plan_steps(
        pick(names, preferred=["act"]),
        repo="nektos/act",
        version="0.2.6",
        executables=["act"],
        all_names=names,
    )
    assert steps == [
        {
            "action": "github_archive",
            "repo": "nektos/act",
            "asset_pattern": "act_{os}_{arch}.tar.gz",
            "archive_format": "tar.gz",
            "strip_dirs": 0,
            "binaries": ["act"],
            "os_mapping": {"darwin": "Darwin", "linux": "Linux"},
            "arch_mapping": {"amd64": "x86_64"},
            "checksum_asset": "checksums.txt",
        }
    ]


def test_bare_binaries_become_github_file() -> None:
    names = [
        f"argocd-{o}-{a}"
        for o in ("linux", "darwin", "windows")
        for a in ("amd64", "arm64", "ppc64le")
    ]
    steps, _ = plan_steps(
        pick(names), repo="argoproj/argo-cd", version="2.9.0", executables=["argocd"]
    )
    assert steps == [
        {
            "action": "github_file",
            "repo": "argoproj/argo-cd",
            "asset_pattern": "argocd-{os}-{arch}",
            "binary": "argocd",
        }
    ]


def test_layout_from_listing() -> None:
    assert assets.layout_from_listing(
        ["gh_2.0_linux_amd64/bin/gh", "gh_2.0_linux_amd64/LICENSE"], ["gh"]
    ) == (1, ("bin/gh",))
    assert assets.layout_from_listing(["act", "README.md", "LICENSE"], ["act"]) == (0, ("act",))
    assert assets.layout_from_listing(["../evil", "/abs", "ok/x"], ["x"]) == (1, ("x",))


def test_strip_dirs_naming_rule() -> None:
    assert assets.strip_dirs_from_name("bat-v0.24.0-x86_64-unknown-linux-gnu.tar.gz", "0.24.0") == 1
    assert assets.strip_dirs_from_name("act_Linux_x86_64.tar.gz", "0.2.6") == 0
    assert assets.strip_dirs_from_name("caddy_2.7.6_linux_amd64.tar.gz", "2.7.6") == 0


def test_layout_rules() -> None:
    """The release-tool conventions of ``guess_layout``, each with the rule that decided."""
    guess = assets.guess_layout
    # hand-made <name>-<version>-<target> tarballs hold a directory named like the archive
    assert guess("ripgrep-14.1.0-x86_64-unknown-linux-musl.tar.gz", "14.1.0") == (
        assets.LayoutGuess(1, "versioned-name")
    )
    # GoReleaser's default underscore names and taiki-e's default <bin>-<target> are flat
    assert guess("k9s_Linux_amd64.tar.gz", "0.32.5").rule == "flat-name"
    assert guess("starship-x86_64-unknown-linux-gnu.tar.gz", "1.20.1").strip_dirs == 0
    # zips are flat whatever their name (tool-made zips never wrap)
    assert guess("jpegoptim-1.5.5-x64-linux.zip", "1.5.5") == assets.LayoutGuess(0, "zip")
    # cargo-dist's default .tar.xz for <app>-<triple>, even without its marker assets
    assert guess("probe-rs-tools-x86_64-unknown-linux-gnu.tar.xz", "0.24.0") == (
        assets.LayoutGuess(1, "cargo-dist-format")
    )
    assert guess("tool-linux-amd64.tar.xz", "1.0").strip_dirs == 0  # not a Rust triple
    # a cargo-dist release (manifest or <app>-installer.sh): tarballs wrapped, zips flat
    ruff = ["ruff-installer.sh", "ruff-installer.ps1", "sha256.sum", "source.tar.gz"]
    name = "ruff-x86_64-unknown-linux-gnu.tar.gz"
    assert guess(name, "0.6.0") == assets.LayoutGuess(0, "flat-name")
    assert guess(name, "0.6.0", ruff) == assets.LayoutGuess(1, "cargo-dist")
    assert guess(name, "0.6.0", ["dist-manifest.json"]).strip_dirs == 1
    assert guess("ruff-x86_64-pc-windows-msvc.zip", "0.6.0", ruff).strip_dirs == 0
    # another app's installer, or a plain install.sh, is no cargo-dist marker for this archive
    assert guess(name, "0.6.0", ["uv-installer.sh", "install.sh"]).strip_dirs == 0
    # the version is matched as written (case kept)
    assert guess("tool-1.0.0-RC1-linux-amd64.tar.gz", "1.0.0-RC1").strip_dirs == 1


def test_cargo_dist_release_plans_wrapped_tarballs() -> None:
    """A release shaped like cargo-dist's documented output (archives, .sha256 sidecars,
    installers, manifest): every tarball step strips the ``<app>-<target>/`` directory."""
    targets = [
        "x86_64-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
    ]
    archives = [f"ruff-{t}.tar.gz" for t in targets] + ["ruff-x86_64-pc-windows-msvc.zip"]
    names = [*archives, *(a + ".sha256" for a in archives)]
    names += ["dist-manifest.json", "ruff-installer.sh", "ruff-installer.ps1", "source.tar.gz"]
    steps, plan = plan_steps(
        pick(names, preferred=["ruff"]),
        repo="astral-sh/ruff",
        version="0.6.0",
        executables=["ruff"],
        all_names=names,
    )
    assert steps and all(s["strip_dirs"] == 1 for s in steps)
    assert {p.layout_rule for p in plan} == {"cargo-dist"}
    # without the markers the same names read as taiki-e's flat <bin>-<target> default
    bare = [n for n in names if n.startswith("ruff-") and "installer" not in n]
    steps, plan = plan_steps(
        pick(bare, preferred=["ruff"]),
        repo="astral-sh/ruff",
        version="0.6.0",
        executables=["ruff"],
        all_names=bare,
    )
    assert all(s["strip_dirs"] == 0 for s in steps)
    assert {p.layout_rule for p in plan} == {"flat-name"}


def test_listing_beats_the_naming_rules() -> None:
    names = ["gh_2.40.0_linux_amd64.tar.gz", "checksums.txt"]
    members = {names[0]: ["gh_2.40.0_linux_amd64/bin/gh", "gh_2.40.0_linux_amd64/LICENSE"]}
    steps, plan = plan_steps(
        pick(names, preferred=["gh"]),
        repo="cli/cli",
        version="2.40.0",
        executables=["gh"],
        all_names=names,
        listing=members,
    )
    assert (steps[0]["strip_dirs"], steps[0]["binaries"]) == (1, ["bin/gh"])
    assert plan[0].layout_rule == "listing"


# Agreement floor for strip_dirs against the reference recipes' github_archive steps (measured
# 114/146 = 0.78). The misses are layouts names cannot show: GoReleaser projects that turn
# wrap_in_directory on (gh, glow, gum, step), flat hand-made <name>-<version>-<target> tarballs
# (just, zoxide, doctl, kubeseal...), wrapped archives named without the version (bun, nvim).
STRIP_FLOOR = 0.76


def strip_agreement(reference_dir: Path) -> tuple[int, int, list[str]]:
    """(agreeing, total, disagreements) over the reference github_archive steps, each compared
    with the planned step covering its first platform (listing as in :func:`recipe_cases`)."""
    cases = {c.name: c for c in recipe_cases(reference_dir)}
    total = agree = 0
    misses: list[str] = []
    for path in sorted(reference_dir.glob("recipes/*/*.toml")):
        case = cases.get(path.stem)
        if case is None or case.skipped or not case.expected:
            continue
        raw = tomllib.loads(path.read_text())
        archive_steps = [s for s in raw.get("steps", []) if s.get("action") == "github_archive"]
        if not archive_steps:
            continue
        preferred = [*case.executables, case.repo.rsplit("/", 1)[-1]]
        _, plan = plan_steps(
            pick(case.listing, preferred=preferred),
            repo=case.repo or "o/r",
            version=VERSION,
            executables=list(case.executables) or ["x"],
            all_names=case.listing,
        )
        for step in archive_steps:
            served = [t for t in case.expected if _when_matches(step.get("when"), t)]
            planned = next((p for p in plan if served and served[0] in p.targets), None)
            if planned is None or planned.strip_dirs is None:
                continue
            total += 1
            want = int(step.get("strip_dirs") or 0)
            if planned.strip_dirs == want:
                agree += 1
            else:
                misses.append(
                    f"{case.name}: {planned.assets[served[0]]} recipe {want} "
                    f"planned {planned.strip_dirs} ({planned.layout_rule})"
                )
    return agree, total, misses


def test_strip_dirs_agreement_with_real_recipes(reference_dir: Path) -> None:
    agree, total, misses = strip_agreement(reference_dir)
    print(f"\nstrip_dirs {agree}/{total} = {agree / max(1, total):.3f}")
    for line in misses:
        print("  ", line)
    assert total >= 100
    assert agree / total >= STRIP_FLOOR


def test_hostile_names_are_ignored() -> None:
    hostile = [
        "../../etc/passwd",
        'tool"linux-amd64.tar.gz',
        "tool\nlinux-amd64.tar.gz",
        "tool-{os}-linux-amd64.tar.gz",
        "x" * 5000 + "-linux-amd64.tar.gz",
        "tool linux amd64.tar.gz",
        "tool-linux-amd64.tar.gz",
    ]
    picks = pick(hostile)
    assert picks.name_for(TARGETS[0]) == "tool-linux-amd64.tar.gz"
    assert len(picks.ignored) == 6


def test_ten_thousand_assets_is_fast() -> None:
    import time

    names = [f"tool-{i}-linux-amd64.tar.gz" for i in range(10_000)]
    started = time.monotonic()
    picks = pick(names)
    assert picks.name_for(TARGETS[0]) == "tool-0-linux-amd64.tar.gz"
    assert time.monotonic() - started < 20


def test_saved_listings(api_samples_dir: Path) -> None:
    """The real release listings: expected choices per platform."""
    directory = api_samples_dir / "github"
    tf = json.loads(
        (directory / "integrations__terraform-provider-github.releases.json").read_text()
    )
    names = [a["name"] for a in tf[0]["assets"]]
    picks = pick(names, preferred=["terraform-provider-github"])
    assert picks.missing == ()
    assert (
        picks.name_for(Target("darwin", "arm64", None))
        == "terraform-provider-github_6.7.0_darwin_arm64.zip"
    )
    licensed = json.loads((directory / "github__licensed.releases.json").read_text())
    picks = pick([a["name"] for a in licensed[0]["assets"]], preferred=["licensed"])
    assert picks.name_for(TARGETS[0]) == "licensed-2.15.2-linux-x64.tar.gz"
    assert picks.name_for(Target("darwin", "amd64", None)) == "licensed-2.15.2-darwin-x64.tar.gz"
    assert {t.label for t in picks.missing} == {
        "linux/arm64/glibc",
        "linux/arm64/musl",
        "darwin/arm64",
    }
    jasper = json.loads((directory / "TIBCOSoftware__jasperreports.releases.json").read_text())
    assert pick([a["name"] for a in jasper[0]["assets"]]).chosen == {}


@pytest.mark.parametrize(
    "case_name", ["act", "ripgrep", "ruff", "gh", "argocd", "jq", "pnpm", "trivy"]
)
def test_named_recipes_agree(reference_dir: Path, case_name: str) -> None:
    case = next(c for c in recipe_cases(reference_dir) if c.name == case_name)
    picks = pick(case.listing, preferred=[*case.executables, case.repo.rsplit("/", 1)[-1]])
    for t, want in case.expected.items():
        if t.libc != "musl":
            assert picks.name_for(t) == want, t
