"""Benchmark cases. Each runs in a fresh interpreter (spawned) so its peak RSS is its own."""

from __future__ import annotations

import json
import os
import resource
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any


def peak_rss_mib() -> float:
    """This process's peak resident memory since it started its program.

    Linux's ``VmHWM`` (reset by exec); ``ru_maxrss`` is not: a spawned child would report at
    least its parent's size at fork time.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def child(fn_name: str, args: tuple[Any, ...], queue: Any) -> None:
    """Spawned-process entry: run one case, add its peak RSS, report through ``queue``."""
    try:
        result = globals()[fn_name](*args)
        result["peak_rss_mib"] = peak_rss_mib()
        queue.put(("ok", result))
    except BaseException as exc:  # reported; the run goes on
        queue.put(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()[-1500:]}"))


# ---- queue ------------------------------------------------------------------------------------


def queue_ours(root: str) -> dict[str, Any]:
    from automation.registry.queue import read_queue, save_queue

    source = Path(root) / "data" / "queues" / "priority-queue.json"
    target = Path(tempfile.mkdtemp()) / "queue.json"
    load_s, loaded = timed(lambda: read_queue(source))
    assert not loaded.errors, loaded.errors[:3]
    save_s, _ = timed(lambda: save_queue(target, loaded.queue))
    shutil.rmtree(target.parent)
    return {"load_validate_s": load_s, "save_s": save_s, "total_s": load_s + save_s,
            "entries": len(loaded.queue.entries)}  # fmt: skip


def queue_bare(root: str) -> dict[str, Any]:
    source = Path(root) / "data" / "queues" / "priority-queue.json"
    target = Path(tempfile.mkdtemp()) / "queue.json"
    load_s, document = timed(lambda: json.load(source.open(encoding="utf-8")))

    def dump() -> None:
        with target.open("w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)

    save_s, _ = timed(dump)
    shutil.rmtree(target.parent)
    return {"load_s": load_s, "save_s": save_s, "total_s": load_s + save_s}


def queue_jsonschema_only(root: str) -> dict[str, Any]:
    """How much of our load is jsonschema (for the record)."""
    from automation.core import schemas

    document = json.loads((Path(root) / "data" / "queues" / "priority-queue.json").read_text())
    schemas.validator("queue")
    seconds, problems = timed(lambda: schemas.check(document, "queue", path="q"))
    return {"jsonschema_s": seconds, "problems": len(problems)}


# ---- gaps -------------------------------------------------------------------------------------


def gaps_ours(root: str, cache: str) -> dict[str, Any]:
    """``invoke gaps`` cold (nothing cached), warm (unchanged registry: the result cache), and
    with the failure index warm but the result cache bypassed (what a changed queue costs)."""
    os.environ["AUTOMATION_CACHE_DIR"] = cache
    from automation.learn.gaps import gap_report

    cold_s, report = timed(lambda: gap_report(root, top=10))
    warm_s, warm = timed(lambda: gap_report(root, top=10))
    recompute_s, _ = timed(lambda: gap_report(root, top=10, use_cache=False))
    top = report.to_json()
    same = {k: v for k, v in top.items() if k not in ("index", "result_cache")} == {
        k: v for k, v in warm.to_json().items() if k not in ("index", "result_cache")
    }
    return {"cold_s": cold_s, "warm_s": warm_s, "recompute_s": recompute_s,
            "warm_hit": warm.to_json().get("result_cache", {}).get("hit"),
            "top": [str(x)[:80] for x in (top.get("blockers") or [])[:3]],
            "same": same}  # fmt: skip


def gaps_index_only(root: str, cache: str) -> dict[str, Any]:
    """The failure index alone (refresh), cold then warm."""
    os.environ["AUTOMATION_CACHE_DIR"] = cache
    from automation.core.layout import RegistryLayout
    from automation.learn.failure_index import open_index

    layout = RegistryLayout.at(root)

    def refresh() -> int:
        with open_index(layout) as (_conn, stats):
            return stats.records

    cold_s, records = timed(refresh)
    warm_s, _ = timed(refresh)
    return {"cold_s": cold_s, "warm_s": warm_s, "records": records}


def gaps_bare_sql(root: str) -> dict[str, Any]:
    """Parse every line, insert (name, dependency) rows, GROUP BY: the floor for a cold run."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE b (name TEXT, dep TEXT)")

    def load() -> int:
        rows = []
        records = 0
        for path in sorted((Path(root) / "data" / "failures").glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                doc = json.loads(line)
                if "failures" in doc:
                    for item in doc["failures"]:
                        records += 1
                        for dep in item.get("blocked_by") or ():
                            rows.append((item.get("name") or item["package_id"], dep))
                else:
                    records += 1
                    for dep in doc.get("blocked_by") or ():
                        rows.append((doc["recipe"], dep))
        conn.executemany("INSERT INTO b VALUES (?, ?)", rows)
        return records

    query = ("SELECT dep, COUNT(DISTINCT name) AS n FROM b GROUP BY dep "
             "ORDER BY n DESC, dep LIMIT 10")  # fmt: skip
    load_s, records = timed(load)
    cold_query_s, top = timed(lambda: conn.execute(query).fetchall())
    warm_s, _ = timed(lambda: conn.execute(query).fetchall())
    return {"cold_s": load_s + cold_query_s, "warm_s": warm_s, "records": records,
            "top": top[:3]}  # fmt: skip


def gaps_bare_same_rows(root: str) -> dict[str, Any]:
    """The issue's comparison read literally: the same rows (one per failure record, the fields
    the kit's index keeps) parsed and inserted without checks into an on-disk SQLite table, then
    a GROUP BY per package; warm is the GROUP BY again."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(str(Path(tmp) / "bare.sqlite"))
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(
            "CREATE TABLE r (file TEXT, line INT, package_id TEXT, name TEXT, environment TEXT,"
            " category TEXT, subcategory TEXT, exit_code INT, timestamp TEXT, blocked_by TEXT)"
        )

        def load() -> int:
            records = 0
            for path in sorted((Path(root) / "data" / "failures").glob("*.jsonl")):
                rows = []
                for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                    if not line.strip():
                        continue
                    doc = json.loads(line)
                    if "failures" in doc:
                        env = doc["environment"]
                        for item in doc["failures"]:
                            deps = item.get("blocked_by")
                            rows.append((path.name, lineno, item["package_id"], item.get("name"),
                                         env, item["category"], item.get("subcategory"),
                                         item.get("exit_code"), item["timestamp"],
                                         "\n".join(deps) if deps else None))  # fmt: skip
                    else:
                        deps = doc.get("blocked_by")
                        rows.append((path.name, lineno, None, doc["recipe"], doc["platform"],
                                     doc["category"], None, doc["exit_code"], doc["timestamp"],
                                     "\n".join(deps) if deps else None))  # fmt: skip
                records += len(rows)
                with conn:
                    conn.executemany("INSERT INTO r VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
            return records

        query = ("SELECT package_id, name, COUNT(*), MAX(timestamp) FROM r "
                 "GROUP BY package_id, name")  # fmt: skip
        load_s, records = timed(load)
        cold_query_s, groups = timed(lambda: len(conn.execute(query).fetchall()))
        warm_s, _ = timed(lambda: conn.execute(query).fetchall())
        conn.close()
    return {"cold_s": load_s + cold_query_s, "warm_s": warm_s, "records": records,
            "groups": groups}  # fmt: skip


# ---- npm seeding ------------------------------------------------------------------------------


def npm_ours(workdir: str) -> dict[str, Any]:
    from automation.core.config import load_config
    from automation.core.http import HttpClient
    from automation.core.layout import RegistryLayout
    from automation.ecosystems.npm.popularity import load_npm_popularity

    layout = RegistryLayout.at(workdir)
    with HttpClient(load_config(layout.root)) as http:
        cold_s, ranking = timed(lambda: load_npm_popularity(http, layout, 2000))
        for summary in (layout.cache_dir / "popularity").glob("npm-top-*.json"):
            summary.unlink()  # keep the tarball: measure parsing, not the download
        parse_s, ranking = timed(lambda: load_npm_popularity(http, layout, 2000))
    tarball = next((layout.cache_dir / "popularity").glob("download-counts-*.tgz"))
    return {"download_and_rank_s": cold_s, "rank_from_tarball_s": parse_s,
            "tarball": str(tarball), "tarball_mib": tarball.stat().st_size / 2**20,
            "population": getattr(ranking, "population", None)}  # fmt: skip


def npm_extract(tarball: str, workdir: str) -> dict[str, Any]:
    target = Path(workdir) / "counts.json"
    with tarfile.open(tarball, "r:gz") as archive:
        member = archive.getmember("package/counts.json")
        handle = archive.extractfile(member)
        assert handle is not None
        target.write_bytes(handle.read())
    return {"counts_json": str(target), "mib": target.stat().st_size / 2**20}


def npm_bare(counts_json: str) -> dict[str, Any]:
    def load() -> Any:
        with open(counts_json, encoding="utf-8") as handle:
            return json.load(handle)

    seconds, document = timed(load)
    return {"json_load_s": seconds, "packages": len(document)}


def npm_bare_gz(tarball: str) -> dict[str, Any]:
    """json.load straight from the gzipped tarball (what the kit must read too)."""

    def load() -> int:
        with tarfile.open(tarball, "r:gz") as archive:
            handle = archive.extractfile(archive.getmember("package/counts.json"))
            assert handle is not None
            return len(json.load(handle))

    seconds, packages = timed(load)
    return {"json_load_from_tgz_s": seconds, "packages": packages}


# ---- live generation --------------------------------------------------------------------------


def live_ours(
    ecosystem: str, identifiers: list[str], threads: int, config_file: str | None = None
) -> dict[str, Any]:
    """The kit's adapter (fetch + build) over ``identifiers``; logs every request it sends.

    ``config_file`` is an ``automation.toml`` (the kit's own configuration: how the benchmark
    lifts the rate limits); None means the defaults. The log keeps, per request, the package it
    served, the URL and the headers the kit chose (Accept, Range...), so that the bare fetch
    replays exactly the same requests.
    """
    import threading

    import requests

    from automation.core.config import load_config
    from automation.core.http import HttpClient
    from automation.ecosystems import adapters

    log: list[tuple[str, str, dict[str, str]]] = []
    current = threading.local()

    class Logging(requests.Session):
        def request(self, method: str, url: str, *a: Any, **kw: Any) -> Any:  # type: ignore[override]
            sent = {k: v for k, v in (kw.get("headers") or {}).items() if k != "Authorization"}
            log.append((getattr(current, "package", ""), url, sent))
            return super().request(method, url, *a, **kw)

    adapter = adapters()[ecosystem]
    config = load_config(path=Path(config_file) if config_file else None)
    outcomes: dict[str, int] = {}

    def one(http: HttpClient, identifier: str) -> str:
        current.package = identifier
        try:
            value = adapter.fetch(http, identifier)
            built = adapter.build(identifier.lower().replace("/", "-").lstrip("@"), value)
            return type(built).__name__
        except Exception as exc:  # counted; the benchmark goes on
            return type(exc).__name__

    def run_all() -> tuple[list[str], float]:
        # Client set-up (session, CA bundle) is inside the timed window, as in live_bare.
        with HttpClient(config, session=Logging()) as http:
            with ThreadPoolExecutor(threads) as pool:
                done = list(pool.map(lambda identifier: one(http, identifier), identifiers))
            return done, http.rate_limit_wait

    cpu = time.process_time()
    seconds, (results, waited) = timed(run_all)
    cpu = time.process_time() - cpu
    for result in results:
        outcomes[result] = outcomes.get(result, 0) + 1
    return {"seconds": seconds, "cpu_s": cpu, "packages": len(identifiers),
            "per_s": len(identifiers) / seconds, "requests": len(log), "outcomes": outcomes,
            "rate_limits": {k: v for k, v in config.rate_limits.items() if k in ("pypi",
                            "pypifiles", "npm")}, "rate_limit_wait_s": waited,
            "log": log}  # fmt: skip


def live_bare(
    log: list[tuple[str, str, dict[str, str]]], threads: int, chained: bool
) -> dict[str, Any]:
    """Replay the kit's requests with plain ``requests``: one session, ``threads`` workers.

    ``chained=False``: every URL at once (a floor the kit cannot reach for PyPI, whose wheel reads
    depend on the JSON). ``chained=True``: each package's URLs in order on one worker, as any
    client must. The CA bundle is parsed once per run (as the kit does) and, as for the kit, the
    session set-up is timed.
    """
    import ssl
    import urllib.request

    import requests
    from requests.adapters import HTTPAdapter

    ca = "/etc/ssl/certs/ca-certificates.crt"

    class Preloaded(HTTPAdapter):
        def init_poolmanager(self, *a: Any, **kw: Any) -> None:
            super().init_poolmanager(*a, ssl_context=context, **kw)

        def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
            conn.cert_reqs = "CERT_REQUIRED"  # and no CA path: the context holds the bundle

    def session_for_run() -> requests.Session:
        session = requests.Session()
        session.mount("https://", Preloaded(pool_maxsize=threads + 2))
        # No per-request environment scan (which would also hand urllib3 the CA bundle's path
        # again, re-read on every connection); proxies are read once.
        session.trust_env = False
        session.proxies = urllib.request.getproxies()
        return session

    context: ssl.SSLContext | None = None
    session: requests.Session | None = None

    def fetch(url: str, headers: dict[str, str]) -> int:
        assert session is not None
        response = session.get(url, headers=headers, timeout=60)
        response.raise_for_status()
        return len(response.content)

    jobs: list[list[tuple[str, dict[str, str]]]] = []
    if chained:
        by_package: dict[str, list[tuple[str, dict[str, str]]]] = {}
        for package, url, headers in log:
            by_package.setdefault(package, []).append((url, headers))
        jobs = list(by_package.values())
    else:
        jobs = [[(url, headers)] for _package, url, headers in log]

    def one(job: list[tuple[str, dict[str, str]]]) -> int:
        return sum(fetch(url, headers) for url, headers in job)

    def run_all() -> list[int]:
        nonlocal context, session
        # Set-up inside the timed window, as in live_ours.
        context = ssl.create_default_context(cafile=ca if Path(ca).is_file() else None)
        session = session_for_run()
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(one, jobs))

    cpu = time.process_time()
    seconds, sizes = timed(run_all)
    cpu = time.process_time() - cpu
    return {"seconds": seconds, "cpu_s": cpu, "requests": len(log), "bytes": sum(sizes),
            "chained": chained}  # fmt: skip


# ---- containers -------------------------------------------------------------------------------


def podman_overhead(image: str, runs: int = 3) -> dict[str, Any]:
    times = []
    for _ in range(runs):
        seconds, result = timed(lambda: subprocess.run(
            ["podman", "run", "--rm", "--network=none", image, "true"],
            capture_output=True, check=False, timeout=120))  # fmt: skip
        if result.returncode != 0:
            return {"error": result.stderr.decode(errors="replace")[-300:]}
        times.append(seconds)
    return {"start_stop_s": sorted(times)[len(times) // 2], "runs": runs}


def container_validation(root: str, recipe: str, env: str) -> dict[str, Any]:
    from automation.containers.validate import run_validation

    seconds, report = timed(lambda: run_validation(
        root=root, environment_ids=[env], recipe_paths=[recipe], jobs=1))  # fmt: skip
    data = report.to_json()
    return {"seconds": seconds, "report": json.dumps(data)[:4000]}


# ---- end to end (bench/e2e.py) ----------------------------------------------------------------


def e2e_prepare(template: str) -> dict[str, Any]:
    from bench import e2e

    return e2e.prepare(template)


def e2e_validate(
    template: str, work: str, cache: str, jobs: int, skip_failed_locally: bool, overlap: bool
) -> dict[str, Any]:
    from bench import e2e

    return e2e.validate_variant(template, work, cache, jobs, skip_failed_locally, overlap)


def e2e_floor(template: str, work: str) -> dict[str, Any]:
    from bench import e2e

    return e2e.floor(template, work)
