"""Recipes round-trip byte for byte, edits keep comments, checks find real problems, never crash."""

from __future__ import annotations

import dataclasses
import tomllib
from collections import Counter
from pathlib import Path

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from automation.core import schemas
from automation.core.errors import DataError
from automation.core.layout import RegistryLayout
from automation.registry.recipes import (
    PlatformConstraints,
    Recipe,
    RecipeDocument,
    check_document,
    check_recipe_file,
    check_recipe_text,
    dump_recipe,
    load_recipe,
    load_recipe_model,
    load_recipe_text,
    parse_unsupported_entry,
    recipe_from_document,
    recipe_identities,
    recipe_source,
    remove_metadata_field,
    replacement_refusal,
    set_metadata_field,
)


def reference_app_bundle_recipes(reference_dir: Path) -> list[Path]:
    found = [
        path
        for path in sorted((reference_dir / "recipes").glob("*/*.toml"))
        if any(
            step.get("action") == "app_bundle"
            for step in tomllib.loads(path.read_text(encoding="utf-8")).get("steps", [])
        )
    ]
    assert found, "the reference registry has app_bundle recipes (recipes/i/iterm2.toml)"
    return found


def test_recipe_source_of_reference_cask_recipes(reference_dir: Path) -> None:
    iterm2 = load_recipe_model(reference_dir / "recipes/i/iterm2.toml")
    assert recipe_source(iterm2) == "cask:iterm2"
    assert "iterm2" in recipe_identities(iterm2)
    for path in reference_app_bundle_recipes(reference_dir):
        document = tomllib.loads(path.read_text(encoding="utf-8"))
        # the step names no package: the cask is the cask version provider's [version] cask
        assert recipe_source(load_recipe_model(path)) == f"cask:{document['version']['cask']}"


def test_app_bundle_without_a_cask_has_no_source() -> None:
    text = (
        '[metadata]\nname = "t"\ndescription = "d"\nhomepage = "https://t"\n'
        '[[steps]]\naction = "app_bundle"\nurl = "https://x/T.zip"\nchecksum = "sha256:00"\n'
        'app_name = "T.app"\n'
    )
    recipe = recipe_from_document(load_recipe_text(text, path="t.toml"))
    assert recipe_source(recipe) is None


# A generator-style recipe (two-space indents, zero values, an unindented pipeline line).
GENERATED = """\
[metadata]
  name = "add-determinism"
  description = "Build postprocessor to reset metadata fields for build reproducibility"
  homepage = "https://github.com/keszybz/add-determinism"
  version_format = ""
  requires_sudo = false
  tier = 0
  type = ""
  llm_validation = "skipped"
unsupported_platforms = ["linux/arm64"]

[[steps]]
  action = "cargo_install"
  crate = "add-determinism"
  executables = ["add-det", "add-determinism"]

[verify]
  command = "add-det --version"
  pattern = ""
"""


GENERATED_REL = "recipes/a/add-determinism.toml"


def recipe_files(reference_dir: Path) -> list[Path]:
    files = sorted(
        p for p in (reference_dir / "recipes").glob("*/*.toml") if len(p.parent.name) == 1
    )
    assert len(files) == 1337
    return files


def rel(reference_dir: Path, path: Path) -> str:
    return path.relative_to(reference_dir).as_posix()


def with_metadata(**fields: object) -> str:
    """GENERATED with metadata fields replaced/added (None removes a field)."""
    doc = load_recipe_text(GENERATED, path=GENERATED_REL)
    for key, value in fields.items():
        if value is None:
            remove_metadata_field(doc, key)
        else:
            set_metadata_field(doc, key, value)
    return dump_recipe(doc)


def problems_of(text: str, where_rel: str = GENERATED_REL) -> list[tuple[str, str]]:
    return [(p.severity, p.where) for p in check_recipe_text(text, rel=where_rel)]


def test_every_reference_recipe_round_trips_byte_for_byte(reference_dir: Path) -> None:
    for path in recipe_files(reference_dir):
        doc = load_recipe(path)
        assert dump_recipe(doc).encode("utf-8") == path.read_bytes(), path


