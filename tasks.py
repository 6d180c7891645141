"""Invoke tasks: the front door. Each task parses its flags, calls one core function, renders.

Invoke passes flags as the strings typed (no typed defaults here): each task's ``work`` parses
them first through ``automation.frontdoor`` and ``run`` maps every failure to an exit code.

Exit codes (every task): 0 success, 2 usage error (a bad or missing flag: the message names it and
the form it expects), 3 data error or a registry that cannot be written (read-only, full disk,
permission denied: the message names the path and what was being written), 4 partial failure,
5 stopped (emergency stop, open breaker or registry locked), 6 checksum drift, 7 deferred by
the runner-minute budget (budget-check).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from invoke import task

from automation import frontdoor as flag
from automation.core.report import Report
from automation.frontdoor import run

if TYPE_CHECKING:
    from automation.containers.tsuku import Installer

ROOT_HELP = "registry checkout to operate on (default: this repository)"
JSON_HELP = "print one JSON document on stdout instead of text"

# Upper bounds catch typos (`--top 1e9`, a missing comma), not real use.
MAX_LISTED = 10_000
MAX_ENTRIES = 100_000
MAX_JOBS = 64
BATCH_TO_USE = "as printed by generate"
INSTALLER_HELP = (
    "kit (default: the kit's own installer) or tsuku (a tsuku binary: --tsuku-bin or TSUKU_BIN)"
)
TSUKU_BIN_HELP = "the tsuku binary for --installer tsuku (default: $TSUKU_BIN)"
SKIP_FAILED_LOCALLY_HELP = (
    "do not install in the containers a recipe that failed locally for a package-level cause; "
    "its container lines say skipped/failed_locally"
)


def _installer(name: str | None, tsuku_bin: str | None) -> Installer:
    """The installer ``--installer``/``--tsuku-bin`` ask for; tsuku's binary checked (exit 2)."""
    from automation.containers.tsuku import select_installer

    return select_installer(flag.choice("--installer", name, ("kit", "tsuku")), tsuku_bin)


def _ecosystem(flag_name: str, value: str | None, expected: str) -> str:
    """A required ecosystem with a builder (``cargo`` and other aliases accepted)."""
    from automation.ecosystems import adapters, normalise_ecosystem

    text = flag.required(flag_name, value, expected=expected)
    return flag.choice(flag_name, normalise_ecosystem(text), adapters()) or text


@task(
    help={
        "top": "how many blockers to list (default 10)",
        "ecosystem": "only packages of this ecosystem (e.g. homebrew)",
        "environment": "only failure records from this environment (e.g. linux-glibc-x86_64)",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    }
)
def gaps(c, top=None, ecosystem=None, environment=None, root=None, json=False):  # type: ignore[no-untyped-def]
    """Rank missing dependencies by the distinct, popularity-weighted packages they block."""

    def work() -> Report:
        registry = flag.registry_root("--root", root)
        count = flag.integer("--top", top, default=10, minimum=1, maximum=MAX_LISTED)
        from automation.learn.gaps import gap_report

        return gap_report(registry, top=count, ecosystem=ecosystem, environment=environment)

    run(work, as_json=json)


@task(
    help={
        "dep": "only entries blocked by this dependency (name, eco:name or mapped name)",
        "dry_run": "show the changes without writing the queue",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    }
)
def requeue(c, dep=None, dry_run=False, root=None, json=False):  # type: ignore[no-untyped-def]
    """Move blocked entries whose blockers now have recipes back to pending."""

    def work() -> Report:
        registry = flag.registry_root("--root", root)
        from automation.learn.requeue import requeue as requeue_entries

        return requeue_entries(registry, dependency=dep, dry_run=dry_run)

    run(work, as_json=json)


@task(
    help={
        "dry_run": "show the moves without writing the queue",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    }
)
def reorder(c, dry_run=False, root=None, json=False):  # type: ignore[no-untyped-def]
    """Order each priority tier by blocking impact, then popularity."""

    def work() -> Report:
        registry = flag.registry_root("--root", root)
        from automation.learn.reorder import reorder as reorder_queue

        return reorder_queue(registry, dry_run=dry_run)

    run(work, as_json=json)


