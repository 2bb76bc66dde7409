# Two commands matter: `make run` (the main job) and `make test` (every test).
# Both create .venv and install the project first, so they work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test lint bench bench-bookings clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/faultline demo

test: install
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python benchmarks/toxiproxy_bench.py
	@if command -v iperf3 >/dev/null && command -v sockperf >/dev/null; then \
		$(BIN)/python benchmarks/toxiproxy_tools_bench.py; \
	else echo "apt-get install iperf3 sockperf for the like-for-like figures"; fi

# Confirmed bookings/s through the gateway at 1, 8, 32, 64 in flight, beside a FastAPI
# hello-world measured in the same run (needs wrk: apt-get install wrk).
bench-bookings: install
	$(BIN)/python benchmarks/booking_throughput.py

clean:
	rm -rf $(VENV) .faultline .pytest_cache