def test_setting_a_field_keeps_comments_and_order(reference_dir: Path) -> None:
    path = reference_dir / "recipes/a/act.toml"
    original = path.read_text()
    doc = load_recipe(path)
    set_metadata_field(doc, "supported_os", ["linux"])
    edited = dump_recipe(doc)
    # exactly one line added, at the end of [metadata], after the human comment and its line
    assert edited == original.replace(
        'supported_libc = ["glibc"]\n', 'supported_libc = ["glibc"]\nsupported_os = ["linux"]\n', 1
    )
    assert "# act ships glibc-linked binaries" in edited
    assert tomlkit.parse(edited)["metadata"]["supported_os"] == ["linux"]


def test_replacing_an_unindented_pipeline_line_changes_only_that_line(reference_dir: Path) -> None:
    path = reference_dir / "recipes/b/bc.toml"  # two unindented lines from the pipeline
    original = path.read_text()
    doc = load_recipe(path)
    set_metadata_field(doc, "supported_libc", ["glibc", "musl"])
    edited = dump_recipe(doc)
    assert edited == original.replace(
        'supported_libc = ["glibc"]\n', 'supported_libc = ["glibc", "musl"]\n'
    )


def test_new_field_uses_the_tables_indentation(reference_dir: Path) -> None:
    doc = load_recipe(reference_dir / "recipes/m/mlx-c.toml")
    set_metadata_field(doc, "supported_os", ["darwin"])
    edited = dump_recipe(doc)
    assert '  unsupported_platforms = ["darwin/amd64", "linux/arm64", "linux/amd64"]\n' in edited
    assert '\n  supported_os = ["darwin"]\n\n[version]' in edited


def test_new_field_goes_into_metadata_not_its_sub_table(reference_dir: Path) -> None:
    doc = load_recipe(reference_dir / "recipes/a/abseil.toml")
    set_metadata_field(doc, "supported_libc", ["glibc"])
    reparsed = tomlkit.parse(dump_recipe(doc))
    assert reparsed["metadata"]["supported_libc"] == ["glibc"]
    assert reparsed["metadata"]["satisfies"] == {"homebrew": ["abseil-cpp"]}
    assert (
        check_document(load_recipe_text(dump_recipe(doc), path="x"), rel="recipes/a/abseil.toml")
        == []
    )


def test_remove_field_keeps_everything_else(reference_dir: Path) -> None:
    path = reference_dir / "recipes/m/mlx-c.toml"
    original = path.read_text()
    doc = load_recipe(path)
    assert remove_metadata_field(doc, "unsupported_platforms") is True
    assert remove_metadata_field(doc, "unsupported_platforms") is False
    line = '  unsupported_platforms = ["darwin/amd64", "linux/arm64", "linux/amd64"]\n'
    assert dump_recipe(doc) == original.replace(line, "")


def test_editing_a_recipe_without_metadata_is_a_data_error() -> None:
    doc = load_recipe_text('[[steps]]\naction = "x"\n', path="recipes/x/x.toml")
    with pytest.raises(DataError, match="metadata"):
        set_metadata_field(doc, "supported_os", ["linux"])


def test_malformed_toml_names_file_line_and_column() -> None:
    text = '[metadata]\nname = "x"\ndescription = "unterminated\n'
    with pytest.raises(DataError) as caught:
        load_recipe_text(text, path="recipes/x/x.toml")
    assert caught.value.path == "recipes/x/x.toml"
    assert caught.value.where is not None and caught.value.where.startswith("line 3 column")
    assert str(caught.value).startswith("recipes/x/x.toml:line 3 column")


def test_duplicate_key_is_a_data_error() -> None:
    with pytest.raises(DataError, match="already exists"):
        load_recipe_text('[metadata]\nname = "a"\nname = "b"\n', path="r.toml")


def test_unreadable_and_non_utf8_files_are_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read"):
        load_recipe(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b'[metadata]\nname = "\xff"\n')
    with pytest.raises(DataError, match="UTF-8"):
        load_recipe(bad)
    problems = check_recipe_file(bad, rel="recipes/b/bad.toml")
    assert [p.severity for p in problems] == ["error"]


