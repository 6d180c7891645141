"""Recipes: style-preserving TOML documents, their schema and semantic checks, a typed model.

Three layers, each built on the one before:

* ``RecipeDocument`` wraps a tomlkit document. An unchanged document dumps back byte for byte;
  ``set_metadata_field`` / ``remove_metadata_field`` edit ``[metadata]`` keeping comments, key
  order and indentation.
* ``check_document`` / ``check_recipe_file`` report problems: violations of
  ``schemas/recipe.schema.json`` with field paths, plus what a schema cannot say (file placement,
  no-op or empty platform constraints, a tool without ``[verify]``).
* ``Recipe`` is the frozen model built by ``recipe_from_document`` once the document is valid;
  ``recipe_source`` and ``recipe_identities`` derive the queue source and the names it satisfies.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any

import tomlkit
import tomlkit.exceptions
from tomlkit.items import AoT, InlineTable, Item, Table

from automation.core import schemas
from automation.core.ecosystem_facts import (
    VERSION_PARAM,
    ecosystem_names,
    make_source,
    normalise_ecosystem,
    recipe_action_sources,
    version_source_keys,
)
from automation.core.errors import DataError, UnsafeNameError
from automation.core.layout import RegistryLayout
from automation.core.report import Problem, Severity

SCHEMA_NAME = "recipe"

OSES = ("linux", "darwin")
ARCHES = ("amd64", "arm64")
LIBCS = ("glibc", "musl")
# Linux families tsuku resolves (internal/platform/target.go); constraints have no such dimension.
LINUX_FAMILIES = ("debian", "rhel", "arch", "alpine", "suse")
CONSTRAINT_FIELDS = ("supported_os", "supported_arch", "supported_libc", "unsupported_platforms")


# --- documents --------------------------------------------------------------------------------


@dataclass(slots=True)
class RecipeDocument:
    """One recipe file as a tomlkit document (mutable on purpose: it is the thing being edited)."""

    path: str
    toml: tomlkit.TOMLDocument

    def to_plain(self) -> dict[str, Any]:
        """The document as plain Python values (dict, list, str, int, float, bool, datetime)."""
        plain: dict[str, Any] = self.toml.unwrap()
        return plain


def load_recipe_text(text: str, *, path: str) -> RecipeDocument:
    """Parse recipe TOML; raises DataError naming ``path`` and the line/column on bad syntax."""
    try:
        document = tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        raise DataError(
            f"invalid TOML: {_parse_error_reason(exc)}",
            path=path,
            where=f"line {exc.line} column {exc.col}",
        ) from None
    except (tomlkit.exceptions.TOMLKitError, ValueError, RecursionError) as exc:
        # tomlkit raises a few non-ParseError errors (duplicate keys across tables, bad dates).
        raise DataError(f"invalid TOML: {exc}", path=path) from None
    return RecipeDocument(path, document)


def _parse_error_reason(exc: tomlkit.exceptions.ParseError) -> str:
    message = str(exc)
    suffix = f" at line {exc.line} col {exc.col}"
    return message.removesuffix(suffix) or message


def load_recipe(path: str | Path) -> RecipeDocument:
    """Read and parse one recipe file (bytes decoded as UTF-8, newlines untouched)."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read recipe: {exc.strerror or exc}", path=name) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 (byte offset {exc.start})", path=name) from None
    return load_recipe_text(text, path=name)


def dump_recipe(doc: RecipeDocument) -> str:
    """The document's TOML text; identical to the input when nothing was edited."""
    return tomlkit.dumps(doc.toml)


def _metadata_container(doc: RecipeDocument) -> Table | InlineTable:
    metadata = doc.toml.get("metadata")
    if not isinstance(metadata, Table | InlineTable):
        raise DataError("recipe has no [metadata] table", path=doc.path, where="metadata")
    return metadata


def _key_indent(table: Table | InlineTable) -> str:
    """The indentation of the table's first key (generated recipes indent by two spaces)."""
    if isinstance(table, InlineTable):
        return ""
    for key, item in table.value.body:
        if key is not None and not isinstance(item, Table | AoT):
            indent: str = item.trivia.indent
            return indent if indent.strip(" \t") == "" else ""
    return ""


