# Delight goals service.
#   make run    set up everything, then serve on http://127.0.0.1:$(PORT) (DEBUG on)
#   make test   the whole suite against real PostgreSQL, with the coverage gate and the linters
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
LOCK_ARGS = --python-version 3.11 --generate-hashes -q $(if $(UPGRADE),--upgrade,)
INSTALLED := $(VENV)/.installed
UV := $(BIN)/uv

.PHONY: help install run test lint format lock migrate schema guide bench bench-speedups bench-instructions bench-layers soak fuzz clean \
	topology failover chromium screenshots

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

# Installing: the interpreter's bundled pip installs one thing, the pinned and hash-checked uv of
# requirements/uv.txt (a single wheel, no dependencies, nothing to resolve); uv then makes .venv
# exactly what the lock says (`uv pip sync`: installs nothing the lock does not pin, removes what
# it does not name, checks every hash), and check_install.py proves it. pip itself never resolves
# the lock: pip before 24 takes an extra of a pinned package (pytest-cov's `coverage[toml]`) as a
# second, unpinned requirement in --require-hashes mode and fetches the index's newest release
# (pypa/pip#9644), which broke every fresh install the day a new coverage came out.
$(UV): requirements/uv.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps --only-binary :all: \
		--require-hashes -r requirements/uv.txt
	@touch $@

$(INSTALLED): requirements/dev.txt $(UV)
	$(UV) pip sync -q --require-hashes --strict --python $(BIN)/python requirements/dev.txt
	$(BIN)/python scripts/check_install.py requirements/dev.txt
	@touch $@

install: $(INSTALLED) ## create .venv and install the locked dependencies

run: export DJANGO_DEBUG ?= 1
run: install ## migrate, print a dev token and a curl line, serve on 127.0.0.1:8000 (PORT=...)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py dev_welcome --port $(PORT)
	@# --noreload: one process serves; without DATABASE_URL it starts (or joins) the embedded
	@# PostgreSQL before Django loads, and the database stops when it exits (manage.py).
	exec $(BIN)/python manage.py runserver --noreload 127.0.0.1:$(PORT)

migrate: export DJANGO_DEBUG ?= 1
migrate: install ## apply migrations to the local database
	$(BIN)/python manage.py migrate --noinput

test: install chromium ## lint, then the whole suite with the coverage gate (90 %)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/coverage run -m pytest
	$(BIN)/coverage report

lint: install ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install ## rewrite the code in the project's style
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schema: export DJANGO_DEBUG ?= 1
schema: install ## regenerate docs/openapi.yaml from the code
	$(BIN)/python manage.py spectacular --validate --file docs/openapi.yaml

# Existing pins are kept unless pyproject.toml asks otherwise (uv prefers what the output holds);
# `make lock UPGRADE=1` takes the newest releases. requirements/uv.txt pins the uv of dev.txt.
lock: install ## re-resolve requirements/*.txt from pyproject.toml
	$(UV) pip compile pyproject.toml $(LOCK_ARGS) -o requirements/prod.txt
	$(UV) pip compile pyproject.toml $(LOCK_ARGS) --extra dev -o requirements/dev.txt
	$(UV) pip compile pyproject.toml $(LOCK_ARGS) --extra dev --extra bench -o requirements/bench.txt
	sed -n 's/^\(uv==[^ ]*\).*/\1/p' requirements/dev.txt | \
		$(UV) pip compile - $(LOCK_ARGS) --no-header -o requirements/uv.txt

$(VENV)/.installed-bench: $(INSTALLED) requirements/bench.txt
	$(UV) pip sync -q --require-hashes --strict --python $(BIN)/python requirements/bench.txt
	$(BIN)/python scripts/check_install.py requirements/bench.txt
	@touch $@

# One synthetic user sends ~30,000 requests a minute in a benchmark, and its writer creates
# ~15,000 goals: the per-user rate limit (1,000/min) and goal limit (10,000) are raised for it,
# or the run would measure 429s and 409s.
bench: $(VENV)/.installed-bench ## side-by-side against the story's FastAPI design, then the service at 1.1 M rows
	RATE_LIMIT_USER_PER_MINUTE=100000000 GOALS_PER_USER_LIMIT=100000000 ../shared/bench/run $(BENCH_ARGS)
	$(BIN)/python scripts/bench_scale.py $(if $(QUICK),--quick,)