def test_reference_recipes_have_only_the_known_problems(reference_dir: Path) -> None:
    found: Counter[str] = Counter()
    errors = set()
    for path in recipe_files(reference_dir):
        for problem in check_recipe_file(path, rel=rel(reference_dir, path)):
            found[problem.severity] += 1
            if problem.severity == "error":
                errors.add((problem.path, problem.where))
    # mlx-c uses when.arch as a list; six darwin-only recipes carry a no-op supported_libc
    assert errors == {
        ("recipes/m/mlx-c.toml", "steps[0].when.arch"),
        ("recipes/m/mlx-c.toml", "steps[1].when.arch"),
    }
    assert found == {"error": 2, "warning": 6}


def test_every_reference_recipe_builds_a_lenient_model(reference_dir: Path) -> None:
    strict_failures = []
    for path in recipe_files(reference_dir):
        doc = load_recipe(path)
        recipe = recipe_from_document(doc, strict=False)
        assert recipe.name == path.stem
        try:
            recipe_from_document(doc)
        except DataError:
            strict_failures.append(path.stem)
    assert strict_failures == ["mlx-c"]


def test_when_arch_list_is_an_error_and_dropped_leniently(reference_dir: Path) -> None:
    path = reference_dir / "recipes/m/mlx-c.toml"
    problems = check_recipe_file(path, rel="recipes/m/mlx-c.toml")
    assert all("tsuku's loader silently ignores" in p.message for p in problems)
    with pytest.raises(DataError, match=r"steps\[0\]\.when\.arch"):
        load_recipe_model(path)
    recipe = load_recipe_model(path, strict=False)
    assert recipe.steps[0].when is not None
    assert recipe.steps[0].when.arch is None
    assert recipe.steps[0].when.os == ("darwin",)
    assert recipe.constraints.supported_platforms() == {"darwin/arm64"}


def test_generated_recipe_is_clean() -> None:
    assert check_recipe_text(GENERATED, rel=GENERATED_REL) == []


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"homepage": "http://example.com"}, [("error", "metadata.homepage")]),
        ({"supported_libc": ["uclibc"]}, [("error", "metadata.supported_libc[0]")]),
        (
            {"supported_os": []},
            [("error", "metadata"), ("warning", "metadata.unsupported_platforms[0]")],
        ),
        (
            {"supported_os": ["linux"], "unsupported_platforms": ["linux/amd64", "linux/arm64"]},
            [("error", "metadata")],
        ),
        (
            {
                "supported_os": ["linux"],
                "supported_libc": ["glibc"],
                "unsupported_platforms": ["linux/amd64/glibc", "linux/arm64/glibc"],
            },
            [("error", "metadata")],
        ),
        (
            {"supported_os": ["linux"], "unsupported_platforms": ["darwin/arm64"]},
            [("warning", "metadata.unsupported_platforms[0]")],
        ),
        (
            {"unsupported_platforms": ["linux/debian"]},
            [("error", "metadata.unsupported_platforms[0]")],
        ),
        (
            {"unsupported_platforms": ["linux/rhel/amd64"]},
            [("error", "metadata.unsupported_platforms[0]")],
        ),
        (
            {"unsupported_platforms": ["darwin/arm64/musl", "windows/amd64", "linux"]},
            [("error", f"metadata.unsupported_platforms[{i}]") for i in range(3)],
        ),
        ({"unsupported_platforms": ["linux/arm64/musl"]}, []),
        ({"unsupported_platforms": []}, []),
        (
            {"supported_os": ["darwin"], "supported_libc": ["glibc"]},
            [
                ("warning", "metadata.supported_libc"),
                ("warning", "metadata.unsupported_platforms[0]"),
            ],
        ),
        ({"maintainer": "someone"}, [("warning", "metadata.maintainer")]),
        ({"type": "plugin"}, [("error", "metadata.type")]),
        ({"tier": "1"}, [("error", "metadata.tier")]),
        # unsafe name, file name mismatch, wrong letter directory
        ({"name": "Bad/Name"}, [("error", "metadata.name")] * 3),
        ({"homepage": None}, [("warning", "metadata.homepage")]),
    ],
)
def test_metadata_checks(fields: dict[str, object], expected: list[tuple[str, str]]) -> None:
    text = with_metadata(**fields)
    found = [(s, w) for s, w in problems_of(text) if w != "metadata.name" or "name" in fields]
    assert sorted(found) == sorted(expected)


