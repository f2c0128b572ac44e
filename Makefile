# mining_rover: the two commands a new user needs are `make sim` and `make test`.
# Everything else (venv, bench, colcon, clean) is here for developers.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
WORLD ?= moon_south_pole
DURATION ?= 600
OUT ?= out/sim
BENCH_JSON ?= bench/results/bench.json
# Keep DDS discovery on this machine; a rover on a real network keeps the default.
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl

.PHONY: all venv sysdeps sim test bench colcon clean help

all: test

help:
	@echo "make sim    - build .venv if needed and run a $(DURATION) s embedded lunar mining mission (report in $(OUT))"
	@echo "make test   - build .venv if needed and run the whole test suite"
	@echo "make venv   - only build the environment"
	@echo "make bench  - run every benchmark, table + $(BENCH_JSON)"
	@echo "make colcon - colcon-build the package and check the installed ROS layout"
	@echo "make clean  - remove .venv and build outputs"

venv: $(STAMP)

# System libraries that wheels need but do not ship: open3d links libusb-1.0,
# MuJoCo renders off-screen through EGL (Mesa). Installed with apt-get when we are
# root, otherwise named so the user can install them.
sysdeps:
	@./scripts/sysdeps.sh

$(STAMP): requirements.txt setup.py setup.cfg package.xml | sysdeps
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# pip >= 21.3 installs editable packages through PEP 660, so console scripts land in
	@# .venv/bin; an older pip would run `setup.py develop`, which follows setup.cfg's
	@# ROS layout (lib/mining_rover) instead.
	$(PY) -m pip install -q --disable-pip-version-check pip==26.3
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

sim: $(STAMP)
	ROS_DOMAIN_ID=$${ROS_DOMAIN_ID:-$$(( $$$$ % 90 + 10 ))} $(VENV)/bin/mining-rover sim --world $(WORLD) --duration $(DURATION) --out $(OUT)

test: $(STAMP)
	@set +e; $(PY) -m pytest test; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "ERROR: pytest collected no tests" >&2; exit 1; fi; exit $$rc

bench: $(STAMP)
	ROS_DOMAIN_ID=$${ROS_DOMAIN_ID:-$$(( $$$$ % 90 + 10 ))} $(VENV)/bin/mining-rover bench --json $(BENCH_JSON)

colcon: $(STAMP)
	$(PY) -m pytest test/test_colcon_layout.py

clean:
	rm -rf $(VENV) build install log out bench/results .pytest_cache *.egg-info
