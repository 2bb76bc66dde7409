# Two commands matter: `make run` (the campaign CI runs) and `make test` (every test).
# Both create .venv and install the project first, so they work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install browser wrk run test lint bench bench-bookings bench-capacity bench-tracing soak \
	soak-gamedays fuzz-seeds clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/faultline run

# The game-day report and live dashboard are tested in Debian's chromium (Playwright drives the
# system browser; it cannot download its own here). Installed when missing and we are root.
CHROMIUM ?= /usr/bin/chromium

browser:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "$(CHROMIUM) missing: run 'sudo apt-get install chromium' for the browser tests"; fi

test: install browser
	$(BIN)/ruff check .
	$(BIN)/pytest

# The chaos layer again and again, one session per FAULTLINE_SEED, soak-only experiments (the
# 60 s consumer database outage) included; prints each test's pass count over the seeds.
# SOAK_SELECT is a pytest -k expression; SOAK_SELECT= runs the whole chaos layer.
SOAK_SEEDS  ?= 20
SOAK_FIRST  ?= 1
SOAK_SELECT ?= test_mechanism_holds_under_its_fault and consumer

soak: install
	$(BIN)/python -m chaos.experiments.soak --seeds $(SOAK_SEEDS) --first $(SOAK_FIRST) \
		--select '$(SOAK_SELECT)'

# Every shipped game day at its real length (make test runs each at about 9 s).
soak-gamedays: install
	FAULTLINE_GAMEDAY_FULL=1 $(BIN)/pytest -p no:cacheprovider tests/scenarios/test_gameday_runs.py \
		-k passes_in_short

# A plain `st run` against every service with three seeds, 40 cases per operation, each seed
# on a stack of its own (docs/contracts.md, "Fuzzing").
FUZZ_SEEDS ?= 7 42 1234

fuzz-seeds: install
	@for seed in $(FUZZ_SEEDS); do \
		echo "== seed $$seed"; \
		$(BIN)/faultline fuzz --seed $$seed --max-examples 40 || exit 1; \
	done

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python benchmarks/toxiproxy_bench.py
	@if command -v iperf3 >/dev/null && command -v sockperf >/dev/null; then \
		$(BIN)/python benchmarks/toxiproxy_tools_bench.py; \
	else echo "apt-get install iperf3 sockperf for the like-for-like figures"; fi

# Confirmed bookings/s through the gateway at 1, 8, 32, 64 in flight, beside a FastAPI
# hello-world measured in the same run. The load generator is wrk, installed when missing and
# we are root.
wrk:
	@if command -v wrk >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing wrk for the booking benchmark"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; \
	else echo "wrk missing: run 'sudo apt-get install wrk' for the booking benchmark"; fi

bench-bookings: install wrk
	$(BIN)/python benchmarks/booking_throughput.py

# The suite's capacity: GET /api/facilities through the gateway, and the booking saga's largest
# sustained arrival rate (the breakpoint load profile) with and without the proxies, each as a
# ratio to a FastAPI hello-world measured in the same run (needs wrk).
bench-capacity: install wrk
	$(BIN)/python benchmarks/booking_capacity.py

# CPU per confirmed booking with tracing on and off, in the same run, and their ratio.
bench-tracing: install
	$(BIN)/python benchmarks/tracing_overhead.py

clean:
	rm -rf $(VENV) .faultline .pytest_cache