def test_family_entries_say_why_they_are_no_ops() -> None:
    text = with_metadata(unsupported_platforms=["linux/debian"])
    [problem] = check_recipe_text(text, rel=GENERATED_REL)
    assert "no family dimension" in problem.message
    with pytest.raises(ValueError, match="libc applies only to linux"):
        parse_unsupported_entry("darwin/arm64/glibc")
    assert parse_unsupported_entry("linux/arm64/musl").libc == "musl"


def test_constraint_line_that_landed_in_satisfies_is_an_error() -> None:
    text = GENERATED.replace(
        "[[steps]]",
        '[metadata.satisfies]\n  homebrew = ["x"]\nsupported_os = ["linux"]\n\n[[steps]]',
        1,
    )
    assert problems_of(text) == [("error", "metadata.satisfies.supported_os")]


def test_file_placement_is_checked() -> None:
    assert problems_of(GENERATED, "recipes/a/other.toml") == [("error", "metadata.name")]
    assert problems_of(GENERATED, "recipes/b/add-determinism.toml") == [("error", "metadata.name")]
    assert problems_of(GENERATED, "add-determinism.toml") == [("error", "metadata.name")]


def test_step_checks() -> None:
    both = GENERATED.replace(
        '  crate = "add-determinism"',
        '  crate = "add-determinism"\n  when = { platform = ["linux/amd64"], os = ["linux"] }',
    )
    [problem] = check_recipe_text(both, rel=GENERATED_REL)
    assert problem.where == "steps[0].when" and "mutually exclusive" in problem.message
    libc = GENERATED.replace(
        '  crate = "add-determinism"', '  crate = "x"\n  when = { libc = ["bionic"] }'
    )
    assert problems_of(libc) == [("error", "steps[0].when.libc[0]")]
    no_crate = GENERATED.replace('  crate = "add-determinism"\n', "")
    assert problems_of(no_crate) == [("error", "steps[0]")]
    no_steps = GENERATED.split("[[steps]]")[0]
    assert ("error", "(top level)") in problems_of(no_steps)


def test_verify_rules() -> None:
    no_verify = GENERATED.split("[verify]")[0]
    assert problems_of(no_verify) == [("warning", "verify")]
    library = no_verify.replace('type = ""', 'type = "library"')
    assert problems_of(library) == []
    # pattern = "" (exit status only) is fine; an unknown verify key is only a warning
    assert problems_of(GENERATED + '  flavour = "x"\n') == [("warning", "verify.flavour")]


def test_schema_is_valid_2020_12() -> None:
    validator = schemas.validator("recipe")
    assert validator.schema["$id"] == "recipe.schema.json"
    assert validator.schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("a/act", "github:nektos/act"),
        ("a/argocd", "github:argoproj/argo-cd"),
        ("a/abseil", "homebrew:abseil"),
        ("a/aarch64-elf-binutils", "homebrew:aarch64-elf-binutils"),
        ("h/hello-nix", "nix:hello"),
        ("c/corretto", None),  # download_archive by URL, http_json version source
    ],
)
def test_recipe_source_of_reference_recipes(
    reference_dir: Path, name: str, source: str | None
) -> None:
    assert recipe_source(load_recipe_model(reference_dir / f"recipes/{name}.toml")) == source


def model(text: str) -> Recipe:
    return recipe_from_document(load_recipe_text(text, path="t.toml"))


@pytest.mark.parametrize(
    ("step", "source"),
    [
        ('action = "cargo_install"\ncrate = "add-determinism"', "crates.io:add-determinism"),
        ('action = "npm_install"\npackage = "actions-up"', "npm:actions-up"),
        ('action = "pipx_install"\npackage = "black"', "pypi:black"),
        ('action = "gem_install"\ngem = "asciidoctor"', "rubygems:asciidoctor"),
        ('action = "go_install"\nmodule = "github.com/a/b/cmd/c"', "go:github.com/a/b/cmd/c"),
        ('action = "cpan_install"\ndistribution = "App-Ack"', "cpan:App-Ack"),
        ('action = "download_archive"\nurl = "https://x/y.tgz"\nrepo = "o/r"', "github:o/r"),
    ],
)
def test_recipe_source_per_action(step: str, source: str) -> None:
    text = (
        '[metadata]\nname = "t"\ndescription = "d"\nhomepage = "https://t"\ntype = "library"\n'
        f'[[steps]]\naction = "apk_install"\npackages = ["t"]\n[[steps]]\n{step}\n'
    )
    assert recipe_source(model(text)) == source