@task(
    name="backfill-report",
    help={"top": "how many libraries to list (default 20)", "root": ROOT_HELP, "json": JSON_HELP},
)
def backfill_report(c, top=None, root=None, json=False):  # type: ignore[no-untyped-def]
    """Which missing libraries would unblock the most packages, popularity-weighted."""

    def work() -> Report:
        registry = flag.registry_root("--root", root)
        count = flag.integer("--top", top, default=20, minimum=1, maximum=MAX_LISTED)
        from automation.learn.backfill import backfill_report as build_report

        return build_report(registry, top=count)

    run(work, as_json=json)


@task(
    help={
        "source": "a seedable ecosystem (its adapter has popularity data), e.g. pypi or npm",
        "limit": "seeding window: top candidates to account for (default 50)",
        "config": "automation.toml to use instead of <root>/automation.toml",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    }
)
def seed(c, source=None, limit=None, config=None, root=None, json=False):  # type: ignore[no-untyped-def]
    """Queue an ecosystem's most popular command-line tools that have no recipe or entry yet."""

    def work() -> Report:
        from automation.ecosystems import seed_sources

        registry = flag.registry_root("--root", root)
        expected = f"the ecosystem to seed from ({', '.join(seed_sources())})"
        chosen = flag.choice(
            "--source", flag.required("--source", source, expected=expected), seed_sources()
        )
        window = flag.integer("--limit", limit, default=50, minimum=0, maximum=MAX_ENTRIES)
        config_path = flag.optional_file("--config", config)
        from automation.stages.seed import seed_registry

        return seed_registry(registry, chosen or "", window, config_path=config_path)

    run(work, as_json=json)


@task(
    help={
        "reason": "why everything (or one ecosystem) stops; recorded in batch-control.json",
        "ecosystem": "stop only this ecosystem (cargo means crates.io)",
        "by": "who stops it (recorded as disabled_by)",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    }
)
def stop(c, reason="", ecosystem=None, by="", root=None, json=False):  # type: ignore[no-untyped-def]
    """Emergency stop: every task refuses further items until `invoke resume`."""

    def work() -> Report:
        from automation.core.layout import RegistryLayout
        from automation.registry.control import emergency_stop

        layout = RegistryLayout.at(flag.registry_root("--root", root))
        return emergency_stop(layout, reason, ecosystem, by=by)

    run(work, as_json=json)


@task(
    help={
        "ecosystem": "re-enable only this ecosystem (default: lift the global stop)",
        "close_breaker": "also close that ecosystem's circuit breaker now (the cause is fixed)",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    }
)
def resume(c, ecosystem=None, close_breaker=False, root=None, json=False):  # type: ignore[no-untyped-def]
    """Lift an emergency stop (global, or one ecosystem); --close-breaker closes its breaker."""

    def work() -> Report:
        from automation.core.layout import RegistryLayout
        from automation.registry.control import resume as resume_control

        return resume_control(
            RegistryLayout.at(flag.registry_root("--root", root)),
            ecosystem,
            close_breaker=bool(close_breaker),
        )

    run(work, as_json=json)


@task(
    iterable=["results"],
    help={
        "recipe": "recipe TOML file to constrain (relative to --root)",
        "results": "validation results JSONL (recipe, platform, status); repeat for more files",
        "untested": "exclude|admit: re-decide platforms no result covers by this policy "
        "(default: keep the recipe's current admission of them)",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    },
)
def constrain(  # type: ignore[no-untyped-def]
    c, results, recipe=None, untested=None, root=None, json=False
):
    """Write the complete, minimal platform constraints for one recipe from validation results."""

    def work() -> Report:
        registry = flag.registry_root("--root", root)
        recipe_path = flag.existing_file(
            "--recipe", recipe, base=registry, expected="the recipe TOML file to constrain"
        )
        names = flag.required_list("--results", results, expected="a validation results JSONL file")
        paths = [
            flag.existing_file("--results", name, base=registry, expected="") for name in names
        ]
        from automation.registry.constraints import UNTESTED_POLICIES, constrain_recipe_file

        chosen = flag.choice("--untested", untested, UNTESTED_POLICIES) if untested else None
        policy = None if chosen is None else "admit" if chosen == "admit" else "exclude"
        return constrain_recipe_file(recipe_path, paths, untested=policy)

    run(work, as_json=json)


@task(name="check-data", help={"root": ROOT_HELP, "json": JSON_HELP})
def check_data(c, root=None, json=False):  # type: ignore[no-untyped-def]
    """Validate every data file and recipe under --root; list problems, account for every file."""

    def work() -> Report:
        from automation.core.layout import RegistryLayout
        from automation.ops.checkdata import check_data as check_registry_data

        return check_registry_data(RegistryLayout.at(flag.registry_root("--root", root)))

    run(work, as_json=json)