def _as_item(value: Any) -> Item:
    if isinstance(value, Item):
        return value
    if isinstance(value, list | tuple):
        # Single-line arrays, the form both the generators and humans write for constraint lists.
        array = tomlkit.array()
        array.extend(value)
        return array
    item: Item = tomlkit.item(value)
    return item


def set_metadata_field(doc: RecipeDocument, key: str, value: Any) -> None:
    """Set ``[metadata].key`` in place.

    An existing key keeps its position, indentation and trailing comment; a new key goes after
    the last key of ``[metadata]`` (before ``[metadata.*]`` sub-tables), indented like the table's
    first key. Works the same when earlier pipeline edits left unindented lines.
    """
    metadata = _metadata_container(doc)
    if not key or any(ch in key for ch in "\n\r"):
        raise DataError(f"invalid metadata key {key!r}", path=doc.path)
    item = _as_item(value)
    if key in metadata:
        old = metadata.item(key)
        if not isinstance(old, Item) or isinstance(old, Table | AoT):
            raise DataError(f"metadata.{key} is a table; refusing to overwrite it", path=doc.path)
        item.trivia.indent = old.trivia.indent
        item.trivia.comment_ws = old.trivia.comment_ws
        item.trivia.comment = old.trivia.comment
        item.trivia.trail = old.trivia.trail
        metadata[key] = item
        return
    item.trivia.indent = _key_indent(metadata)
    metadata.add(key, item)


def remove_metadata_field(doc: RecipeDocument, key: str) -> bool:
    """Remove ``[metadata].key``; True if it was there. Other lines and comments stay."""
    metadata = _metadata_container(doc)
    if key not in metadata:
        return False
    del metadata[key]
    return True


# --- checks -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Finding:
    where: str
    message: str
    severity: Severity
    # False when tsuku's loader would still load the recipe (so a lenient model can be built).
    structural: bool = False


def _where(parts: Iterable[Any]) -> str:
    return schemas.json_path(list(parts))


def _schema_findings(plain: Mapping[str, Any]) -> list[_Finding]:
    findings: list[_Finding] = []
    type_failed: set[str] = set()
    errors = sorted(
        schemas.validator(SCHEMA_NAME).iter_errors(plain),
        key=lambda e: (_where(e.absolute_path), str(e.validator)),
    )
    for error in errors:
        if error.validator == "type":
            type_failed.add(_where(error.absolute_path))
    for error in errors:
        where = _where(error.absolute_path)
        keyword = str(error.validator)
        if keyword != "type" and where in type_failed:
            continue  # one message per wrong-typed value is enough
        if keyword == "additionalProperties" and isinstance(error.instance, Mapping):
            known = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
            for extra in sorted(k for k in error.instance if k not in known):
                findings.append(
                    _Finding(
                        f"{where}.{extra}" if where != "(top level)" else str(extra),
                        f"unknown key {extra!r}: tsuku's loader ignores it",
                        "warning",
                    )
                )
            continue
        custom = error.schema.get("x-messages", {}) if isinstance(error.schema, Mapping) else {}
        message = custom.get(keyword) or error.message[:300]
        structural = keyword in ("type", "required", "minItems") or where.startswith(
            "metadata.name"
        )
        if keyword == "type" and where.endswith(".when.arch"):
            structural = False  # tsuku's loader drops the value and loads the recipe
        findings.append(_Finding(where, message, "error", structural))
    return findings


@dataclass(frozen=True, slots=True)
class UnsupportedEntry:
    """One parsed ``unsupported_platforms`` entry: ``os/arch`` or ``linux/arch/libc``."""

    os: str
    arch: str
    libc: str | None = None


def parse_unsupported_entry(entry: str) -> UnsupportedEntry:
    """Parse an ``unsupported_platforms`` entry; raises ValueError saying why it is a no-op."""
    parts = entry.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"{entry!r} is not of the form os/arch or os/arch/libc")
    os_, arch = parts[0], parts[1]
    if os_ not in OSES:
        raise ValueError(f"{entry!r}: unknown os {os_!r} (expected linux or darwin)")
    if arch in LINUX_FAMILIES:
        raise ValueError(
            f"{entry!r} names a Linux family; constraints have no family dimension, so tsuku's "
            "loader treats it as a no-op (a 3-part form would even be read as os/arch/libc)"
        )
    if arch not in ARCHES:
        raise ValueError(f"{entry!r}: unknown arch {arch!r} (expected amd64 or arm64)")
    if len(parts) == 2:
        return UnsupportedEntry(os_, arch)
    libc = parts[2]
    if libc not in LIBCS:
        raise ValueError(f"{entry!r}: unknown libc {libc!r} (expected glibc or musl)")
    if os_ != "linux":
        raise ValueError(f"{entry!r}: libc applies only to linux, so the entry is a no-op")
    return UnsupportedEntry(os_, arch, libc)


