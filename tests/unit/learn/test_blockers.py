"""Blocker analysis on small hand-made graphs: what gap reports, requeue and reorder rely on."""

from __future__ import annotations

from automation.learn import blockers as bl
from tests.support.failure_graphs import analyse, entry, queue, record


def test_diamond_counts_each_package_once() -> None:
    # d blocks b and c; b and c both block a: d holds back a, b, c (3), not 4 paths.
    q = queue(entry("a"), entry("b"), entry("c"), entry("d", status="pending"))
    records = [
        record("homebrew:a", ("b", "c")),
        record("homebrew:b", ("d",)),
        record("homebrew:c", ("d",)),
    ]
    result = analyse(records, q).by_key()
    assert result["d"].direct == ("b", "c")
    assert result["d"].transitive == ("a", "b", "c")
    assert result["d"].weighted == 3.0
    assert result["b"].transitive == ("a",)


def test_cycle_is_safe_and_never_counts_itself() -> None:
    q = queue(entry("a"), entry("b"))
    result = analyse([record("homebrew:a", ("b",)), record("homebrew:b", ("a",))], q).by_key()
    assert result["a"].transitive == ("b",)
    assert result["b"].transitive == ("a",)


def test_longer_cycle_with_tail() -> None:
    q = queue(entry("a"), entry("b"), entry("c"), entry("x"))
    records = [
        record("homebrew:a", ("c",)),
        record("homebrew:b", ("a",)),
        record("homebrew:c", ("b",)),
        record("homebrew:x", ("a",)),
    ]
    result = analyse(records, q).by_key()
    assert result["a"].transitive == ("b", "c", "x")


def test_records_resolve_through_sources_not_just_names() -> None:
    # Entry `task` fails as homebrew:go-task (the reference's markfailures never matched it).
    q = queue(entry("task", "homebrew:go-task"), entry("hub", "github:github/hub"))
    current = bl.current_blockers(
        [record("homebrew:go-task", ("libfoo",)), record("github:github/hub", ("libbar",))], q
    )
    assert set(current.by_entry) == {"task", "hub"}
    assert current.by_entry["task"].dependencies == (bl.Dependency("homebrew", "libfoo"),)


def test_unresolved_and_stale_records_are_reported() -> None:
    q = queue(entry("numpy", "crates.io:numpy", status="pending"))
    current = bl.current_blockers(
        [record("homebrew:numpy", ("python@3.14",)), record("pypi:ghost", ("x",))], q
    )
    assert current.by_entry == {}
    assert current.stale == {"homebrew:numpy": 1}
    assert current.unresolved == {"pypi:ghost": 1}


def test_latest_record_with_blockers_decides_and_later_ones_without_do_not_hide_it() -> None:
    q = queue(entry("neovim"))
    records = [
        record("homebrew:neovim", ("tree-sitter@0.25", "libuv", "lpeg"), at="2026-03-01T00:00:00Z"),
        record("homebrew:neovim", ("tree-sitter@0.25",), at="2026-03-02T00:00:00Z"),
        # later: a generation failure and a per-platform exit-8 line, neither with a list
        record("homebrew:neovim", at="2026-03-03T00:00:00Z", category="generation_failed"),
        record("neovim", at="2026-03-04T00:00:00Z"),
    ]
    current = bl.current_blockers(records, q).by_entry["neovim"]
    assert [d.name for d in current.dependencies] == ["tree-sitter@0.25"]
    # the deciding record is the latest one with a list
    assert current.timestamp == "2026-03-02T00:00:00Z"


def test_order_is_by_timestamp_not_file_order() -> None:
    q = queue(entry("vim"))
    records = [
        record("homebrew:vim", ("python@3.14",), at="2026-03-03T00:00:00Z", file="z.jsonl"),
        record("homebrew:vim", ("gettext",), at="2026-02-08T00:00:00Z", file="a.jsonl"),
    ]
    deps = bl.current_blockers(reversed(records), q).by_entry["vim"].dependencies
    assert [d.name for d in deps] == ["python@3.14"]


