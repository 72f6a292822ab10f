# sslexp: every target sets itself up first (a .venv with pip, or the active conda env).
#   make demo    the main job: the demo sweep offline on digits, then the report
#   make test    ruff, then the whole test suite (what CI runs)
#   make test-fast  the suite without slow tests: the edit loop
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
# Inside an activated conda env (other than base) use it; otherwise a local venv.
ifneq ($(filter-out base,$(CONDA_DEFAULT_ENV)),)
  PYTHON := python
  STAMP := .conda-installed
else
  PYTHON := $(VENV)/bin/python
  STAMP := $(VENV)/.installed
endif
SSLEXP := $(PYTHON) -m sslexp
# The TensorFlow build: gpu where an NVIDIA driver answers, cpu elsewhere.
TF_BUILD ?= $(shell nvidia-smi -L >/dev/null 2>&1 && echo gpu || echo cpu)

SWEEP ?= sweeps/demo.yaml
SWEEP_DIR ?= sweep-runs/$(basename $(notdir $(SWEEP)))
WORKERS ?= 1
GPUS ?=
SWEEP_ID ?=
ARGS ?=

STUDY_WORKERS ?= 2
DEMO_WORKERS ?= 2

.PHONY: help setup test test-fast lint format demo pretrain train sweep agents sync report bench tune study volume volume-epochs clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

setup: $(STAMP)  ## create .venv (or use the active conda env) and install sslexp

$(STAMP): pyproject.toml
	@if [ "$(STAMP)" = "$(VENV)/.installed" ] && [ ! -x "$(PYTHON)" ]; then python3 -m venv $(VENV); fi
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e ".[$(TF_BUILD),dev]"
	@# Fashion-MNIST from Debian where apt works as root (the offline benchmark's data).
	@if [ ! -d /usr/share/datasets/fashion-mnist ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1)) \
		|| echo "note: could not install dataset-fashion-mnist; fashion_mnist will use tfds"; fi
	touch $(STAMP)

LINTED := sslexp tests benchmarks

test: setup lint  ## ruff (format and lint), then every test: what CI runs
	$(PYTHON) -m pytest

test-fast: setup  ## the suite without slow tests (processes, real training, bench): the edit loop
	$(PYTHON) -m pytest -m "not slow"

lint: setup  ## ruff: formatting and lint checks, changing nothing
	$(PYTHON) -m ruff format --check $(LINTED)
	$(PYTHON) -m ruff check $(LINTED)

format: setup  ## ruff: format the code and apply the safe lint fixes
	$(PYTHON) -m ruff format $(LINTED)
	$(PYTHON) -m ruff check --fix $(LINTED)

demo: setup  ## the main job, offline: demo sweep on digits (pretrain, ssl + scratch runs), then the report
	WANDB_MODE=$${WANDB_MODE:-offline} $(SSLEXP) sweep local sweeps/demo.yaml --dir sweep-runs/demo --workers $(DEMO_WORKERS)
	$(SSLEXP) report sweep-runs/demo

pretrain: setup  ## pretrain every backbone a sweep's ssl runs use (SWEEP=sweeps/demo.yaml; online: SWEEP_ID=entity/project/id)
	$(SSLEXP) sweep pretrain $(SWEEP) $(if $(SWEEP_ID),--sweep $(SWEEP_ID))

train: setup  ## one downstream run (ARGS="--method ssl --label-fraction 0.05 ...")
	$(SSLEXP) train $(ARGS)

sweep: setup  ## run a sweep offline (SWEEP=sweeps/demo.yaml WORKERS=1 GPUS=0,1)
	$(SSLEXP) sweep local $(SWEEP) --dir $(SWEEP_DIR) --workers $(WORKERS) $(if $(GPUS),--gpus $(GPUS))