@dataclass(frozen=True, slots=True)
class PlatformConstraints:
    """The four constraint fields; ``None`` means absent (default), ``()`` means empty."""

    supported_os: tuple[str, ...] | None = None
    supported_arch: tuple[str, ...] | None = None
    supported_libc: tuple[str, ...] | None = None
    unsupported_platforms: tuple[str, ...] = ()

    def os_arch_pairs(self) -> frozenset[tuple[str, str]]:
        """Supported ``(os, arch)`` pairs: (os or default) x (arch or default) minus os/arch."""
        oses = OSES if self.supported_os is None else self.supported_os
        arches = ARCHES if self.supported_arch is None else self.supported_arch
        excluded = set()
        for entry in self.unsupported_platforms:
            parts = entry.split("/")
            if len(parts) == 2:
                excluded.add((parts[0], parts[1]))
        return frozenset((o, a) for o in oses for a in arches if (o, a) not in excluded)

    def supported_platforms(self) -> frozenset[str]:
        """Every supported ``darwin/<arch>`` and ``linux/<arch>/<libc>`` this recipe admits."""
        excluded_libc = set()
        for entry in self.unsupported_platforms:
            parts = entry.split("/")
            if len(parts) == 3 and parts[0] == "linux":
                excluded_libc.add((parts[1], parts[2]))
        # An empty supported_libc list does not restrict (tsuku checks it only when non-empty).
        libcs = self.supported_libc or LIBCS
        out: set[str] = set()
        for os_, arch in self.os_arch_pairs():
            if os_ != "linux":
                out.add(f"{os_}/{arch}")
                continue
            out.update(
                f"linux/{arch}/{libc}"
                for libc in libcs
                if libc in LIBCS and (arch, libc) not in excluded_libc
            )
        return frozenset(out)

    def is_supported(self, os: str, arch: str, libc: str | None = None) -> bool:
        """Whether a host is supported (``libc`` matters only on Linux; None = glibc)."""
        if os == "linux":
            return f"linux/{arch}/{libc or 'glibc'}" in self.supported_platforms()
        return f"{os}/{arch}" in self.supported_platforms()


def _str_tuple(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, list | tuple):
        return tuple(v for v in value if isinstance(v, str))
    return None


def _constraints_of(metadata: Mapping[str, Any]) -> PlatformConstraints:
    return PlatformConstraints(
        supported_os=_str_tuple(metadata.get("supported_os")),
        supported_arch=_str_tuple(metadata.get("supported_arch")),
        supported_libc=_str_tuple(metadata.get("supported_libc")),
        unsupported_platforms=_str_tuple(metadata.get("unsupported_platforms")) or (),
    )


def _constraint_findings(metadata: Mapping[str, Any]) -> list[_Finding]:
    findings: list[_Finding] = []
    entries = metadata.get("unsupported_platforms")
    constraints = _constraints_of(metadata)
    product = {
        (o, a)
        for o in (OSES if constraints.supported_os is None else constraints.supported_os)
        for a in (ARCHES if constraints.supported_arch is None else constraints.supported_arch)
    }
    if isinstance(entries, list):
        for index, entry in enumerate(entries):
            if not isinstance(entry, str):
                continue  # the schema reports it
            where = f"metadata.unsupported_platforms[{index}]"
            try:
                parsed = parse_unsupported_entry(entry)
            except ValueError as exc:
                findings.append(_Finding(where, str(exc), "error"))
                continue
            if (parsed.os, parsed.arch) not in product:
                findings.append(
                    _Finding(
                        where,
                        f"{entry!r} has no effect: {parsed.os}/{parsed.arch} is not supported "
                        "anyway (tsuku warns)",
                        "warning",
                    )
                )
    typed = all(key not in metadata or isinstance(metadata[key], list) for key in CONSTRAINT_FIELDS)
    if typed and any(key in metadata for key in CONSTRAINT_FIELDS):
        if not constraints.supported_platforms():
            findings.append(
                _Finding(
                    "metadata",
                    "the platform constraints leave no supported platform",
                    "error",
                )
            )
        elif constraints.supported_libc and not any(
            os_ == "linux" for os_, _ in constraints.os_arch_pairs()
        ):
            findings.append(
                _Finding(
                    "metadata.supported_libc",
                    "supported_libc has no effect: the recipe supports no Linux platform",
                    "warning",
                )
            )
    return findings


