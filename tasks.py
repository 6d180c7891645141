"""Invoke tasks: the front door. Each task parses its flags, calls one core function, renders.

Exit codes (every task): 0 success, 2 usage error, 3 data error, 4 partial failure,
5 stopped (emergency stop, open breaker or registry locked), 6 checksum drift.
"""

from __future__ import annotations

from invoke import task

from automation.frontdoor import run

ROOT_HELP = "registry checkout to operate on (default: this repository)"
JSON_HELP = "print one JSON document on stdout instead of text"


@task(
    help={
        "top": "how many blockers to list (default 10)",
        "ecosystem": "only packages of this ecosystem (e.g. homebrew)",
        "environment": "only failure records from this environment (e.g. linux-glibc-x86_64)",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    }
)
def gaps(c, top=10, ecosystem=None, environment=None, root=".", json=False):  # type: ignore[no-untyped-def]
    """Rank missing dependencies by the distinct, popularity-weighted packages they block."""
    from automation.learn.gaps import gap_report

    run(
        lambda: gap_report(root, top=int(top), ecosystem=ecosystem, environment=environment),
        as_json=json,
    )


@task(
    help={
        "dep": "only entries blocked by this dependency (name, eco:name or mapped name)",
        "dry_run": "show the changes without writing the queue",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    }
)
def requeue(c, dep=None, dry_run=False, root=".", json=False):  # type: ignore[no-untyped-def]
    """Move blocked entries whose blockers now have recipes back to pending."""
    from automation.learn.requeue import requeue as requeue_entries

    run(lambda: requeue_entries(root, dependency=dep, dry_run=dry_run), as_json=json)


@task(
    help={
        "dry_run": "show the moves without writing the queue",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    }
)
def reorder(c, dry_run=False, root=".", json=False):  # type: ignore[no-untyped-def]
    """Order each priority tier by blocking impact, then popularity."""
    from automation.learn.reorder import reorder as reorder_queue

    run(lambda: reorder_queue(root, dry_run=dry_run), as_json=json)


@task(
    name="backfill-report",
    help={"top": "how many libraries to list (default 20)", "root": ROOT_HELP, "json": JSON_HELP},
)
def backfill_report(c, top=20, root=".", json=False):  # type: ignore[no-untyped-def]
    """Which missing libraries would unblock the most packages, popularity-weighted."""
    from automation.learn.backfill import backfill_report as build_report

    run(lambda: build_report(root, top=int(top)), as_json=json)


@task(
    help={
        "source": "pypi or npm",
        "limit": "seeding window: top candidates to account for (default 50)",
        "config": "automation.toml to use instead of <root>/automation.toml",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    }
)
def seed(c, source, limit=50, config=None, root=".", json=False):  # type: ignore[no-untyped-def]
    """Queue the most popular PyPI/npm command-line tools that have no recipe or entry yet."""
    from automation.stages.seed import seed_registry

    run(lambda: seed_registry(root, source, int(limit), config_path=config), as_json=json)


@task(
    help={
        "reason": "why everything (or one ecosystem) stops; recorded in batch-control.json",
        "ecosystem": "stop only this ecosystem (cargo means crates.io)",
        "by": "who stops it (recorded as disabled_by)",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    }
)
def stop(c, reason="", ecosystem=None, by="", root=".", json=False):  # type: ignore[no-untyped-def]
    """Emergency stop: every task refuses further items until `invoke resume`."""
    from automation.core.layout import RegistryLayout
    from automation.registry.control import emergency_stop

    run(
        lambda: emergency_stop(RegistryLayout.at(root), reason, ecosystem, by=by),
        as_json=json,
    )


@task(
    help={
        "ecosystem": "re-enable only this ecosystem (default: lift the global stop)",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    }
)
def resume(c, ecosystem=None, root=".", json=False):  # type: ignore[no-untyped-def]
    """Lift an emergency stop (global, or one ecosystem)."""
    from automation.core.layout import RegistryLayout
    from automation.registry.control import resume as resume_control

    run(lambda: resume_control(RegistryLayout.at(root), ecosystem), as_json=json)


@task(
    iterable=["results"],
    help={
        "recipe": "recipe TOML file to constrain (relative to --root)",
        "results": "validation results JSONL (recipe, platform, status); repeat for more files",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    },
)
def constrain(c, recipe, results, root=".", json=False):  # type: ignore[no-untyped-def]
    """Write the complete, minimal platform constraints for one recipe from validation results."""
    from pathlib import Path

    from automation.registry.constraints import constrain_recipe_file

    run(
        lambda: constrain_recipe_file(Path(root) / recipe, [Path(root) / r for r in results]),
        as_json=json,
    )


