"""Everything one ecosystem knows lives in its package; nothing shared names an ecosystem.

Two proofs: a scan of every module under ``automation/`` outside ``automation/ecosystems/<name>/``
finds no ecosystem name or alias (from the discovered facts) in code or string literals; and a toy
ecosystem written to a temporary directory, registered from inside the test, is seeded and
generated end to end without any shared module being edited.
"""

from __future__ import annotations

import ast
import io
import json
import re
import sys
import textwrap
import tokenize
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from automation.core import ecosystem_facts
from automation.core.config import load_config
from automation.core.ecosystem_facts import all_facts, facts_for, normalise_ecosystem, registered
from automation.core.errors import UsageError
from automation.core.http import HttpClient
from automation.core.layout import RegistryLayout
from automation.ecosystems import adapters
from automation.registry import failure_codes
from automation.registry.queue import load_queue
from automation.registry.recipes import load_recipe_model, recipe_source
from automation.stages.pipeline import run_generate
from automation.stages.seed import seed
from tests.support.fake_upstream import FakeUpstream

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "automation"


def ecosystem_words() -> tuple[str, ...]:
    """Every declared ecosystem name and alias, longest first. An alias that is also the name
    of the ecosystem's language runtime (``python``, ``perl``, ``node``) is left out: the kit
    names interpreters as interpreters (a container's ``python``), which is no ecosystem."""
    words = {
        w.lower()
        for f in all_facts()
        for w in (f.name, *(a for a in f.aliases if a not in f.runtimes))
    }
    return tuple(sorted(words, key=lambda w: (-len(w), w)))