bench-speedups: install ## every kept speed-up measured on and off in one run (docs/PERFORMANCE.md)
	$(BIN)/python scripts/speedups.py $(SPEEDUPS_ARGS)

bench-instructions: install ## the same on/off, counted in instructions per request (needs valgrind)
	$(BIN)/python scripts/instructions.py $(INSTRUCTIONS_ARGS)

bench-layers: install ## where a request's time goes: Django, DRF, the four requests, the floor, PostgreSQL
	$(BIN)/python scripts/layers.py $(LAYERS_ARGS)

soak: install ## concurrent creates while PostgreSQL restarts; SHORT=1 for the CI-sized run
	$(BIN)/python scripts/soak.py $(if $(SHORT),--short,)

clean: ## remove the virtualenv, caches, test output and build files (keeps .data/)
	rm -rf $(VENV) .pytest_cache .ruff_cache .coverage .coverage.* htmlcov staticfiles test-artifacts .schemathesis .hypothesis build dist *.egg-info

guide: install ## rewrite docs/API-TESTING-GUIDE.md from a real run
	GUIDE_WRITE=1 $(BIN)/pytest -q -p no:cacheprovider tests/goals/test_api_guide.py

fuzz: install ## a long schemathesis run against the whole API (FUZZ_EXAMPLES, default 500)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-500} FUZZ_SEED=$${FUZZ_SEED:-} $(BIN)/pytest -s -q -p no:cacheprovider tests/test_fuzz.py

# --- Operations (docs/SCALING.md) -----------------------------------------------------------
# The production topology of docker-compose.yml on loopback, from Debian's packages (installed
# here when missing; CI runs as root): nginx -> two instances of python -m delight.serve ->
# PgBouncer -> PostgreSQL on 127.0.0.1:5432, Redis on 127.0.0.1:6379; load, one instance killed,
# checks.
topology: install ## nginx + 2 servers + PgBouncer + PostgreSQL + Redis on loopback: load, a crash, checks
	@command -v nginx >/dev/null && command -v pgbouncer >/dev/null || \
		test -x /usr/sbin/nginx -a -x /usr/sbin/pgbouncer || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			-o DPkg::Lock::Timeout=300 nginx pgbouncer; }
	$(BIN)/python scripts/topology.py $(TOPOLOGY_ARGS)

# Failover (docs/SCALING.md "Failover"): a primary and a synchronous standby of Debian's
# PostgreSQL 15 (postgresql-15, installed here when missing) on free loopback ports, in a temporary
# directory (the server on 5432 is not touched); the service on a multi-host DATABASE_URL; the
# primary killed under load, the standby promoted; checks. FAILOVER_ARGS="--url-form query" etc.
PG_BIN ?= /usr/lib/postgresql/15/bin
failover: install ## two PostgreSQL (synchronous standby), the primary killed under load, promoted: checks
	@test -x $(PG_BIN)/initdb || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			-o DPkg::Lock::Timeout=300 postgresql-15; }
	PG_BIN=$(PG_BIN) $(BIN)/python scripts/failover.py $(FAILOVER_ARGS)

# Browser tests (tests/browser) drive Debian's Chromium through Playwright (whose own browser
# download does not work on these machines). Installed here when missing; when it cannot be, this
# says so and the browser tests fail with the same message (never a silent skip).
CHROMIUM ?= /usr/bin/chromium
chromium: ## install Debian's Chromium for the browser tests when it is missing (apt-get, as root)
	@if [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	log="$$(mktemp)"; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "--- installing Debian's chromium for the browser tests"; \
		if (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) >"$$log" 2>&1 \
			&& [ -x "$(CHROMIUM)" ]; then \
			echo "installed $(CHROMIUM)"; rm -f "$$log"; exit 0; \
		fi; \
		tail -n 20 "$$log"; \
	fi; \
	rm -f "$$log"; \
	echo "make chromium: $(CHROMIUM) is missing and could not be installed (needs root and apt-get: apt-get install -y chromium); the browser tests will fail." >&2

screenshots: install chromium ## rerun the browser tests, then copy their screenshots to docs/img/
	$(BIN)/pytest -q -p no:cacheprovider tests/browser
	mkdir -p docs/img
	cp test-artifacts/browser/{browsable-api,admin-changelist,swagger-ui,redoc}.png docs/img/