@task(name="check-data", help={"root": ROOT_HELP, "json": JSON_HELP})
def check_data(c, root=".", json=False):  # type: ignore[no-untyped-def]
    """Validate every data file and recipe under --root; list problems, account for every file."""
    from automation.core.layout import RegistryLayout
    from automation.ops.checkdata import check_data as check_registry_data

    run(lambda: check_registry_data(RegistryLayout.at(root)), as_json=json)


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
        "root": ROOT_HELP,
        "json": JSON_HELP,
    },
)
def validate_containers(  # type: ignore[no-untyped-def]
    c, env, recipe, batch_id=None, engine=None, jobs=2, no_ca_bundle=False, root=".", json=False
):
    """Install and verify recipes in one container per Linux environment."""
    from automation.containers.validate import run_validation

    run(
        lambda: run_validation(
            root=root,
            environment_ids=env,
            recipe_paths=recipe,
            batch_id=batch_id,
            engine=engine,
            ca_bundle=not no_ca_bundle,
            jobs=int(jobs),
        ),
        as_json=json,
    )


@task(
    help={
        "ecosystem": "pypi or npm",
        "batch_size": "entries per batch (default 10)",
        "max_tier": "highest priority tier to take (default 3)",
        "shard": "K/N: this job's deterministic share of the batch (CI matrix; needs --batch-id)",
        "batch_id": "resume this batch (its recorded selection) instead of starting a new one",
        "wait": "seconds to wait for a busy registry lock (default 60; 0: fail fast, exit 5)",
        "budget_seconds": "wall-clock budget; entries not started by then stay pending "
        "(default [batch] budget_seconds or $AUTOMATION_BATCH_BUDGET: none)",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    }
)
def generate(
    c,
    ecosystem,
    batch_size=10,
    max_tier=3,
    shard=None,
    batch_id=None,
    wait=None,
    budget_seconds=None,
    root=".",  # type: ignore[no-untyped-def]
    json=False,
):
    """Build recipes for queued entries into data/staging/<batch_id>/ (failures recorded)."""
    from automation.core.layout import RegistryLayout
    from automation.stages.pipeline import run_generate

    run(
        lambda: run_generate(
            RegistryLayout.at(root),
            ecosystem,
            batch_size=int(batch_size),
            max_tier=int(max_tier),
            shard=shard,
            batch_id=batch_id,
            verbose=not json,
            lock_wait=None if wait is None else float(wait),
            budget_seconds=None if budget_seconds is None else float(budget_seconds),
        ),
        as_json=json,
    )


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
def create(c, from_, name=None, output=None, root=".", json=False):  # type: ignore[no-untyped-def]
    """Generate one recipe outside the queue, with the same builders."""
    from automation.core.layout import RegistryLayout
    from automation.stages.pipeline import run_create

    run(lambda: run_create(RegistryLayout.at(root), from_, name=name, output=output), as_json=json)


@task(
    iterable=["env"],
    help={
        "env": "local (this machine, default), a container environment id (debian-12...), or "
        "all-local (every container environment built here); repeatable",
        "batch_id": "the batch whose staged recipes to validate",
        "jobs": "container environments validated side by side (default 2: one CPU each)",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    },
)
def validate(c, batch_id, env, jobs=2, root=".", json=False):  # type: ignore[no-untyped-def]
    """Install and run each staged recipe; one result line per recipe and environment."""
    from automation.core.layout import RegistryLayout
    from automation.stages.pipeline import run_validate

    run(
        lambda: run_validate(RegistryLayout.at(root), batch_id, env or ["local"], jobs=int(jobs)),
        as_json=json,
    )


@task(
    help={
        "batch_id": "the batch to merge (all its shards)",
        "wait": "seconds to wait for a busy registry lock (default $AUTOMATION_LOCK_WAIT or 0: "
        "fail fast, exit 5)",
        "allow_missing_shards": "merge a sharded batch although some shards have not reported",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    }
)
def merge(c, batch_id, wait=None, allow_missing_shards=False, root=".", json=False):  # type: ignore[no-untyped-def]
    """Land passing recipes; queue, failures, metrics and the batch manifest record the rest."""
    from automation.core.layout import RegistryLayout
    from automation.stages.merge import merge_batch

    run(
        lambda: merge_batch(
            RegistryLayout.at(root),
            batch_id,
            lock_wait=None if wait is None else float(wait),
            allow_missing_shards=allow_missing_shards,
        ),
        as_json=json,
    )


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
def abandon(c, batch_id, reason="", by="", wait=None, root=".", json=False):  # type: ignore[no-untyped-def]
    """Release a stale batch's reserved queue entries; it can no longer be merged or resumed."""
    from automation.core.layout import RegistryLayout
    from automation.registry.reservation import abandon_batch

    run(
        lambda: abandon_batch(
            RegistryLayout.at(root),
            batch_id,
            reason=reason,
            by=by,
            lock_wait=None if wait is None else float(wait),
        ),
        as_json=json,
    )


