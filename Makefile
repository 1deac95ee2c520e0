# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
# The PostgreSQL server `make test` uses when CATALOG_TEST_POSTGRES_URL is not set (docs/TESTING.md).
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test
# The suite runs in this many processes (pytest-xdist), each file's tests in one process; 0 runs it in this one.
TEST_WORKERS ?= 2

.PHONY: install run test test-sqlite bench clean mutate

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the package metadata changed.
$(VENV)/.installed: setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/catalog db upgrade
	PORT=$(PORT) $(BIN)/catalog demo load
	$(BIN)/catalog serve --port $(PORT)

# SQLite always; PostgreSQL too when CATALOG_TEST_POSTGRES_URL is set or a server answers at PG_TEST_URL.
test: install
	@url="$${CATALOG_TEST_POSTGRES_URL:-}"; \
	if [ -z "$$url" ] && $(BIN)/python -c 'import sys, psycopg; psycopg.connect(sys.argv[1], connect_timeout=3).close()' \
	    "$(PG_TEST_URL)" 2>/dev/null; then url="$(PG_TEST_URL)"; fi; \
	if [ -n "$$url" ]; then echo "make test: SQLite and PostgreSQL ($$url)"; \
	else echo "make test: SQLite only. The PostgreSQL half is SKIPPED: no server answers at $(PG_TEST_URL)"; \
	     echo "           (start one, or set CATALOG_TEST_POSTGRES_URL or PG_TEST_URL)"; fi; \
	CATALOG_TEST_POSTGRES_URL="$$url" $(BIN)/python -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile) $(PYTEST_ARGS)

$(VENV)/.installed-mutate: setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,mutate]'
	touch $@

# Mutation testing of the rules that protect people's data (mutmut, mutants run by tools/mutate_runner.py; the whole
# scope still takes over 50 minutes on this shared 2-core machine, docs/TESTING.md; not in CI).
# Prints "killed K of N mutants (P %)" and the survivors; see docs/TESTING.md. MUTATE_ARGS=--survivors after adding tests.
mutate: install $(VENV)/.installed-mutate
	$(BIN)/python tools/mutate.py $(MUTATE_ARGS)

clean:
	rm -rf $(VENV) instance instance-demo-systems .pytest_cache mutants build/screenshots build/mutate-killers.json