@task(
    name="registry-stats",
    help={
        "root": ROOT_HELP,
        "write": "a README to rewrite between its registry-stats markers (e.g. README.md)",
        "json": JSON_HELP,
    },
)
def registry_stats(c, root=None, write=None, json=False):  # type: ignore[no-untyped-def]
    """The registry's numbers (recipes per ecosystem, pass rate per environment, failures by
    code, runtimes), optionally written into a README section."""

    def work() -> Report:
        from pathlib import Path

        from automation.core.layout import RegistryLayout
        from automation.ops.registry_stats import registry_stats as compute

        layout = RegistryLayout.at(flag.registry_root("--root", root))
        return compute(layout, readme=Path(write) if write else None)

    run(work, as_json=json)


@task(
    name="validate-containers",
    iterable=["env", "recipe"],
    help={
        "env": "environment id (repeatable; default debian-12 and ubuntu-24.04)",
        "recipe": "recipe TOML file (repeatable; default: containers/smoke/*.toml)",
        "batch_id": "results go to data/results/<batch_id>/<env>.jsonl (default: a timestamp)",
        "engine": "podman or docker (default: the first that works)",
        "jobs": "environments validated side by side",
        "no_ca_bundle": "do not bind-mount the host CA bundle into the containers",
        "installer": INSTALLER_HELP,
        "tsuku_bin": TSUKU_BIN_HELP,
        "root": ROOT_HELP,
        "json": JSON_HELP,
    },
)
def validate_containers(  # type: ignore[no-untyped-def]
    c,
    env,
    recipe,
    batch_id=None,
    engine=None,
    jobs=None,
    no_ca_bundle=False,
    installer=None,
    tsuku_bin=None,
    root=None,
    json=False,
):
    """Install and verify recipes in one container per Linux environment."""

    def work() -> Report:
        registry = flag.registry_root("--root", root)
        results_id = flag.batch_id("--batch-id", batch_id)
        chosen_engine = flag.choice("--engine", engine, ("podman", "docker"))
        parallel = flag.integer("--jobs", jobs, default=2, minimum=1, maximum=MAX_JOBS)
        through = _installer(installer, tsuku_bin)
        from automation.containers.validate import run_validation

        return run_validation(
            root=registry,
            environment_ids=env,
            recipe_paths=recipe,
            batch_id=results_id,
            engine=chosen_engine,
            ca_bundle=not no_ca_bundle,
            jobs=parallel,
            installer=through,
        )

    run(work, as_json=json)


FORCE_HELP = (
    "recipe name to build and replace although recipes/ has it (repeatable); without it such "
    "an entry is skipped with the reason. Curated recipes are never replaced"
)


@task(
    iterable=["force"],
    help={
        "ecosystem": "an ecosystem with a builder (automation/ecosystems/<name>/), e.g. pypi",
        "batch_size": "entries per batch (default 10)",
        "max_tier": "highest priority tier to take, 1-3 (default 3)",
        "shard": "K/N: this job's deterministic share of the batch (CI matrix; needs --batch-id)",
        "batch_id": "resume this batch (its recorded selection) instead of starting a new one; "
        "YYYY-MM-DD-<suffix>",
        "wait": "seconds to wait for a busy registry lock (default 60; 0: fail fast, exit 5)",
        "budget_seconds": "wall-clock budget; entries not started by then stay pending "
        "(default [batch] budget_seconds or $AUTOMATION_BATCH_BUDGET: none)",
        "force": FORCE_HELP,
        "root": ROOT_HELP,
        "json": JSON_HELP,
    },
)
def generate(  # type: ignore[no-untyped-def]
    c,
    ecosystem=None,
    batch_size=None,
    max_tier=None,
    shard=None,
    batch_id=None,
    wait=None,
    budget_seconds=None,
    force=None,
    root=None,
    json=False,
):
    """Build recipes for queued entries into data/staging/<batch_id>/ (failures recorded)."""

    def work() -> Report:
        registry = flag.registry_root("--root", root)
        chosen = _ecosystem("--ecosystem", ecosystem, "the ecosystem to build (e.g. pypi)")
        size = flag.integer("--batch-size", batch_size, default=10, minimum=1, maximum=MAX_ENTRIES)
        tier = flag.integer("--max-tier", max_tier, default=3, minimum=1, maximum=3)
        share = flag.shard("--shard", shard)
        batch = flag.batch_id("--batch-id", batch_id)
        lock_wait = flag.wait_seconds("--wait", wait)
        # a week at most: a longer budget is a typo
        budget = flag.decimal(
            "--budget-seconds", budget_seconds, minimum=0.0, maximum=604800.0, above_minimum=True
        )
        replace_names = flag.names("--force", force, expected="a recipe name, e.g. --force httpie")
        from automation.core.layout import RegistryLayout
        from automation.stages.pipeline import run_generate

        return run_generate(
            RegistryLayout.at(registry),
            chosen,
            batch_size=size,
            max_tier=tier,
            shard=share,
            batch_id=batch,
            verbose=not json,
            lock_wait=lock_wait,
            budget_seconds=budget,
            force=replace_names,
        )

    run(work, as_json=json)