@task(
    help={
        "batch_id": "the merged batch to undo",
        "force": "also overwrite files edited since the batch",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    }
)
def rollback(c, batch_id, force=False, root=".", json=False):  # type: ignore[no-untyped-def]
    """Restore every file a batch changed, byte for byte, from its manifest."""
    from automation.core.layout import RegistryLayout
    from automation.stages.rollback import rollback_batch

    run(lambda: rollback_batch(RegistryLayout.at(root), batch_id, force=force), as_json=json)


@task(
    iterable=["env"],
    help={
        "ecosystem": "pypi or npm",
        "limit": "candidates to seed and entries to generate (default 3)",
        "env": "validation environments: local (default), container ids or all-local; "
        "repeatable. With containers, local runs first too (it discovers the verify pattern)",
        "jobs": "container environments validated side by side (default 2)",
        "no_seed": "skip seeding; work on what is already queued",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    },
)
def pipeline(c, ecosystem, env, limit=3, jobs=2, no_seed=False, root=".", json=False):  # type: ignore[no-untyped-def]
    """seed -> generate -> validate -> merge on one live batch, with a summary table."""
    from automation.core.layout import RegistryLayout
    from automation.stages.pipeline import run_pipeline

    run(
        lambda: run_pipeline(
            RegistryLayout.at(root),
            ecosystem,
            limit=int(limit),
            environment=env or ["local"],
            seed=not no_seed,
            jobs=int(jobs),
        ),
        as_json=json,
    )


@task(
    help={
        "budget": "artifacts to download this run (default 20); later runs continue after it",
        "rate": "artifact downloads per second (default 1)",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    }
)
def drift(c, budget=20, rate=1.0, root=".", json=False):  # type: ignore[no-untyped-def]
    """Re-download pinned artifacts and compare with data/checksums/ baselines (exit 6 on drift)."""
    from automation.ops.drift import check_drift

    run(lambda: check_drift(root, budget=int(budget), rate=float(rate)), as_json=json)


@task(
    help={
        "out": "directory to write index.html and dashboard.json into (created if missing)",
        "at": "date the page as of this RFC 3339 time (breaker states, SLI window); default now",
        "config": "automation.toml to read [sli] thresholds from (default <root>/automation.toml)",
        "root": ROOT_HELP,
        "json": JSON_HELP,
    }
)
def dashboard(c, out, at=None, config=None, root=".", json=False):  # type: ignore[no-untyped-def]
    """Static dashboard: index.html (inline SVG charts, no scripts) and dashboard.json."""
    from automation.learn.dashboard import build_dashboard

    run(lambda: build_dashboard(root, out, at=at, config_path=config), as_json=json)


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
    root=".",
    json=False,
):
    """Pipeline SLIs over a window; prints alerts and exits 4 when a threshold is crossed."""
    from automation.learn.sli import sli_report

    run(
        lambda: sli_report(
            root,
            window=window,
            at=at,
            config_path=config,
            overrides={
                "min_runs": min_runs,
                "min_generation_success": min_generation_success,
                "min_validation_pass": min_validation_pass,
                "min_merge_rate": min_merge_rate,
                "max_empty_run_ratio": max_empty_run_ratio,
                "max_hours_since_merge": max_hours_since_merge,
            },
        ),
        as_json=json,
    )


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
def exclude_impossible(c, dry_run=False, no_history=False, wait=None, root=".", json=False):  # type: ignore[no-untyped-def]
    """Exclude queue entries no builder can ever build (reason kept as a failure record)."""
    from automation.core.layout import RegistryLayout
    from automation.ops.maintenance import exclude_impossible as exclude

    run(
        lambda: exclude(
            RegistryLayout.at(root),
            dry_run=dry_run,
            history=not no_history,
            lock_wait=None if wait is None else float(wait),
        ),
        as_json=json,
    )