def _satisfies_findings(metadata: Mapping[str, Any]) -> list[_Finding]:
    satisfies = metadata.get("satisfies")
    if not isinstance(satisfies, Mapping):
        return []
    findings = []
    for key in satisfies:
        where = f"metadata.satisfies.{key}"
        if key in CONSTRAINT_FIELDS:
            findings.append(
                _Finding(
                    where,
                    f"{key} landed in [metadata.satisfies] (a line appended after the sub-table): "
                    "it constrains nothing; move it into [metadata]",
                    "error",
                )
            )
        elif key != "aliases" and normalise_ecosystem(key) not in ecosystem_names():
            findings.append(_Finding(where, f"unknown ecosystem {key!r} in satisfies", "warning"))
    return findings


def _document_findings(plain: Mapping[str, Any]) -> list[_Finding]:
    findings = _schema_findings(plain)
    metadata = plain.get("metadata")
    if isinstance(metadata, Mapping):
        findings += _constraint_findings(metadata)
        findings += _satisfies_findings(metadata)
        for key in ("description", "homepage"):
            if key not in metadata:
                findings.append(
                    _Finding(f"metadata.{key}", f"metadata.{key} is missing", "warning")
                )
        kind = metadata.get("type", "")
        if kind in ("", "tool") and "verify" not in plain:
            findings.append(_Finding("verify", "tool recipe has no [verify] section", "warning"))
    return findings


def _placement_findings(plain: Mapping[str, Any], rel: str) -> list[_Finding]:
    metadata = plain.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    if not isinstance(name, str) or not name:
        return []
    findings = []
    posix = PurePosixPath(rel.replace("\\", "/"))
    if posix.name != f"{name}.toml":
        findings.append(
            _Finding(
                "metadata.name",
                f"file name {posix.name!r} does not match metadata.name {name!r} "
                f"(expected {name}.toml)",
                "error",
            )
        )
    letter = name[0].lower()
    if posix.parent.name != letter or posix.parent.parent.name != "recipes":
        findings.append(
            _Finding(
                "metadata.name",
                f"recipe {name!r} must live in recipes/{letter}/ (it is in {posix.parent}/)",
                "error",
            )
        )
    return findings


def _problems(findings: Iterable[_Finding], rel: str) -> list[Problem]:
    return sorted({Problem(rel, f.where, f.message, f.severity) for f in findings})


def check_document(doc: RecipeDocument, *, rel: str | None = None) -> list[Problem]:
    """Schema and semantic problems of a parsed recipe (placement too when ``rel`` is given)."""
    plain = doc.to_plain()
    findings = _document_findings(plain)
    if rel is not None:
        findings += _placement_findings(plain, rel)
    return _problems(findings, rel if rel is not None else doc.path)


def check_recipe_text(text: str, *, rel: str) -> list[Problem]:
    """Every problem of recipe text at registry path ``rel``; a syntax error is one problem."""
    try:
        doc = load_recipe_text(text, path=rel)
    except DataError as exc:
        return [Problem(rel, exc.where or "", exc.detail, "error")]
    return check_document(doc, rel=rel)


def check_recipe_file(path: str | Path, *, rel: str) -> list[Problem]:
    """Every problem of the recipe file ``path``, reported under ``rel`` (``recipes/a/x.toml``)."""
    try:
        doc = load_recipe(path)
    except DataError as exc:
        return [Problem(rel, exc.where or "", exc.detail, "error")]
    return check_document(doc, rel=rel)