agents: setup  ## agents for an online sweep, one per GPU (SWEEP_ID=... GPUS=0,1,2,3)
	@test -n "$(SWEEP_ID)" || { echo "set SWEEP_ID=entity/project/id (from sslexp sweep create)"; exit 2; }
	$(SSLEXP) sweep agents $(SWEEP_ID) $(if $(GPUS),--gpus $(GPUS))

sync: setup  ## upload a local sweep's offline runs (SWEEP_DIR=sweep-runs/demo)
	$(SSLEXP) sweep sync $(SWEEP_DIR)

report: setup  ## the comparison report of a sweep (SWEEP_DIR=sweep-runs/demo)
	$(SSLEXP) report $(SWEEP_DIR)

bench: setup  ## speed per backend, start-up, a demo run second by second, demo sweep rounds, GPU (ARGS=--quick)
	$(PYTHON) benchmarks/bench.py $(ARGS)

TUNED ?= sweeps/tuned/fashion_mnist.yaml

tune: setup  ## tune ssl and scratch on the tuning fold (the same grid each): winners, docs/results page
	WANDB_MODE=$${WANDB_MODE:-offline} $(SSLEXP) sweep local sweeps/tuning_ssl.yaml --dir sweep-runs/tuning_ssl --workers $(STUDY_WORKERS)
	WANDB_MODE=$${WANDB_MODE:-offline} $(SSLEXP) sweep local sweeps/tuning_scratch.yaml --dir sweep-runs/tuning_scratch --workers $(STUDY_WORKERS)
	$(SSLEXP) sweep tune-winners sweep-runs/tuning_ssl sweep-runs/tuning_scratch --out $(TUNED) \
		--page docs/results/tuning.md --page-command "make tune"

study: setup  ## the Fashion-MNIST study, offline (under an hour on 2 cores): sweep, report, docs/results page
	@test -f $(TUNED) || { echo "$(TUNED) is missing: run make tune first (the study uses its winners)"; exit 2; }
	WANDB_MODE=$${WANDB_MODE:-offline} $(SSLEXP) sweep local sweeps/fashion_mnist.yaml --dir sweep-runs/fashion_mnist --workers $(STUDY_WORKERS)
	$(SSLEXP) report sweep-runs/fashion_mnist --page docs/results/fashion_mnist.md --page-command "make study" \
		--previous docs/results/fashion_mnist_untuned_comparison.csv \
		--previous-label "the same grid before tuning: 5 folds, lr 0.002 for both arms, no augmentation, no weight decay; revision aa52816"

volume: setup  ## ssl against unlabelled volume (1.5k-60k images, matched updates), scratch from `make study`
	@test -d sweep-runs/fashion_mnist || { echo "sweep-runs/fashion_mnist is missing: run make study first (its scratch runs are the baseline)"; exit 2; }
	WANDB_MODE=$${WANDB_MODE:-offline} $(SSLEXP) sweep local sweeps/unlabeled_volume.yaml --dir sweep-runs/unlabeled_volume --workers $(STUDY_WORKERS)
	$(SSLEXP) report sweep-runs/unlabeled_volume --baseline sweep-runs/fashion_mnist \
		--page docs/results/unlabeled_volume.md --page-command "make volume"

volume-epochs: setup  ## the second volume series: the same 3 pretext epochs at every volume (60 labels, 5 folds)
	@test -d sweep-runs/fashion_mnist || { echo "sweep-runs/fashion_mnist is missing: run make study first (its scratch runs are the baseline)"; exit 2; }
	WANDB_MODE=$${WANDB_MODE:-offline} $(SSLEXP) sweep local sweeps/unlabeled_volume_epochs.yaml --dir sweep-runs/unlabeled_volume_epochs --workers $(STUDY_WORKERS)
	$(SSLEXP) report sweep-runs/unlabeled_volume_epochs --baseline sweep-runs/fashion_mnist \
		--page docs/results/unlabeled_volume_epochs.md --page-command "make volume-epochs"

clean:  ## remove run outputs and caches (keeps .venv)
	rm -rf runs sweep-runs artifacts .cache/sslexp wandb .pytest_cache