def test_done_entries_are_not_blocked() -> None:
    q = queue(entry("a", status="success"), entry("b", status="excluded"), entry("c"))
    records = [record(f"homebrew:{n}", ("dep",)) for n in "abc"]
    assert analyse(records, q).by_key()["dep"].direct == ("c",)


# --- identity ---------------------------------------------------------------------------------


def test_identity_matching_is_ecosystem_aware() -> None:
    dep = bl.Dependency("homebrew", "gmp")
    from_satisfies = bl.RecipeIdentity.build("libgmp", satisfies={"homebrew": ["gmp"]})
    from_source = bl.RecipeIdentity.build("gmp-lib", source="homebrew:gmp")
    npm_named = bl.RecipeIdentity.build("gmp", source="npm:gmp")
    github_named = bl.RecipeIdentity.build("gmp", source="github:example/gmp")
    sourceless = bl.RecipeIdentity.build("gmp")
    assert from_satisfies.match(dep) == "satisfies"
    assert from_source.match(dep) == "source"
    assert npm_named.match(dep) is None
    assert github_named.match(dep) == "name"
    assert sourceless.match(dep) == "name"
    # satisfies entries are per ecosystem: homebrew = ["gmp"] says nothing about npm's gmp
    assert from_satisfies.match(bl.Dependency("npm", "gmp")) is None
    assert npm_named.match(bl.Dependency("npm", "gmp")) == "source"


def test_identity_aliases_and_dep_mapping() -> None:
    openssl = bl.RecipeIdentity.build("openssl", source="homebrew:openssl@3")
    java = bl.RecipeIdentity.build("temurin", satisfies={"aliases": ["java"]})
    index = bl.IdentityIndex((openssl, java), {"openssl@1.1": "openssl"})
    assert index.satisfier(bl.Dependency("homebrew", "openssl@3")) == bl.Satisfaction(
        "openssl", "source"
    )
    assert index.satisfier(bl.Dependency("homebrew", "openssl@1.1")) == bl.Satisfaction(
        "openssl", "dep-mapping"
    )
    assert index.satisfier(bl.Dependency("homebrew", "java")) == bl.Satisfaction("temurin", "alias")
    assert index.satisfier(bl.Dependency("homebrew", "python@3.14")) is None


def test_satisfied_dependencies_are_requeue_candidates_not_blockers() -> None:
    q = queue(entry("tree"), entry("app"), entry("tool"))
    records = [
        record("homebrew:app", ("tree-sitter@0.25", "libuv")),
        record("homebrew:tool", ("tree-sitter", "libuv")),
    ]
    tree_sitter = bl.RecipeIdentity.build(
        "tree-sitter", satisfies={"homebrew": ["tree-sitter", "tree-sitter@0.25"]}
    )
    analysis = analyse(records, q, recipes=[tree_sitter])
    assert [b.key for b in analysis.blockers] == ["libuv"]
    assert {(s.dependency, s.recipe, s.blocked) for s in analysis.satisfied} == {
        ("homebrew:tree-sitter", "tree-sitter", ("tool",)),
        ("homebrew:tree-sitter@0.25", "tree-sitter", ("app",)),
    }


def test_dep_mapping_merges_aliases_of_a_missing_dependency() -> None:
    q = queue(entry("a"), entry("b"), entry("c"))
    records = [
        record("homebrew:a", ("openssl@3",)),
        record("homebrew:b", ("openssl",)),
        record("homebrew:c", ("openssl@3",)),
    ]
    analysis = analyse(records, q, mapping={"openssl@3": "openssl"})
    (blocker,) = analysis.blockers
    assert blocker.key == "openssl"
    assert blocker.direct == ("a", "b", "c")
    assert blocker.dependencies == ("homebrew:openssl", "homebrew:openssl@3")