# --- the typed model --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class When:
    """A step's ``when`` clause; empty tuples / None mean the dimension is not constrained."""

    platform: tuple[str, ...] = ()
    os: tuple[str, ...] = ()
    arch: str | None = None
    linux_family: str | None = None
    libc: tuple[str, ...] = ()
    gpu: tuple[str, ...] = ()
    package_manager: str | None = None

    def matches(
        self, os: str, arch: str, *, libc: str | None = None, linux_family: str | None = None
    ) -> bool:
        """Whether the step applies on a host (gpu and package_manager are not evaluated)."""
        if self.platform and f"{os}/{arch}" not in self.platform:
            return False
        if self.os and os not in self.os:
            return False
        if self.arch is not None and arch != self.arch:
            return False
        if self.linux_family is not None and (os != "linux" or linux_family != self.linux_family):
            return False
        return not (self.libc and os == "linux" and (libc or "glibc") not in self.libc)


@dataclass(frozen=True, slots=True)
class Step:
    """One ``[[steps]]`` entry: the action, its other parameters (read-only), its ``when``."""

    action: str
    params: Mapping[str, Any]
    when: When | None = None
    phase: str = "install"

    def param_str(self, key: str) -> str | None:
        """A non-empty string parameter, else None."""
        value = self.params.get(key)
        return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class VerifyCheck:
    command: str
    pattern: str = ""


@dataclass(frozen=True, slots=True)
class Verify:
    """``[verify]``; ``pattern = ""`` means exit status only."""

    command: str
    pattern: str = ""
    patterns: tuple[str, ...] = ()
    mode: str | None = None
    version_format: str | None = None
    reason: str | None = None
    exit_code: int = 0
    additional: tuple[VerifyCheck, ...] = ()


@dataclass(frozen=True, slots=True)
class Recipe:
    """A validated recipe. ``type`` is ``tool`` or ``library`` (the generators' ``""`` = tool)."""

    name: str
    description: str
    homepage: str
    type: str
    steps: tuple[Step, ...]
    verify: Verify | None
    version: Mapping[str, Any]
    constraints: PlatformConstraints
    satisfies: Mapping[str, tuple[str, ...]]
    dependencies: tuple[str, ...] = ()
    runtime_dependencies: tuple[str, ...] = ()
    extra_dependencies: tuple[str, ...] = ()
    extra_runtime_dependencies: tuple[str, ...] = ()
    binaries: tuple[str, ...] = ()
    version_format: str = ""
    requires_sudo: bool = False
    tier: int = 0
    llm_validation: str | None = None
    curated: bool = False
    unsupported_reason: str | None = None
    path: str = field(default="", compare=False)

    @property
    def is_library(self) -> bool:
        return self.type == "library"

    @property
    def all_dependencies(self) -> tuple[str, ...]:
        """Metadata and step-level dependencies, first occurrence order, no duplicates."""
        names: dict[str, None] = {}
        for group in (
            self.dependencies,
            self.runtime_dependencies,
            self.extra_dependencies,
            self.extra_runtime_dependencies,
        ):
            names.update(dict.fromkeys(group))
        for step in self.steps:
            deps = step.params.get("dependencies")
            if isinstance(deps, tuple):
                names.update(dict.fromkeys(d for d in deps if isinstance(d, str)))
        return tuple(names)


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _when_from(raw: Mapping[str, Any]) -> When:
    arch = raw.get("arch")
    family = raw.get("linux_family")
    manager = raw.get("package_manager")
    return When(
        platform=_str_tuple(raw.get("platform")) or (),
        os=_str_tuple(raw.get("os")) or (),
        # A non-string arch is dropped, as tsuku's loader does (the checker reports it).
        arch=arch if isinstance(arch, str) else None,
        linux_family=family if isinstance(family, str) else None,
        libc=_str_tuple(raw.get("libc")) or (),
        gpu=_str_tuple(raw.get("gpu")) or (),
        package_manager=manager if isinstance(manager, str) else None,
    )


def _step_from(raw: Mapping[str, Any]) -> Step:
    when = raw.get("when")
    params = {k: v for k, v in raw.items() if k not in ("action", "when", "phase")}
    return Step(
        action=str(raw["action"]),
        params=_freeze(params),
        when=_when_from(when) if isinstance(when, Mapping) else None,
        phase=str(raw.get("phase", "install")),
    )


def _verify_from(raw: Mapping[str, Any]) -> Verify:
    return Verify(
        command=str(raw["command"]),
        pattern=str(raw.get("pattern", "")),
        patterns=_str_tuple(raw.get("patterns")) or (),
        mode=raw.get("mode"),
        version_format=raw.get("version_format"),
        reason=raw.get("reason"),
        exit_code=int(raw.get("exit_code", 0)),
        additional=tuple(
            VerifyCheck(str(c["command"]), str(c.get("pattern", "")))
            for c in raw.get("additional", ())
        ),
    )


def recipe_from_document(doc: RecipeDocument, *, strict: bool = True) -> Recipe:
    """Validate ``doc`` and build the model; raises DataError listing the errors.

    ``strict=False`` accepts what tsuku's loader would still load (values of the right types,
    e.g. a ``when.arch`` array, which is dropped as the loader does, or an ``http://`` homepage);
    placement is not checked here (``check_document(doc, rel=...)`` does that).
    """
    plain = doc.to_plain()
    findings = _document_findings(plain)
    blocking = [f for f in findings if f.severity == "error" and (strict or f.structural)]
    if blocking:
        first = blocking[0]
        more = f" (and {len(blocking) - 1} more)" if len(blocking) > 1 else ""
        raise DataError(first.message + more, path=doc.path, where=first.where)
    metadata: Mapping[str, Any] = plain["metadata"]
    verify = plain.get("verify")
    satisfies = metadata.get("satisfies", {})

    def names(key: str) -> tuple[str, ...]:
        return _str_tuple(metadata.get(key)) or ()

    return Recipe(
        name=metadata["name"],
        description=metadata.get("description", ""),
        homepage=metadata.get("homepage", ""),
        type=metadata.get("type") or "tool",
        steps=tuple(_step_from(s) for s in plain["steps"]),
        verify=_verify_from(verify) if isinstance(verify, Mapping) else None,
        version=_freeze(plain.get("version", {})),
        constraints=_constraints_of(metadata),
        satisfies=MappingProxyType({k: tuple(v) for k, v in satisfies.items()}),
        dependencies=names("dependencies"),
        runtime_dependencies=names("runtime_dependencies"),
        extra_dependencies=names("extra_dependencies"),
        extra_runtime_dependencies=names("extra_runtime_dependencies"),
        binaries=names("binaries"),
        version_format=metadata.get("version_format", ""),
        requires_sudo=bool(metadata.get("requires_sudo", False)),
        tier=int(metadata.get("tier", 0)),
        llm_validation=metadata.get("llm_validation"),
        curated=bool(metadata.get("curated", False)),
        unsupported_reason=metadata.get("unsupported_reason"),
        path=doc.path,
    )


def load_recipe_model(path: str | Path, *, strict: bool = True) -> Recipe:
    """``recipe_from_document(load_recipe(path))``."""
    return recipe_from_document(load_recipe(path), strict=strict)


def recipe_source(recipe: Recipe) -> str | None:
    """The queue source ``<ecosystem>:<identifier>`` the recipe corresponds to, or None.

    Each ecosystem declares the step actions that name its packages (``recipe_actions``, as the
    bootstrap maps them, §3.4; a parameter spelled ``[version].<key>`` is read from the recipe's
    [version] table). The first step whose action maps to an ecosystem wins; else a declared
    ``[version]`` key (``version_source_key``). The prefix is normalised.
    """
    return _source_of(((step.action, step.params) for step in recipe.steps), recipe.version)


def _source_of(
    steps: Iterable[tuple[str, Mapping[str, Any]]], version: Mapping[str, Any]
) -> str | None:
    sources = recipe_action_sources()
    for action, params in steps:
        mapping = sources.get(action)
        if mapping is None:
            continue
        ecosystem, param = mapping
        if param.startswith(VERSION_PARAM):
            value = version.get(param.removeprefix(VERSION_PARAM))
        else:
            value = params.get(param)
        if isinstance(value, str) and value:
            return make_source(ecosystem, value)
    for key, ecosystem in version_source_keys():
        identifier = version.get(key)
        if isinstance(identifier, str) and identifier:
            return make_source(ecosystem, identifier)
    return None


@dataclass(frozen=True, slots=True)
class RecipeIdentityFields:
    """What a recipe can stand in for, read without building the whole model."""

    name: str
    source: str | None
    satisfies: Mapping[str, tuple[str, ...]]
    is_library: bool


