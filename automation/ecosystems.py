"""Ecosystem names: the queue's source prefixes, normalised once."""

from __future__ import annotations

from automation.errors import DataError

# Prefix aliases seen in the reference data and in tsuku's `--from` parsing.
_ALIASES = {
    "cargo": "crates.io",
    "crates": "crates.io",
    "crates_io": "crates.io",
    "cratesio": "crates.io",
    "gem": "rubygems",
    "gems": "rubygems",
    "rubygems.org": "rubygems",
    "pip": "pypi",
    "python": "pypi",
    "pypi.org": "pypi",
    "node": "npm",
    "nodejs": "npm",
    "npmjs": "npm",
    "golang": "go",
    "goproxy": "go",
    "perl": "cpan",
    "metacpan": "cpan",
}

KNOWN = (
    "homebrew",
    "cask",
    "crates.io",
    "npm",
    "pypi",
    "rubygems",
    "go",
    "cpan",
    "github",
    "nix",
    "manual",
)

# Ecosystems a deterministic builder of this kit handles.
BUILDABLE = ("homebrew", "cask", "crates.io", "npm", "pypi", "rubygems", "go", "cpan", "github")


def normalise_ecosystem(prefix: str) -> str:
    """``cargo`` -> ``crates.io`` etc.; unknown prefixes are returned lowercased."""
    key = prefix.strip().lower()
    return _ALIASES.get(key, key)


def split_source(source: str) -> tuple[str, str]:
    """``"github:sharkdp/bat"`` -> ``("github", "sharkdp/bat")`` with the prefix normalised.

    Raises DataError for a source without ``:`` or with an unsafe prefix.
    """
    if ":" not in source:
        raise DataError(f"source {source!r} has no '<ecosystem>:' prefix")
    prefix, identifier = source.split(":", 1)
    if not prefix or "/" in prefix or "\\" in prefix or ".." in prefix:
        raise DataError(f"source {source!r} has an invalid ecosystem prefix")
    if not identifier:
        raise DataError(f"source {source!r} has an empty identifier")
    return normalise_ecosystem(prefix), identifier


def make_source(ecosystem: str, identifier: str) -> str:
    return f"{normalise_ecosystem(ecosystem)}:{identifier}"