@task(
    name="create",
    help={
        "from_": "<ecosystem>:<identifier>, e.g. pypi:httpie or npm:@angular/cli",
        "name": "registry name (default: derived from the identifier)",
        "output": "write the recipe here (default: print it)",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    },
)
def create(c, from_=None, name=None, output=None, root=None, json=False):  # type: ignore[no-untyped-def]
    """Generate one recipe outside the queue, with the same builders."""

    def work() -> Report:
        registry = flag.registry_root("--root", root)
        source = flag.required(
            "--from", from_, expected="<ecosystem>:<identifier>, e.g. pypi:httpie"
        )
        target = flag.output_file("--output", output)
        from automation.core.layout import RegistryLayout
        from automation.stages.pipeline import run_create

        return run_create(
            RegistryLayout.at(registry),
            source,
            name=name,
            output=None if target is None else str(target),
        )

    run(work, as_json=json)


@task(
    iterable=["env"],
    help={
        "env": "local (this machine, default), a container environment id (debian-12...), "
        "all-local (every container environment built here), or alone a native environment "
        "(darwin-arm64, darwin-x86_64: this macOS machine); repeatable",
        "batch_id": "the batch whose staged recipes to validate",
        "top": "native environment only: validate the top N recipes by queue priority (the "
        "macOS budget's sample, from budget-check); the rest are deferred",
        "jobs": "container environments validated side by side (default 2: one CPU each)",
        "installer": INSTALLER_HELP,
        "tsuku_bin": TSUKU_BIN_HELP,
        "skip_failed_locally": SKIP_FAILED_LOCALLY_HELP,
        "root": ROOT_HELP,
        "json": JSON_HELP,
    },
)
def validate(  # type: ignore[no-untyped-def]
    c,
    env,
    batch_id=None,
    jobs=None,
    installer=None,
    tsuku_bin=None,
    skip_failed_locally=False,
    top=None,
    root=None,
    json=False,
):
    """Install and run each staged recipe; one result line per recipe and environment."""

    def work() -> Report:
        registry = flag.registry_root("--root", root)
        batch = flag.batch_id(
            "--batch-id", batch_id, expected=f"the batch to validate, {BATCH_TO_USE}"
        )
        parallel = flag.integer("--jobs", jobs, default=2, minimum=1, maximum=MAX_JOBS)
        sample = flag.integer("--top", top, default=-1, minimum=0, maximum=MAX_LISTED)
        through = _installer(installer, tsuku_bin)
        from automation.core.layout import RegistryLayout
        from automation.stages.pipeline import run_validate

        return run_validate(
            RegistryLayout.at(registry),
            batch or "",
            env or ["local"],
            jobs=parallel,
            installer=through,
            skip_failed_locally=bool(skip_failed_locally),
            top=None if sample < 0 else sample,
        )

    run(work, as_json=json)


@task(
    help={
        "batch_id": "the batch to merge (all its shards)",
        "wait": "seconds to wait for a busy registry lock (default $AUTOMATION_LOCK_WAIT or 0: "
        "fail fast, exit 5)",
        "allow_missing_shards": "merge a sharded batch although some shards have not reported",
        "pr_body": "also write the batch's pull-request body (Markdown: counts, every held "
        "recipe's reasons, results and TOML) to this file, at most 65,536 characters, and the "
        "complete body beside it as <name>.full.md",
        "github_output": "append auto_merge=true|false (every recipe passed the gates), "
        "merged=N and held=N to this file (the workflow's $GITHUB_OUTPUT)",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    }
)
def merge(  # type: ignore[no-untyped-def]
    c,
    batch_id=None,
    wait=None,
    allow_missing_shards=False,
    pr_body=None,
    github_output=None,
    root=None,
    json=False,
):
    """Land passing recipes; queue, failures, metrics and the batch manifest record the rest."""

    def work() -> Report:
        registry = flag.registry_root("--root", root)
        batch = flag.batch_id(
            "--batch-id", batch_id, expected=f"the batch to merge, {BATCH_TO_USE}"
        )
        lock_wait = flag.wait_seconds("--wait", wait)
        body = flag.output_file("--pr-body", pr_body)
        outputs = flag.output_file("--github-output", github_output)
        from automation.core.layout import RegistryLayout
        from automation.stages.merge import merge_batch

        return merge_batch(
            RegistryLayout.at(registry),
            batch or "",
            lock_wait=lock_wait,
            allow_missing_shards=allow_missing_shards,
            pr_body=body,
            github_output=outputs,
        )

    run(work, as_json=json)


@task(
    help={
        "batch_id": "the staged, unmerged batch to give up (its staging moves to "
        "data/staging/.abandoned/)",
        "reason": "why (recorded in abandoned.json)",
        "by": "who abandons it (recorded in abandoned.json)",
        "wait": "seconds to wait for a busy registry lock (default $AUTOMATION_LOCK_WAIT or 0)",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    }
)
def abandon(c, batch_id=None, reason="", by="", wait=None, root=None, json=False):  # type: ignore[no-untyped-def]
    """Release a stale batch's reserved queue entries; it can no longer be merged or resumed."""

    def work() -> Report:
        registry = flag.registry_root("--root", root)
        batch = flag.existing_batch(
            "--batch-id", batch_id, expected="the staged, unmerged batch to give up"
        )
        lock_wait = flag.wait_seconds("--wait", wait)
        from automation.core.layout import RegistryLayout
        from automation.registry.reservation import abandon_batch

        return abandon_batch(
            RegistryLayout.at(registry),
            batch,
            reason=reason,
            by=by,
            lock_wait=lock_wait,
            announce=_announce,
        )

    run(work, as_json=json)


@task(
    help={
        "batch_id": "the merged batch, or the batch whose merge was interrupted, to undo",
        "force": "also overwrite files edited since the batch",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    }
)
def rollback(c, batch_id=None, force=False, root=None, json=False):  # type: ignore[no-untyped-def]
    """Restore every file a batch changed, byte for byte, from its manifest (says which first)."""

    def work() -> Report:
        registry = flag.registry_root("--root", root)
        batch = flag.existing_batch(
            "--batch-id", batch_id, expected="the merged (or interrupted) batch to undo"
        )
        from automation.core.layout import RegistryLayout
        from automation.stages.rollback import rollback_batch

        return rollback_batch(RegistryLayout.at(registry), batch, force=force, announce=_announce)

    run(work, as_json=json)


def _announce(text: str) -> None:
    """What a task is about to do, before it writes: on stderr, so ``--json`` stays one document."""
    print(text, file=sys.stderr, flush=True)


@task(
    iterable=["env", "force"],
    help={
        "ecosystem": "an ecosystem with a builder (automation/ecosystems/<name>/), e.g. pypi",
        "limit": "candidates to seed and entries to generate (default 3)",
        "env": "validation environments: local (default), container ids or all-local; "
        "repeatable. With containers, local runs first too (it discovers the verify pattern)",
        "jobs": "container environments validated side by side (default 2)",
        "no_seed": "skip seeding; work on what is already queued",
        "force": FORCE_HELP,
        "installer": INSTALLER_HELP,
        "tsuku_bin": TSUKU_BIN_HELP,
        "skip_failed_locally": SKIP_FAILED_LOCALLY_HELP
        + " (on by default here: --no-skip-failed-locally tries them in every container)",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    },
)
def pipeline(  # type: ignore[no-untyped-def]
    c,
    env,
    ecosystem=None,
    limit=None,
    jobs=None,
    no_seed=False,
    force=None,
    installer=None,
    tsuku_bin=None,
    skip_failed_locally=True,
    root=None,
    json=False,
):
    """seed -> generate -> validate -> merge on one live batch, with a summary table."""

    def work() -> Report:
        registry = flag.registry_root("--root", root)
        chosen = _ecosystem("--ecosystem", ecosystem, "the ecosystem to run (e.g. pypi)")
        count = flag.integer("--limit", limit, default=3, minimum=1, maximum=MAX_LISTED)
        parallel = flag.integer("--jobs", jobs, default=2, minimum=1, maximum=MAX_JOBS)
        replace_names = flag.names("--force", force, expected="a recipe name, e.g. --force httpie")
        through = _installer(installer, tsuku_bin)
        from automation.core.layout import RegistryLayout
        from automation.stages.pipeline import run_pipeline

        return run_pipeline(
            RegistryLayout.at(registry),
            chosen,
            limit=count,
            environment=env or ["local"],
            seed=not no_seed,
            jobs=parallel,
            force=replace_names,
            installer=through,
            skip_failed_locally=bool(skip_failed_locally),
        )

    run(work, as_json=json)