def _identity_from_plain(doc: Mapping[str, Any]) -> RecipeIdentityFields | None:
    """The identity of a parsed recipe, or None when its shape needs the full loader to explain."""
    metadata, steps, version = doc.get("metadata"), doc.get("steps"), doc.get("version", {})
    if not isinstance(metadata, dict) or not isinstance(steps, list) or not steps:
        return None
    if not isinstance(version, dict):
        return None
    name, kind = metadata.get("name"), metadata.get("type", "")
    satisfies = metadata.get("satisfies", {})
    if not isinstance(name, str) or not name or not isinstance(kind, str):
        return None
    if not isinstance(satisfies, dict) or not all(
        isinstance(v, list) and all(isinstance(x, str) for x in v) for v in satisfies.values()
    ):
        return None
    pairs = []
    for step in steps:
        if not isinstance(step, dict) or not isinstance(step.get("action"), str):
            return None
        pairs.append((step["action"], step))
    return RecipeIdentityFields(
        name=name,
        source=_source_of(pairs, version),
        satisfies={k: tuple(v) for k, v in satisfies.items()},
        is_library=(kind or "tool") == "library",
    )


def read_recipe_identity(path: str | Path) -> RecipeIdentityFields:
    """Name, source, ``satisfies`` and kind of one recipe file, fast.

    Parsed with the standard library's ``tomllib`` (about 10x faster than the round-trip
    parser; nothing is edited here). Anything unusual — bad TOML, a missing or mistyped field —
    goes through ``load_recipe_model(strict=False)``, so errors name the file and field exactly
    as everywhere else (and a recipe that loader accepts still yields its identity).
    """
    try:
        with open(path, "rb") as handle:
            identity = _identity_from_plain(tomllib.load(handle))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError, ValueError):
        identity = None
    if identity is not None:
        return identity
    recipe = load_recipe_model(path, strict=False)  # raises DataError naming the problem
    return RecipeIdentityFields(
        name=recipe.name,
        source=recipe_source(recipe),
        satisfies=recipe.satisfies,
        is_library=recipe.is_library,
    )


def recipe_identity_from_text(text: str, *, path: str) -> RecipeIdentityFields:
    """``read_recipe_identity`` of a recipe not (yet) on disk; ``path`` names it in errors."""
    try:
        identity = _identity_from_plain(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, RecursionError, ValueError):
        identity = None
    if identity is not None:
        return identity
    recipe = recipe_from_document(load_recipe_text(text, path=path), strict=False)
    return RecipeIdentityFields(
        name=recipe.name,
        source=recipe_source(recipe),
        satisfies=recipe.satisfies,
        is_library=recipe.is_library,
    )


def recipe_identities(recipe: Recipe) -> frozenset[str]:
    """Names this recipe satisfies: its name, every ``satisfies`` value, its source identifier."""
    names = {recipe.name}
    for values in recipe.satisfies.values():
        names.update(values)
    source = recipe_source(recipe)
    if source is not None:
        names.add(source.split(":", 1)[1])
    return frozenset(names)


# --- existing recipes: what automation may replace ------------------------------------------


def replacement_refusal(layout: RegistryLayout, name: str, *, forced: bool) -> str | None:
    """Why automation must not write recipe ``name`` into the registry, or None when it may.

    It may when the registry has no file of that name, or when the batch was told to replace it
    (``forced``: ``generate --force NAME``) and the file is not ``curated = true``. A curated
    recipe is a maintainer's, never replaced by automation; a file whose ``curated`` flag cannot
    be read is treated the same way. An unsafe name has no registry file: the builder reports
    it. The reason names the file and what to do.
    """
    try:
        path = layout.recipe_path(name)
    except UnsafeNameError:
        return None
    if not path.is_file():
        return None
    rel = f"recipes/{name[0]}/{name}.toml"  # the layout's own form (recipe_path)
    unreadable: str | None = None
    try:
        metadata = tomllib.loads(path.read_text(encoding="utf-8")).get("metadata")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as exc:
        metadata, unreadable = None, str(exc)
    if isinstance(metadata, dict) and metadata.get("curated") is True:
        return f"{rel} is curated (curated = true): automation never replaces it, even with --force"
    if not forced:
        return f"recipe exists: {rel}; pass --force {name} to replace it"
    if unreadable is not None:
        return f"{rel} cannot be read ({unreadable}), so it may be curated: not replaced"
    return None