def _docstring_lines(source: str) -> set[int]:
    lines: set[int] = set()
    for part in ast.walk(ast.parse(source)):
        if isinstance(part, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            body = part.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                end = body[0].end_lineno or body[0].lineno
                lines.update(range(body[0].lineno, end + 1))
    return lines


def names_in_code(source: str, words: Iterable[str]) -> list[tuple[int, str]]:
    """``(line, word)`` for each ecosystem word in the code of ``source``: identifiers and string
    literals (f-string parts included), not comments or docstrings. A word is delimited by
    anything but a letter, digit or underscore (``cargo_install`` is not ``cargo``)."""
    alternatives = "|".join(re.escape(w) for w in words)
    pattern = re.compile(rf"(?<![A-Za-z0-9_])(?:{alternatives})(?![A-Za-z0-9_])", re.IGNORECASE)
    docstrings = _docstring_lines(source)
    kinds = {tokenize.NAME, tokenize.STRING}
    for name in ("FSTRING_MIDDLE", "TSTRING_MIDDLE"):
        if hasattr(tokenize, name):
            kinds.add(getattr(tokenize, name))
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in kinds:
            continue
        if token.type == tokenize.STRING and token.start[0] in docstrings:
            continue
        found += [(token.start[0], m.group(0)) for m in pattern.finditer(token.string)]
    return found


def shared_modules() -> Iterator[Path]:
    """Every module under automation/ outside an ecosystem's own package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if len(parts) >= 3 and parts[0] == "ecosystems":
            continue  # automation/ecosystems/<name>/...: the ecosystem's own package
        yield path


def test_the_scanner_sees_names_in_code_and_strings_only() -> None:
    words = ("pypi", "crates.io", "cargo", "node")
    sample = textwrap.dedent(
        '''
        """The pypi module doc mentions crates.io."""

        def f(node):  # a comment about cargo
            """pypi again, in a docstring."""
            action = "cargo_install"
            url = f"https://{host}/crates.io/x"
            return node, "PyPI", action, url
        '''
    )
    assert names_in_code(sample, words) == [
        (4, "node"),
        (7, "crates.io"),
        (8, "node"),
        (8, "PyPI"),
    ]
    assert names_in_code("x = 'nothing here'\n", words) == []


def test_no_shared_module_names_an_ecosystem() -> None:
    words = ecosystem_words()
    assert {"pypi", "crates.io", "cargo", "homebrew", "manual"} <= set(words)
    offenders = {}
    for path in shared_modules():
        rel = path.relative_to(REPO).as_posix()
        hits = names_in_code(path.read_text(encoding="utf-8"), words)
        if hits:
            offenders[rel] = hits[:5]
    assert offenders == {}


def test_every_package_declares_facts_and_adapters_match() -> None:
    names = [f.name for f in all_facts()]
    assert len(names) == len(set(names))
    aliases = [a for f in all_facts() for a in f.aliases]
    assert len(aliases) == len(set(aliases)) and not set(aliases) & set(names)
    for name in adapters():
        facts = facts_for(name)
        assert facts is not None and facts.buildable, name
    assert normalise_ecosystem("Cargo") == "crates.io"  # an alias from the crates.io package


# ---------------------------------------------------------------- a toy ecosystem, end to end

TOY_INIT = '''
"""A toy ecosystem for the isolation test: packages listed by a JSON API."""

from automation.core.ecosystem_facts import EcosystemFacts, Endpoint, RecipeAction, Refusal


def refuses(identifier: str, entry_name: str = "") -> Refusal | None:
    if identifier.startswith("forbidden-"):
        return Refusal("toy_forbidden", "forbidden toy", f"{identifier!r} is forbidden")
    return None


FACTS = EcosystemFacts(
    name="toyeco",
    aliases=("toy", "toys"),
    endpoints=(Endpoint("toyeco", "https://toy.invalid", 100.0),),
    endpoint="toyeco",
    install_action="toy_install",
    id_key="package",
    recipe_actions=(RecipeAction("toy_install", "package"),),
    refuses=refuses,
    failure_codes="""
generation_failed | toy_broken | no | excluded | - | ecosystems/toyeco/adapter.py | the toy is
    broken
""",
)
'''

TOY_ADAPTER = '''
"""Fetch + build + seeding for the toy ecosystem (through the injected client only)."""

from automation.core.http import HttpClient
from automation.core.layout import RegistryLayout
from automation.ecosystems import EcosystemAdapter, Lookup
from automation.ecosystems.packaged import build_packaged
from automation.ecosystems.popularity import PopularityList, rank_counts
from automation.ecosystems.recipe import UpstreamPackage


def _document(http: HttpClient, identifier: str) -> dict:
    return http.get_json("toyeco", f"/packages/{identifier}.json")


def fetch(http: HttpClient, identifier: str) -> UpstreamPackage:
    doc = _document(http, identifier)
    return UpstreamPackage(
        ecosystem="toyeco",
        identifier=identifier,
        version=doc["version"],
        description=doc["summary"],
        homepage_candidates=(doc["homepage"],),
        executables=tuple(doc["bin"]),
        fallback_homepage=f"https://toy.invalid/{identifier}",
    )


def lookup(http: HttpClient, identifier: str) -> Lookup:
    doc = _document(http, identifier)
    return Lookup(identifier, tuple(doc["bin"]), doc["version"])


def popularity(http: HttpClient, layout: RegistryLayout, top_n: int) -> PopularityList:
    rows = http.get_json("toyeco", "/top.json")["rows"]
    pairs = [(row["name"], row["downloads"]) for row in rows]
    return PopularityList(
        "toyeco", "month", http.url("toyeco", "/top.json"), None, 100, rank_counts(pairs, 100)
    )


ADAPTER = EcosystemAdapter("toyeco", fetch, build_packaged, "toy_install", popularity, lookup)
'''


@pytest.fixture
def toy_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    plugins = tmp_path / "plugins"
    (plugins / "toyeco").mkdir(parents=True)
    (plugins / "toyeco" / "__init__.py").write_text(TOY_INIT, encoding="utf-8")
    (plugins / "toyeco" / "adapter.py").write_text(TOY_ADAPTER, encoding="utf-8")
    monkeypatch.syspath_prepend(str(plugins))
    yield "toyeco"
    for module in [m for m in sys.modules if m == "toyeco" or m.startswith("toyeco.")]:
        del sys.modules[module]


@pytest.fixture
def toy_upstream() -> Iterator[FakeUpstream]:
    server = FakeUpstream().start()
    server.json(
        "/top.json",
        {
            "rows": [
                {"name": "hello-toy", "downloads": 900},
                {"name": "libtoy", "downloads": 800},
                {"name": "forbidden-toy", "downloads": 700},
            ]
        },
    )
    for name, executables in (
        ("hello-toy", ["hello-toy", "hello-toyd"]),
        ("libtoy", []),
        ("forbidden-toy", ["forbidden-toy"]),  # queued; the ecosystem refuses to build it
    ):
        server.json(
            f"/packages/{name}.json",
            {
                "version": "1.2.3",
                "summary": f"{name} says hello",
                "homepage": f"https://toy.invalid/{name}",
                "bin": executables,
            },
        )
    yield server
    server.stop()
    assert server.unexpected == []


def test_a_toy_ecosystem_registered_in_the_test_seeds_and_generates(
    toy_package: str,
    toy_upstream: FakeUpstream,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    layout = RegistryLayout.at(tmp_path / "registry")
    layout.recipes_dir.mkdir(parents=True)
    assert facts_for("toyeco") is None
    with HttpClient(load_config(layout.root, env={}), env={}) as http, pytest.raises(UsageError):
        seed(layout, "toyeco", 5, http, datetime.now(UTC))

    with registered(toy_package) as facts:
        assert facts.name == "toyeco"
        # Shared code reads the facts: prefix aliases, configuration, refusals, failure codes.
        assert normalise_ecosystem("TOYS") == "toyeco"
        monkeypatch.setenv("AUTOMATION_ENDPOINT_TOYECO", toy_upstream.base)
        config = load_config(layout.root)
        assert config.endpoint("toyeco") == toy_upstream.base
        assert config.rate_limits["toyeco"] == 100.0
        code = failure_codes.lookup("generation_failed", "toy_broken")
        assert code is not None and code.transition == failure_codes.EXCLUDED
        assert "`toy_broken`" in failure_codes.render_markdown()

        now = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
        with HttpClient(config, env={}) as http:
            report = seed(layout, "toyeco", 5, http, now, tier1=frozenset(), progress=False)
        queue = load_queue(layout.queue)
        assert [(e.name, e.source, e.status) for e in queue.entries] == [
            ("hello-toy", "toyeco:hello-toy", "pending"),
            ("forbidden-toy", "toyeco:forbidden-toy", "pending"),
        ]
        assert report.skipped == {"not_cli": 1}

        # Generation reads the alias, selects past the refused entry, builds from the toy API.
        generated = run_generate(layout, "toy", batch_size=5, workers=1, batch_id="toy-batch")
        assert [(o.name, o.status) for o in generated.outcomes] == [("hello-toy", "generated")]
        staged = sorted((layout.root / "data" / "staging" / "toy-batch").rglob("hello-toy.toml"))
        assert len(staged) == 1
        text = staged[0].read_text(encoding="utf-8")
        assert 'action = "toy_install"' in text
        assert 'package = "hello-toy"' in text
        assert 'executables = ["hello-toy", "hello-toyd"]' in text
        assert 'command = "hello-toy --version"' in text
        assert recipe_source(load_recipe_model(staged[0], strict=False)) == "toyeco:hello-toy"

    # Outside the block the toy is gone again.
    assert facts_for("toyeco") is None and "toyeco" not in adapters()
    assert normalise_ecosystem("toys") == "toys"
    assert "toyeco" not in load_config(layout.root).endpoints
    assert toy_package not in ecosystem_facts.ecosystem_packages()
    json.dumps(generated.to_json())  # the report stays a JSON document
