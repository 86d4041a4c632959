# BackCheck: `make run` starts the assistant, `make test` runs every test. Both set everything up first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV     := .venv
PY       := $(VENV)/bin/python
RASA     := $(VENV)/bin/rasa
STAMPS   := .stamps
MODEL    := models/backcheck.tar.gz
HOST     ?= 127.0.0.1
PORT     ?= 5005
ACTIONS_PORT ?= 5055

export PYTHONPATH := $(CURDIR)
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 3
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export PYTHONWARNINGS := ignore::DeprecationWarning

MODEL_INPUTS := config.yml domain.yml $(wildcard data/*.yml) $(shell find backcheck/nlu -type f -not -path '*/__pycache__/*' 2>/dev/null)

.PHONY: help install run shell train validate test test-unit test-nlu test-stories test-e2e benchmark clean

help:
	@echo "make run    - set up, train if needed, start BackCheck on http://$(HOST):$(PORT)"
	@echo "make test   - set up and run every test"
	@echo "make shell  - chat with the running assistant in the terminal"

$(STAMPS)/venv: requirements.txt constraints.txt scripts/find-python.sh
	@mkdir -p $(STAMPS)
	@test -x $(PY) || "$$(scripts/find-python.sh)" -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip==24.0
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(RASA) telemetry disable >/dev/null 2>&1 || true
	@touch $@

install: $(STAMPS)/venv

$(MODEL): $(STAMPS)/venv $(MODEL_INPUTS)
	@start=$$(date +%s); \
	$(RASA) train --fixed-model-name backcheck --out models --quiet && \
	echo "trained $(MODEL) in $$(( $$(date +%s) - start )) s"
	@touch $(MODEL)

train: $(MODEL)

run: $(MODEL)
	@echo "Starting the action server on :$(ACTIONS_PORT) and Rasa on http://$(HOST):$(PORT) ..."
	@echo "Talk to it:  make shell   or"
	@echo "  curl -s localhost:$(PORT)/webhooks/rest/webhook -d '{\"sender\":\"me\",\"message\":\"tight lower back after deadlifts\"}'"
	@trap 'kill 0' EXIT INT TERM; \
	$(RASA) run actions --actions actions --port $(ACTIONS_PORT) --quiet & \
	$(RASA) run --model $(MODEL) --enable-api --cors '*' --interface $(HOST) --port $(PORT) \
	  --credentials credentials.yml --endpoints endpoints.yml

shell: $(STAMPS)/venv
	$(PY) -m scripts.chat --url http://localhost:$(PORT)

validate: $(STAMPS)/venv
	$(RASA) data validate --fail-on-warnings --quiet

test-unit: $(STAMPS)/venv
	$(PY) -m pytest tests --ignore=tests/e2e -q

test-nlu: $(MODEL)
	$(RASA) test nlu --model $(MODEL) --nlu tests/nlu_holdout.yml --out results/nlu --quiet
	$(PY) -c "import json; r=json.load(open('results/nlu/intent_report.json')); print('intent F1 (weighted):', round(r['weighted avg']['f1-score'], 3))"

test-stories: $(MODEL)
	$(RASA) test core --model $(MODEL) --stories tests/test_stories.yml --fail-on-prediction-errors --out results/core --quiet

test-e2e: $(MODEL)
	$(PY) -m pytest tests/e2e -q

test: validate test-unit test-nlu test-stories test-e2e

benchmark: $(MODEL)
	$(PY) -m scripts.benchmark

clean:
	rm -rf $(STAMPS) models results