def test_dependency_named_like_an_unrelated_entry_keeps_its_prefix() -> None:
    # The queue's numpy points at crates.io: Homebrew's numpy dependency is something else.
    q = queue(entry("numpy", "crates.io:numpy", status="pending"), entry("acronym"))
    analysis = analyse([record("homebrew:acronym", ("numpy",))], q)
    assert [b.key for b in analysis.blockers] == ["homebrew:numpy"]
    assert analysis.blockers[0].queue_entry is None


def test_transitive_links_go_through_queue_sources() -> None:
    # Dependency `harfbuzz` is the queue entry with source homebrew:harfbuzz, itself blocked.
    q = queue(entry("openjdk"), entry("hb", "homebrew:harfbuzz"))
    records = [record("homebrew:openjdk", ("harfbuzz",)), record("homebrew:harfbuzz", ("icu4c",))]
    result = analyse(records, q).by_key()
    assert result["hb"].direct == ("openjdk",)
    assert result["icu4c"].transitive == ("hb", "openjdk")


# --- filters and weights ----------------------------------------------------------------------


def test_ecosystem_and_environment_filters() -> None:
    q = queue(entry("a"), entry("b", "npm:b"), entry("c"))
    records = [
        record("homebrew:a", ("x",)),
        record("npm:b", ("x",)),
        record("c", ("x",), environment="linux-alpine-musl-x86_64"),
    ]
    current = bl.current_blockers(records, q, ecosystem="homebrew")
    assert set(current.by_entry) == {"a", "c"}  # per-platform lines take the entry's ecosystem
    current = bl.current_blockers(records, q, environment="linux-alpine-musl-x86_64")
    assert set(current.by_entry) == {"c"}
    assert current.records == 1


def test_weights_priority_fallback_popularity_and_top_order() -> None:
    q = queue(
        entry("low", priority=3), entry("high", priority=1), entry("mid", priority=2), entry("p")
    )
    records = [record(f"homebrew:{n}", ("dep",)) for n in ("low", "high", "mid", "p")]
    analysis = analyse(records, q, uniform=False)
    (blocker,) = analysis.blockers
    assert blocker.weighted == 3 + 2 + 1 + 1
    assert blocker.top == ("high", "mid", "low", "p")
    popular = bl.Weights.build(q, {"p": bl.Popularity("homebrew", 10, 100.0, "365d")})
    assert popular.of("p") == 3.0 and popular.of("low") == 1.0
    assert bl.Weights.build(q, uniform=True).of("high") == 1.0


def test_indexed_satisfier_matches_a_scan_of_every_recipe() -> None:
    """The dictionary lookups give the answer of ``RecipeIdentity.match`` over all recipes."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    rank = {"satisfies": 0, "source": 1, "alias": 2, "dep-mapping": 3, "name": 4}
    names = st.sampled_from(["gmp", "GMP", "zlib", "openssl@3", "libfoo", "node"])
    ecos = st.sampled_from(["homebrew", "npm", "pypi", "github", "crates.io", None])

    @st.composite
    def identities(draw: st.DrawFn) -> bl.RecipeIdentity:
        eco = draw(ecos)
        source = f"{eco}:{draw(names)}" if eco else None
        satisfies = {draw(st.sampled_from(["homebrew", "npm", "aliases"])): [draw(names)]}
        return bl.RecipeIdentity.build(draw(names) + draw(st.sampled_from(["", "-x"])),
                                       source=source, satisfies=satisfies)  # fmt: skip

    @settings(max_examples=400, deadline=None)
    @given(
        st.lists(identities(), max_size=8),
        st.dictionaries(names, names, max_size=2),
        st.sampled_from(["homebrew", "npm", "pypi"]),
        names,
    )
    def check(recipes, mapping, eco, dep_name) -> None:  # type: ignore[no-untyped-def]
        index = bl.IdentityIndex(tuple(recipes), mapping)
        dep = bl.Dependency(eco, dep_name)
        mapped = index.mapped(dep.name)
        found = [(rank[h], r.name, h) for r in recipes if (h := r.match(dep, mapped))]
        expected = bl.Satisfaction(min(found)[1], min(found)[2]) if found else None
        assert index.satisfier(dep) == expected

    check()
