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

.PHONY: help install run run-scaled shell train validate test test-unit test-nlu test-stories test-e2e test-scale benchmark purge token clean

help:
	@echo "make run    - set up, train if needed, start BackCheck on http://$(HOST):$(PORT)"
	@echo "make run-scaled - the production profile: PostgreSQL, Redis, several Rasa instances behind nginx"
	@echo "make test   - set up and run every test"
	@echo "make shell  - chat with the running assistant in the terminal"
	@echo "make token  - print the HTTP API token (RASA_AUTH_TOKEN, or the one generated into .secrets/)"
	@echo "make purge  - delete conversations older than BACKCHECK_RETENTION_DAYS (default 30)"

$(STAMPS)/venv: requirements.txt constraints.txt scripts/find-python.sh
	@mkdir -p $(STAMPS)
	@test -x $(PY) || "$$(scripts/find-python.sh)" -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip==24.0
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(RASA) telemetry disable >/dev/null 2>&1 || true
	@touch $@

# Web widget assets (rasa-webchat) from npm, served locally by the Rasa server.
$(STAMPS)/web: web/package.json web/package-lock.json
	@mkdir -p $(STAMPS)
	npm ci --prefix web --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

# Debian's chromium for the browser test (as root, when it is missing).
$(STAMPS)/browser:
	@mkdir -p $(STAMPS)
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  { echo "Install Debian's chromium (apt-get install chromium) for the browser test." >&2; exit 1; }
	@touch $@

install: $(STAMPS)/venv $(STAMPS)/web

$(MODEL): $(STAMPS)/venv $(MODEL_INPUTS)
	@start=$$(date +%s); \
	$(RASA) train --fixed-model-name backcheck --out models --quiet && \
	echo "trained $(MODEL) in $$(( $$(date +%s) - start )) s"
	@touch $(MODEL)

train: $(MODEL)

# The action server restarts whenever it dies; the API needs a token (RASA_AUTH_TOKEN, else generated once into
# .secrets/); expired conversations are purged at start-up and every 24 h. See backcheck/server.py.
run: $(MODEL) $(STAMPS)/web
	@echo "Starting the action server on :$(ACTIONS_PORT) and Rasa on http://$(HOST):$(PORT) ..."
	@echo "Talk to it:  open http://$(HOST):$(PORT)/chat/  (web widget),  make shell,  or"
	@echo "  curl -s localhost:$(PORT)/webhooks/rest/webhook -d '{\"sender\":\"me\",\"message\":\"tight lower back after deadlifts\"}'"
	@echo "HTTP API: add ?token=\$$(make -s token) to each call"
	@trap 'kill 0' EXIT INT TERM; \
	$(PY) -m backcheck.privacy.store purge --every 24 --endpoints endpoints.yml & \
	$(PY) -m backcheck.server supervise -- $(PY) -m backcheck.server actions --port $(ACTIONS_PORT) --quiet & \
	$(PY) -m backcheck.server rasa --model $(MODEL) --enable-api --interface $(HOST) --port $(PORT) \
	  --credentials credentials.yml --endpoints endpoints.yml

# Production profile on this machine: PostgreSQL, Redis (Debian's, installed when missing), several Rasa instances
# and action servers behind nginx on :$(PORT). See backcheck/scale/profile.py for the settings.
run-scaled: $(MODEL) $(STAMPS)/web
	PORT=$(PORT) $(PY) -m backcheck.scale.profile

token: $(STAMPS)/venv
	@$(PY) -c "from backcheck.server import secret; print(secret('rasa_auth_token', 'RASA_AUTH_TOKEN'))"

purge: $(STAMPS)/venv
	$(PY) -m backcheck.privacy.store purge --endpoints endpoints.yml

shell: $(STAMPS)/venv
	$(PY) -m scripts.chat --url http://localhost:$(PORT)

validate: $(STAMPS)/venv
	$(RASA) data validate --fail-on-warnings --quiet

test-unit: $(STAMPS)/venv
	$(PY) -m pytest tests --ignore=tests/e2e --ignore=tests/scale -q

test-nlu: $(MODEL)
	$(RASA) test nlu --model $(MODEL) --nlu tests/nlu_holdout.yml --out results/nlu --quiet
	$(PY) -c "import json; r=json.load(open('results/nlu/intent_report.json')); print('intent F1 (weighted):', round(r['weighted avg']['f1-score'], 3))"

test-stories: $(MODEL)
	$(RASA) test core --model $(MODEL) --stories tests/test_stories.yml --fail-on-prediction-errors --out results/core --quiet

test-e2e: $(MODEL) $(STAMPS)/web $(STAMPS)/browser
	$(PY) -m pytest tests/e2e -q

# The production profile against real PostgreSQL, Redis and nginx (Debian's; installed as root when missing).
test-scale: $(MODEL) $(STAMPS)/web
	$(PY) -m pytest tests/scale -q

test: validate test-unit test-nlu test-stories test-e2e test-scale

benchmark: $(MODEL)
	$(PY) -m scripts.benchmark --baseline --scaled

clean:
	rm -rf $(STAMPS) models results
