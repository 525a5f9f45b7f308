# Two commands do everything on a fresh clone: `make run` and `make test` (each runs `make setup` first).
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON_VERSION := $(shell cat .python-version)
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.9
INSTALLED := $(VENV)/.installed
# The Android runtimes the tests load pushed models with, each in its own venv (each pins its own protobuf).
RUNTIMES_DIR := .venv-runtimes
RUNTIMES := mediapipe tflite-support
RUNTIME_STAMPS := $(RUNTIMES:%=$(RUNTIMES_DIR)/%/.installed)
FASHION_MNIST := /usr/share/datasets/fashion-mnist
DEMO_DATA := data/fashion-mnist
DATA ?= $(DEMO_DATA)
PER_CLASS ?= 300
CONFIG ?= $(if $(filter $(DEMO_DATA),$(DATA)),pipeline/profiles/demo.yaml,)
# The demo keeps its runs and registry apart from those of your own data (runs/, registry/), so its models never
# become a version, or the no-regression baseline, of yours.
DEMO_HOME := demo
PLACES ?= $(if $(filter $(DEMO_DATA),$(DATA)),--home $(DEMO_HOME)/runs --registry $(DEMO_HOME)/registry,)
ARGS ?=

IMAGE ?= mobilenet-pipeline:latest
ACCELERATOR ?= cpu

.PHONY: help setup system-packages run test test-quick lint format bench image push lock clean

help:
	@echo "make run    - set up if needed, then train, quantize and push MobileNet V1 and V2 on the built-in dataset"
	@echo "make test   - set up if needed, then run the tests (what CI runs)"
	@echo "make test-quick - the tests without the slow pipeline runs and long training, for iterating"
	@echo "make lint   - ruff's lint and format checks (part of make test); make format applies the formatter"
	@echo "make setup  - install system packages (apt), the pinned Python environment in $(VENV) and the Android"
	@echo "             runtimes the tests use (MediaPipe Tasks, the TFLite Task Library) in $(RUNTIMES_DIR)/"
	@echo "make image  - build the Kubeflow container image IMAGE=$(IMAGE) (kubeflow/Dockerfile; ACCELERATOR=gpu adds CUDA)"
	@echo "make push   - push IMAGE to its registry"
	@echo "make lock   - re-resolve requirements.in into requirements.lock"

setup: system-packages $(INSTALLED) $(RUNTIME_STAMPS)

# Debian packages: the Fashion-MNIST dataset and libusb (tflite-support loads libusb-1.0.so.0).
system-packages:
	@missing=""; \
	[ -f $(FASHION_MNIST)/train-images-idx3-ubyte.gz ] || missing="$$missing dataset-fashion-mnist"; \
	ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0' || missing="$$missing libusb-1.0-0"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
	if command -v apt-get >/dev/null 2>&1; then \
		echo "installing system packages:$$missing"; \
		$$sudo apt-get update -qq && $$sudo apt-get install -y -qq $$missing >/dev/null; \
	else \
		echo "warning: no apt-get here; install the equivalent of:$$missing by hand."; \
		echo "  Without dataset-fashion-mnist, 'make run' uses scikit-learn's digits dataset instead;"; \
		echo "  without libusb-1.0, TFLite metadata cannot be written (the TFLite step fails)."; \
	fi

# compileall: uv writes no .pyc by default, and with PYTHONDONTWRITEBYTECODE set (as here and in the image) every
# process would compile TensorFlow, TFX and Beam from source again: 38 s instead of 14 s to import the Kubeflow
# entrypoint. compileall (not uv's --compile-bytecode, which skips an up-to-date venv) also mends an older venv;
# the Makefile is a prerequisite so that a change to how the venv is installed reaches it.
$(INSTALLED): requirements.lock setup.py .python-version Makefile
	@python=""; \
	for candidate in python python3.10 python3; do \
		found=$$(command -v $$candidate) || continue; \
		case "$$($$found -c 'import platform; print(platform.python_version())' 2>/dev/null)" in \
			3.10.*) python=$$found; break;; esac; \
	done; \
	if [ -z "$$python" ]; then \
		echo "error: need Python 3.10 (TFX 1.16 supports 3.9 and 3.10; .python-version names $(PYTHON_VERSION)); none found as python, python3.10 or python3."; \
		echo "  Install one, e.g. 'uv python install 3.10' (then put it on PATH), 'pyenv install $(PYTHON_VERSION)', or 'apt-get install python3.10 python3.10-venv'."; \
		exit 1; \
	fi; \
	[ -x $(PY) ] || $$python -m venv $(VENV)
	@[ -x $(UV) ] || $(PY) -m pip install -q "uv==$(UV_VERSION)"
	$(UV) pip install -q --python $(PY) -r requirements.lock
	$(UV) pip install -q --python $(PY) --no-deps -e .
	$(PY) -m compileall -q -j 0 "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" >/dev/null
	@touch $@