def test_recipe_source_falls_back_to_version_github_repo() -> None:
    text = (
        '[metadata]\nname = "t"\ndescription = "d"\nhomepage = "https://t"\ntype = "library"\n'
        '[version]\ngithub_repo = "o/t"\n[[steps]]\naction = "download"\nurl = "https://x"\n'
    )
    recipe = model(text)
    assert recipe_source(recipe) == "github:o/t"
    assert recipe_identities(recipe) == {"t", "o/t"}


def test_recipe_identities(reference_dir: Path) -> None:
    abseil = load_recipe_model(reference_dir / "recipes/a/abseil.toml")
    assert recipe_identities(abseil) == {"abseil", "abseil-cpp"}
    corretto = load_recipe_model(reference_dir / "recipes/c/corretto.toml")
    assert "java" in recipe_identities(corretto)


def test_model_fields_and_immutability(reference_dir: Path) -> None:
    act = load_recipe_model(reference_dir / "recipes/a/act.toml")
    assert act.type == "tool" and act.curated and act.version_format == "semver"
    assert act.constraints == PlatformConstraints(supported_libc=("glibc",))
    assert not act.constraints.is_supported("linux", "amd64", "musl")
    assert act.constraints.is_supported("darwin", "arm64")
    first = act.steps[0]
    assert first.action == "github_archive" and first.params["binaries"] == ("act",)
    assert first.when is not None and first.when.matches("linux", "amd64", libc="glibc")
    assert not first.when.matches("linux", "amd64", libc="musl")
    assert act.verify is not None and act.verify.pattern == "{version}"
    with pytest.raises(dataclasses.FrozenInstanceError):
        act.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        first.params["repo"] = "x"  # type: ignore[index]
    generated = model(GENERATED)
    assert generated.type == "tool"
    assert generated.verify is not None and generated.verify.pattern == ""
    assert generated.constraints.supported_platforms() == {
        "linux/amd64/glibc",
        "linux/amd64/musl",
        "darwin/amd64",
        "darwin/arm64",
    }


def _never_crashes(text: str) -> None:
    try:
        doc = load_recipe_text(text, path="recipes/x/x.toml")
    except DataError:
        return
    problems = check_document(doc, rel="recipes/x/x.toml")
    assert all(p.severity in ("error", "warning") for p in problems)
    try:
        recipe = recipe_from_document(doc, strict=False)
    except DataError:
        return
    recipe_source(recipe)
    recipe_identities(recipe)
    recipe.constraints.supported_platforms()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_gives_data_errors_or_problems(text: str) -> None:
    _never_crashes(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("[]=\"\n .{},#0aZ_-'\\t")), max_size=200))
def test_toml_like_text_gives_data_errors_or_problems(text: str) -> None:
    _never_crashes(text)


# reference_dir is session-scoped: sharing it between examples is safe
FIXTURE_OK = [HealthCheck.function_scoped_fixture]


SAMPLES = ("a/act", "a/abseil", "m/mlx-c", "b/bc", "t/tsuku-llm", "d/deno", "c/corretto")


@settings(max_examples=200, deadline=None, suppress_health_check=FIXTURE_OK)
@given(sample=st.sampled_from(SAMPLES), cut=st.floats(min_value=0.0, max_value=1.0))
def test_truncated_real_recipes(reference_dir: Path, sample: str, cut: float) -> None:
    text = (reference_dir / f"recipes/{sample}.toml").read_text()
    _never_crashes(text[: int(len(text) * cut)])


# every key the schema knows, plus the top-level sections, wherever they can be put
_DEFS = schemas.validator("recipe").schema["$defs"]