@task(
    iterable=["env", "ecosystem"],
    help={
        "target": "recipes the registry should hold (default 1000)",
        "ecosystem": "ecosystems to grow from, in turn; repeatable (default: pypi and npm)",
        "env": "validation environments: local (default; always first), container ids; repeatable",
        "batch_size": "entries per batch (default 40)",
        "jobs": "container environments validated side by side (default 2)",
        "installs": "recipes installed side by side in each environment (default 2: an "
        "install mostly waits on the network)",
        "review_dir": "write each batch's review (held recipes' reasons, results and TOML: "
        "the pull-request body) to DIR/<batch>.md",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    },
)
def grow(  # type: ignore[no-untyped-def]
    c,
    env,
    ecosystem,
    target=None,
    batch_size=None,
    jobs=None,
    installs=None,
    review_dir=None,
    root=None,
    json=False,
):
    """Seed and run batches across ecosystems until the registry holds --target recipes."""

    def work() -> Report:
        registry = flag.registry_root("--root", root)
        count = flag.integer("--target", target, default=1000, minimum=1, maximum=MAX_ENTRIES)
        size = flag.integer("--batch-size", batch_size, default=40, minimum=1, maximum=MAX_LISTED)
        parallel = flag.integer("--jobs", jobs, default=2, minimum=1, maximum=MAX_JOBS)
        side_by_side = flag.integer("--installs", installs, default=2, minimum=1, maximum=MAX_JOBS)
        reviews = (
            flag.output_dir("--review-dir", review_dir, expected="a folder for batch reviews")
            if review_dir
            else None
        )
        from automation.stages.grow import run_grow

        return run_grow(
            registry,
            target=count,
            ecosystems=ecosystem or ["pypi", "npm"],
            environments=env or ["local"],
            batch_size=size,
            jobs=parallel,
            installs=side_by_side,
            review_dir=reviews,
        )

    run(work, as_json=json)


@task(
    name="seed-report",
    help={
        "ecosystem": "a seedable ecosystem, e.g. pypi or npm",
        "top": "how many of the ranking's first candidates to look up (default 200)",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    },
)
def seed_report(c, ecosystem=None, top=None, root=None, json=False):  # type: ignore[no-untyped-def]
    """What seeding's tool rule does to the first candidates: named-like share before/after."""

    def work() -> Report:
        registry = flag.registry_root("--root", root)
        chosen = _ecosystem("--ecosystem", ecosystem, "a seedable ecosystem, e.g. pypi")
        count = flag.integer("--top", top, default=200, minimum=1, maximum=2000)
        from automation.stages.seed_report import run_seed_report

        return run_seed_report(registry, chosen, count)

    run(work, as_json=json)


@task(
    help={
        "budget": "artifacts to download this run (default 20); later runs continue after it",
        "rate": "artifact downloads per second (default 1)",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    }
)
def drift(c, budget=None, rate=None, root=None, json=False):  # type: ignore[no-untyped-def]
    """Re-download pinned artifacts and compare with data/checksums/ baselines (exit 6 on drift)."""

    def work() -> Report:
        registry = flag.registry_root("--root", root)
        units = flag.integer("--budget", budget, default=20, minimum=1, maximum=MAX_ENTRIES)
        per_second = flag.decimal("--rate", rate, minimum=0.0, maximum=1000.0, above_minimum=True)
        from automation.ops.drift import check_drift

        return check_drift(registry, budget=units, rate=1.0 if per_second is None else per_second)

    run(work, as_json=json)


@task(
    help={
        "out": "directory to write index.html and dashboard.json into (created if missing)",
        "at": "date the page as of this RFC 3339 time (breaker states, SLI window); default now",
        "config": "automation.toml to read [sli] thresholds from (default <root>/automation.toml)",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    }
)
def dashboard(c, out=None, at=None, config=None, root=None, json=False):  # type: ignore[no-untyped-def]
    """Static dashboard: index.html (inline SVG charts, no scripts) and dashboard.json."""

    def work() -> Report:
        registry = flag.registry_root("--root", root)
        moment = flag.timestamp("--at", at)
        config_path = flag.optional_file("--config", config)
        target = flag.output_dir(
            "--out", out, expected="the directory to write index.html and dashboard.json into"
        )
        from automation.learn.dashboard import build_dashboard

        return build_dashboard(registry, target, at=moment, config_path=config_path)

    run(work, as_json=json)


