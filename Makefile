PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The server needs only musicsim's own dependencies; the tests add their extras.
SERVE_STAMP := $(VENV)/.installed
TEST_STAMP  := $(VENV)/.installed-test

.PHONY: run test fuzz bench soak clean fonts redis chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(SERVE_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $(SERVE_STAMP)

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(TEST_STAMP) $(SERVE_STAMP)

run: $(SERVE_STAMP)
	$(BIN)/musicsim serve $(ARGS)

test: $(TEST_STAMP) fonts redis chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The stateful fuzz tests alone, with a bigger budget and fresh examples every run
# (`make test` runs them small and derandomized, so CI is not flaky).
FUZZ_TESTS := tests/test_fuzz_state.py tests/test_schemathesis_stateful.py
fuzz: $(TEST_STAMP)
	MUSICSIM_FUZZ=long $(BIN)/python -m pytest $(FUZZ_TESTS) $(PYTEST_ARGS)

# Cover art draws CJK titles with a CJK face when one is installed; the tests check it
# when they can. Installing one needs apt-get and root, so a failure here is not fatal.
CJK_FONT := /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf
fonts:
	@test -f $(CJK_FONT) || (command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  (apt-get install -y -qq --no-install-recommends fonts-droid-fallback >/dev/null 2>&1 || \
	   (apt-get update -qq >/dev/null 2>&1 && \
	    apt-get install -y -qq --no-install-recommends fonts-droid-fallback >/dev/null 2>&1))) || \
	  echo "note: no CJK font installed; CJK cover titles are left out and their test skipped"

# The Redis store is tested against a real server (tests/redis_server.py starts one of
# its own), so Debian's redis-server is installed when missing. Those tests are never
# skipped: if it cannot be installed here, they fail, pointing back to this target.
redis:
	@command -v redis-server >/dev/null || (command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  (apt-get install -y -qq --no-install-recommends redis-server >/dev/null 2>&1 || \
	   (apt-get update -qq >/dev/null 2>&1 && \
	    apt-get install -y -qq --no-install-recommends redis-server >/dev/null 2>&1)) && \
	  command -v redis-server >/dev/null) || \
	  echo "error: redis-server is not installed and could not be (it needs apt-get and root:" \
	       "apt-get install redis-server); the Redis store's tests will fail" >&2

# The dashboard is tested in a real headless Chromium (tests/browser.py), driven through
# chromedriver: Debian's chromium and chromium-driver are installed when missing. Those
# tests are never skipped: if they cannot be installed here, they fail, pointing back here.
chromium:
	@(command -v chromium >/dev/null && command -v chromedriver >/dev/null) || \
	  (command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  (apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null 2>&1 || \
	   (apt-get update -qq >/dev/null 2>&1 && \
	    apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null 2>&1)) && \
	  command -v chromedriver >/dev/null) || \
	  echo "error: chromium and chromedriver are not installed and could not be (it needs" \
	       "apt-get and root: apt-get install chromium chromium-driver); the dashboard's" \
	       "tests will fail" >&2

bench: $(SERVE_STAMP)  ## install wrk (apt-get install wrk) for a load client that is never the bottleneck
	$(BIN)/python bench/run.py $(ARGS)

# Bounded memory: a million mixed requests against `musicsim serve --max-tasks 10000`,
# RSS printed along the way (several minutes on two cores; ARGS="--requests 200000").
soak: $(SERVE_STAMP)
	$(BIN)/python bench/soak.py $(ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis
