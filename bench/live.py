"""The live-generation section of ``make bench``: the kit's adapters vs a bare fetch of its URLs.

Apples to apples: the bare fetch replays exactly the requests the kit sent (URL and the headers
the kit chose), with the same number of threads, in a fresh interpreter, and parses the CA bundle
once like the kit. The kit runs twice per round: with its default rate limits (a politeness
feature, on by default) and with them lifted through its own configuration file
(``[rate_limits]`` in ``automation.toml``), which is what the bare fetch has. Each variant runs
three times, interleaved, and the best of three counts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

THREADS = 8
ROUNDS = 3
# Well-known command-line tools, all among PyPI's top 15,000 (data/pypi-top-packages-30-days).
PYPI_CLIS = ["black", "ruff", "httpie", "pipx", "poetry", "tox", "nox", "flake8", "pylint",
             "mypy", "pytest", "awscli", "virtualenv", "pip-tools", "twine", "cookiecutter",
             "pre-commit", "isort", "autopep8", "yapf", "bandit", "coverage", "sphinx", "mkdocs",
             "jupyterlab", "notebook", "ipython", "invoke", "fabric", "ansible-core", "uvicorn",
             "gunicorn", "celery", "alembic", "pyinstaller", "pdm", "hatch", "build", "wheel",
             "setuptools-scm", "bump2version", "pip-audit", "safety", "codespell", "pyupgrade",
             "docformatter", "pydocstyle", "pycodestyle", "pyflakes", "radon", "vulture", "xonsh",
             "yt-dlp", "streamlit", "dvc", "scrapy", "locust", "tqdm", "gdown",
             "sqlfluff"]  # fmt: skip
NPM_CLIS = ["typescript", "prettier", "eslint", "npm-check-updates", "nodemon", "pm2", "serve",
            "http-server", "rimraf", "cross-env", "concurrently", "json-server", "vercel",
            "netlify-cli", "firebase-tools", "@angular/cli", "@vue/cli", "create-react-app",
            "yarn", "pnpm", "lerna", "nx", "tsx", "ts-node", "esbuild", "vite", "webpack-cli",
            "cowsay", "degit", "np", "mocha", "jest", "gulp-cli", "grunt-cli", "browserify",
            "uglify-js", "terser", "rollup", "parcel", "sass", "less", "stylelint",
            "markdownlint-cli", "semver", "mkdirp", "node-gyp", "standard", "xo", "live-server",
            "serverless", "@nestjs/cli", "expo-cli", "eas-cli", "wrangler", "zx", "commitizen",
            "husky", "lint-staged", "release-it", "verdaccio"]  # fmt: skip
UNLIMITED_TOML = """\
# Written by `make bench`: the kit's own rate-limit keys, lifted to the schema's maximum. With the
# bucket's burst equal to its rate, a run of fewer than 1,000 requests per endpoint never waits
# (the table shows the measured wait).
[rate_limits]
pypi = 1000
pypifiles = 1000
npm = 1000
"""

Runner = Callable[..., dict[str, Any]]


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    good = [r for r in runs if "error" not in r]
    return min(good, key=lambda r: r["seconds"]) if good else runs[0]


def _url_set(run: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((url, str(sorted(headers.items()))) for _pkg, url, headers in run["log"])


def section(run: Runner, say: Callable[[str], None], results: dict[str, Any], work: Path) -> None:
    """Run the live cases and print the section (never fails on timing)."""
    unlimited = work / "unlimited-rate.toml"
    unlimited.write_text(UNLIMITED_TOML, encoding="utf-8")
    say("## Live generation throughput vs bare concurrent fetch of the same URLs "
        "(targets: ≤ 1.5x, ≥ 10 packages/s)")  # fmt: skip
    say("")
    say(f"Apples to apples: {THREADS} threads everywhere; the bare fetch (plain `requests`, one "
        "session, CA bundle parsed once) replays exactly the requests the kit sent (URL, Range, "
        "Accept); client/session set-up is timed on both sides, imports on neither; each "
        "variant runs 3 times interleaved in this run, best of 3 shown. The kit "
        "runs with its default rate limits (politeness, on by default) and with them lifted to "
        "what the bare fetch has, through its own config (`[rate_limits]` in `automation.toml`, "
        "1000/s). *bare, all at once* fetches every URL concurrently; *bare, per package* fetches "
        "each package's URLs in order, as any client must (a PyPI wheel's URL comes from its "
        "JSON). Ratios use the all-at-once floor.")  # fmt: skip
    say("")
    say("| ecosystem | kit rate limit | packages | kit s | packages/s | kit CPU s | requests | "
        "rate-limit wait s | bare all at once s | **ratio** | bare per package s | ratio | "
        "outcomes |")  # fmt: skip
    say("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for ecosystem, identifiers in (("pypi", PYPI_CLIS), ("npm", NPM_CLIS)):
        rounds: dict[str, list[dict[str, Any]]] = {
            "default": [], "unlimited": [], "flat": [], "chained": []
        }  # fmt: skip
        log: list[Any] | None = None
        for _ in range(ROUNDS):
            rounds["default"].append(run("live_ours", ecosystem, identifiers, THREADS, None))
            lifted = run("live_ours", ecosystem, identifiers, THREADS, str(unlimited))
            rounds["unlimited"].append(lifted)
            if log is None and "error" not in lifted:
                log = lifted["log"]
            if log is not None:
                rounds["flat"].append(run("live_bare", log, THREADS, False))
                rounds["chained"].append(run("live_bare", log, THREADS, True))
        kit_runs = [r for r in rounds["default"] + rounds["unlimited"] if "error" not in r]
        same = len({str(_url_set(r)) for r in kit_runs}) == 1
        flat, chained = (
            _best(rounds["flat"] or [{"error": "no log"}]),
            _best(rounds["chained"] or [{"error": "no log"}]),
        )
        results[f"live_{ecosystem}"] = {
            name: [{k: v for k, v in r.items() if k != "log"} for r in runs]
            for name, runs in rounds.items()
        }
        for variant in ("default", "unlimited"):
            kit = _best(rounds[variant])
            if "error" in kit:
                say(f"| {ecosystem} | {variant} | skipped: `{kit['error'][:200]}` ||||||||||")
                continue
            limits = ", ".join(f"{k} {v:g}/s" for k, v in kit["rate_limits"].items())
            say(f"| {ecosystem} | {variant} ({limits}) | {kit['packages']} | "
                f"{kit['seconds']:.3f} | {kit['per_s']:.1f} | {kit['cpu_s']:.2f} | "
                f"{kit['requests']} | {kit['rate_limit_wait_s']:.2f} | "
                f"{_fmt(flat)} | **{_ratio(kit, flat)}** | {_fmt(chained)} | "
                f"{_ratio(kit, chained)} | {kit['outcomes']} |")  # fmt: skip
        bare_cpu = flat.get("cpu_s")
        say(f"| {ecosystem} | (bare CPU s, all at once: "
            f"{bare_cpu if bare_cpu is None else f'{bare_cpu:.2f}'}; same requests in every kit "
            f"run: {'yes' if same else 'NO'}) ||||||||||||")  # fmt: skip
    say("")


def _fmt(run: dict[str, Any]) -> str:
    return f"{run['seconds']:.3f}" if "seconds" in run else f"error: {run['error'][:80]}"


def _ratio(kit: dict[str, Any], bare: dict[str, Any]) -> str:
    if not kit.get("seconds") or not bare.get("seconds"):
        return "n/a"
    return f"{kit['seconds'] / bare['seconds']:.2f}x"