@task(
    help={
        "window": "how far back rates look: 7d, 48h, 90m, 2w (default [sli] window or 7d)",
        "at": "evaluate as of this RFC 3339 time instead of now",
        "min_runs": "alert below this many runs in the window (default 1)",
        "min_generation_success": "alert below this generation success rate, 0-1 (default 0.5)",
        "min_validation_pass": "alert below this pass rate in any environment, 0-1 (default 0.8)",
        "min_merge_rate": "alert below this merged/attempted rate, 0-1 (default 0.5)",
        "max_empty_run_ratio": "alert above this share of empty runs, 0-1 (default 0.5)",
        "max_hours_since_merge": "alert when the last merge is older than this (default 72)",
        "config": "automation.toml to read [sli] from (default <root>/automation.toml)",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    }
)
def sli(  # type: ignore[no-untyped-def]
    c,
    window=None,
    at=None,
    min_runs=None,
    min_generation_success=None,
    min_validation_pass=None,
    min_merge_rate=None,
    max_empty_run_ratio=None,
    max_hours_since_merge=None,
    config=None,
    root=None,
    json=False,
):
    """Pipeline SLIs over a window; prints alerts and exits 4 when a threshold is crossed."""

    def work() -> Report:
        registry = flag.registry_root("--root", root)
        span = flag.window("--window", window)
        moment = flag.timestamp("--at", at)
        config_path = flag.optional_file("--config", config)
        runs = None
        if min_runs is not None:
            runs = flag.integer("--min-runs", min_runs, default=1, minimum=0, maximum=MAX_ENTRIES)
        rates = {
            name: flag.decimal(f"--{name.replace('_', '-')}", value, minimum=0.0, maximum=1.0)
            for name, value in (
                ("min_generation_success", min_generation_success),
                ("min_validation_pass", min_validation_pass),
                ("min_merge_rate", min_merge_rate),
                ("max_empty_run_ratio", max_empty_run_ratio),
            )
        }
        hours = flag.decimal(
            "--max-hours-since-merge",
            max_hours_since_merge,
            minimum=0.0,
            maximum=1_000_000.0,
            above_minimum=True,
        )
        from automation.learn.sli import sli_report

        return sli_report(
            registry,
            window=span,
            at=moment,
            config_path=config_path,
            overrides={"min_runs": runs, **rates, "max_hours_since_merge": hours},
        )

    run(work, as_json=json)


@task(
    name="exclude-impossible",
    help={
        "dry_run": "report what would change without writing",
        "no_history": "only what the queue itself proves (skip the failure records)",
        "wait": "seconds to wait for a busy registry lock (default $AUTOMATION_LOCK_WAIT or 0)",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    },
)
def exclude_impossible(c, dry_run=False, no_history=False, wait=None, root=None, json=False):  # type: ignore[no-untyped-def]
    """Exclude queue entries no builder can ever build (reason kept as a failure record)."""

    def work() -> Report:
        registry = flag.registry_root("--root", root)
        lock_wait = flag.wait_seconds("--wait", wait)
        from automation.core.layout import RegistryLayout
        from automation.ops.maintenance import exclude_impossible as exclude

        return exclude(
            RegistryLayout.at(registry),
            dry_run=dry_run,
            history=not no_history,
            lock_wait=lock_wait,
        )

    run(work, as_json=json)


RUNNER_HELP = "the runner kind whose weekly minutes pay for the job: linux or macos"