$(RUNTIMES_DIR)/%/.installed: tests/runtimes/%.lock $(INSTALLED)
	@[ -x $(RUNTIMES_DIR)/$*/bin/python ] || $(UV) venv -q -p $(PY) $(RUNTIMES_DIR)/$*
	$(UV) pip install -q --python $(RUNTIMES_DIR)/$*/bin/python -r $<
	@touch $@

# The demo data is written only for the default DATA; a DATA of your own must exist (a typo is an error, not a new
# folder of Fashion-MNIST). CONFIG defaults to the demo's profile only with the demo data: photos get the defaults.
# The pipeline needs the project's venv only; the Android runtimes' venvs are the tests'.
run: system-packages $(INSTALLED)
	@if [ "$(DATA)" = "$(DEMO_DATA)" ] && [ ! -d "$(DATA)" ]; then \
		if [ -f $(FASHION_MNIST)/train-images-idx3-ubyte.gz ]; then \
			$(VENV)/bin/mobilenet-pipeline demo-data "$(DATA)" --per-class $(PER_CLASS); \
		else \
			echo "Fashion-MNIST is not installed; using scikit-learn's digits dataset"; \
			$(VENV)/bin/mobilenet-pipeline demo-data "$(DATA)" --dataset digits --per-class $(PER_CLASS); \
		fi; \
	elif [ ! -d "$(DATA)" ]; then \
		echo "error: DATA=$(DATA): no such folder (give a folder of class sub-folders of images)"; exit 2; \
	fi
	$(VENV)/bin/mobilenet-pipeline run --data "$(DATA)" $(if $(CONFIG),--config $(CONFIG)) $(PLACES) $(ARGS)

# Two pytest workers (pytest-xdist), each taking whole test files, so a module's pipeline fixture runs once.
test: setup lint
	$(VENV)/bin/pytest -q -n 2 --dist loadfile --durations=15 tests

# The quick tier: everything but the tests marked slow (whole pipeline runs, long training); for iterating.
test-quick: setup lint
	$(VENV)/bin/pytest -q -n 2 --dist loadfile -m "not slow" --durations=10 tests

# ruff (pinned in requirements.lock, settings in ruff.toml): the lint rules and the formatter's layout.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The benchmark: writes bench/results/results.{json,md} and plots (bench/results/work/ holds its runs) and rewrites
# docs/benchmarks.md; `ARGS=--quick` for a smoke test.
bench: setup
	$(PY) -m bench --docs docs/benchmarks.md $(ARGS)

image:
	DOCKER_BUILDKIT=1 docker build -f kubeflow/Dockerfile --build-arg ACCELERATOR=$(ACCELERATOR) -t "$(IMAGE)" .

push:
	docker push "$(IMAGE)"

lock: $(INSTALLED)
	$(UV) pip compile -q requirements.in -c ../shared/stack/verified-freeze-py310.txt --python-version 3.10 \
		--python-platform x86_64-manylinux_2_28 -o requirements.lock
	$(UV) pip compile -q kubeflow/requirements-gpu.in -c requirements.lock --python-version 3.10 \
		--python-platform x86_64-manylinux_2_28 -o kubeflow/requirements-gpu.lock

clean:
	rm -rf runs registry data $(DEMO_HOME) .pytest_cache $(RUNTIMES_DIR)