FUZZ_KEYS = sorted(
    {"action", "when", "steps", "metadata", "repo", "formula"}
    | {
        key
        for part in ("metadata", "version", "when", "verify")
        for key in _DEFS[part]["properties"]
    }
)


toml_values = st.recursive(
    st.one_of(
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=True),
        st.text(max_size=20),
        st.dates(),
    ),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(min_size=1, max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None, suppress_health_check=FIXTURE_OK)
@given(
    sample=st.sampled_from(SAMPLES),
    table=st.sampled_from(["metadata", "version", "verify", "step", "when", "top"]),
    key=st.sampled_from(FUZZ_KEYS),
    value=toml_values,
)
def test_wrong_types_give_problems_not_crashes(
    reference_dir: Path, sample: str, table: str, key: str, value: object
) -> None:
    doc = load_recipe(reference_dir / f"recipes/{sample}.toml")
    target = _target(doc, table)
    if target is None:
        return
    target[key] = value
    _never_crashes(dump_recipe(doc))
    # the edited document itself (not only its dump) must check cleanly too
    check_document(doc, rel=f"recipes/{sample}.toml")


def _target(
    doc: RecipeDocument, table: str
) -> tomlkit.items.Table | tomlkit.items.InlineTable | tomlkit.TOMLDocument | None:
    toml = doc.toml
    if table == "top":
        return toml
    if table in ("step", "when"):
        steps = toml.get("steps")
        if not steps:
            return None
        step = steps[0]
        if table == "step":
            return step  # type: ignore[no-any-return]
        when = step.get("when")
        return when if isinstance(when, tomlkit.items.Table | tomlkit.items.InlineTable) else None
    found = toml.get(table)
    return found if isinstance(found, tomlkit.items.Table) else None


# --- replacement_refusal: what automation may write over -------------------------------------


def _registry_with(tmp_path: Path, name: str, text: str | bytes) -> RegistryLayout:
    layout = RegistryLayout.at(tmp_path)
    path = layout.recipes_dir / name[0] / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return layout


PLAIN_RECIPE = '[metadata]\nname = "tool"\n\n[[steps]]\naction = "pipx_install"\npackage = "tool"\n'


def test_a_name_without_a_recipe_may_be_written(tmp_path: Path) -> None:
    layout = RegistryLayout.at(tmp_path)
    assert replacement_refusal(layout, "tool", forced=False) is None
    assert replacement_refusal(layout, "tool", forced=True) is None
    assert replacement_refusal(layout, "../escape", forced=False) is None  # the builder refuses


def test_an_existing_recipe_needs_force_and_the_reason_says_so(tmp_path: Path) -> None:
    layout = _registry_with(tmp_path, "tool", PLAIN_RECIPE)
    reason = replacement_refusal(layout, "tool", forced=False)
    assert reason == "recipe exists: recipes/t/tool.toml; pass --force tool to replace it"
    assert replacement_refusal(layout, "tool", forced=True) is None


def test_a_curated_recipe_is_never_replaced(reference_dir: Path, tmp_path: Path) -> None:
    """The reference's bat.toml (``curated = true``): not even with force, and the reason does
    not suggest --force."""
    text = (reference_dir / "recipes" / "b" / "bat.toml").read_text(encoding="utf-8")
    assert tomllib.loads(text)["metadata"]["curated"] is True
    layout = _registry_with(tmp_path, "bat", text)
    for forced in (False, True):
        reason = replacement_refusal(layout, "bat", forced=forced)
        assert reason is not None and "recipes/b/bat.toml is curated" in reason
        assert "pass --force" not in reason


def test_curated_false_is_replaced_with_force(tmp_path: Path) -> None:
    layout = _registry_with(tmp_path, "tool", PLAIN_RECIPE.replace("\n\n", "\ncurated = false\n\n"))
    assert replacement_refusal(layout, "tool", forced=True) is None


def test_an_unreadable_recipe_is_not_replaced_even_with_force(tmp_path: Path) -> None:
    layout = _registry_with(tmp_path, "tool", b"[metadata\nname = \xff")
    assert "pass --force tool" in (replacement_refusal(layout, "tool", forced=False) or "")
    reason = replacement_refusal(layout, "tool", forced=True)
    assert reason is not None and reason.startswith("recipes/t/tool.toml cannot be read")