@task(
    name="budget-check",
    help={
        "runner": RUNNER_HELP,
        "minutes": "minutes the job needs at least (deferred when fewer are left this week)",
        "batch_id": "macos: sample this batch, the top N recipes by queue priority (N from "
        "macos_sample_size and the minutes left); the rest wait for the nightly run",
        "github_output": "append allowed=, top=, remaining=, started= to this file (the "
        "workflow's $GITHUB_OUTPUT) and exit 0 either way",
        "at": "decide as of this RFC 3339 time instead of now",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    },
)
def budget_check(  # type: ignore[no-untyped-def]
    c, runner=None, minutes=None, batch_id=None, github_output=None, at=None, root=None, json=False
):
    """May a hosted job start within this week's runner-minute budget? Exit 7 when deferred."""

    def work() -> Report:
        registry = flag.registry_root("--root", root)
        kind = flag.choice(
            "--runner", flag.required("--runner", runner, expected=RUNNER_HELP), ("linux", "macos")
        )
        need = flag.integer("--minutes", minutes, default=0, minimum=0, maximum=MAX_ENTRIES)
        batch = flag.batch_id("--batch-id", batch_id)
        output = flag.output_file("--github-output", github_output)
        moment = flag.timestamp("--at", at)
        from automation.core.layout import RegistryLayout
        from automation.core.timefmt import parse_timestamp
        from automation.ops.budget import budget_check as check

        return check(
            RegistryLayout.at(registry),
            kind or "",
            need,
            batch_id=batch,
            github_output=output,
            now=None if moment is None else parse_timestamp(moment),
        )

    run(work, as_json=json)


@task(
    name="budget-record",
    help={
        "runner": RUNNER_HELP,
        "env": "the environment the job validated (debian-12-arm64, darwin-arm64, ...)",
        "batch_id": "the batch the job validated",
        "since": "the job's start, epoch seconds (budget-check's started= output)",
        "minutes": "the minutes spent, instead of --since",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    },
)
def budget_record(  # type: ignore[no-untyped-def]
    c, runner=None, env=None, batch_id=None, since=None, minutes=None, root=None, json=False
):
    """Record a finished job's runner minutes in the week's ledger (data/metrics/runner-minutes)."""

    def work() -> Report:
        import time

        registry = flag.registry_root("--root", root)
        kind = flag.choice(
            "--runner", flag.required("--runner", runner, expected=RUNNER_HELP), ("linux", "macos")
        )
        environment = flag.required("--env", env, expected="an environment id, e.g. darwin-arm64")
        batch = flag.batch_id("--batch-id", batch_id, expected="the batch the job validated")
        start = flag.integer("--since", since, default=-1, minimum=0)
        spent = flag.integer("--minutes", minutes, default=-1, minimum=0, maximum=MAX_ENTRIES)
        if (start < 0) == (spent < 0):
            from automation.core.errors import UsageError

            raise UsageError("give exactly one of --since EPOCH and --minutes N")
        seconds = spent * 60.0 if spent >= 0 else time.time() - start
        from automation.core.layout import RegistryLayout
        from automation.ops.budget import budget_record as record

        return record(
            RegistryLayout.at(registry), kind or "", environment, batch or "", seconds=seconds
        )

    run(work, as_json=json)


@task(
    name="sli-issue",
    help={
        "root": ROOT_HELP,
        "json": JSON_HELP,
    },
)
def sli_issue(c, root=None, json=False):  # type: ignore[no-untyped-def]
    """Run the SLI check; on an alert open, or update, the one GitHub issue (gh, $GH_TOKEN)."""

    def work() -> Report:
        registry = flag.registry_root("--root", root)
        from automation.learn.sli_issue import sli_issue as deliver_sli_issue

        return deliver_sli_issue(registry)

    run(work, as_json=json)


@task(
    name="validate-deferred",
    help={
        "env": "the native environment this macOS runner is (darwin-arm64 or darwin-x86_64)",
        "limit": "validate at most this many (budget-check's affordable=; default 10)",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    },
)
def validate_deferred(c, env=None, limit=None, root=None, json=False):  # type: ignore[no-untyped-def]
    """The nightly macOS run: validate recipes whose native platform the budget deferred, and
    admit the platform in each recipe that passed."""

    def work() -> Report:
        registry = flag.registry_root("--root", root)
        env_id = flag.required("--env", env, expected="darwin-arm64 or darwin-x86_64")
        most = flag.integer("--limit", limit, default=10, minimum=0, maximum=MAX_LISTED)
        from automation.containers.environments import native_environment
        from automation.core.errors import UsageError
        from automation.core.layout import RegistryLayout
        from automation.registry.control import check_allowed_now
        from automation.stages.validate_native import validate_deferred as run_deferred

        native = native_environment(env_id)
        if native is None:
            raise UsageError(f"--env {env_id!r} is not a native environment (darwin-arm64, ...)")
        layout = RegistryLayout.at(registry)
        check_allowed_now(layout, None)
        return run_deferred(
            layout, native, limit=most, guard=lambda: check_allowed_now(layout, None)
        )

    run(work, as_json=json)
