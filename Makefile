# Two commands set everything up on a fresh machine:  `make demo`  and  `make test`.
# Each installs what it needs first (a virtual environment from requirements.lock).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Apache Superset has its own environment: its pins (SQLAlchemy 1.4, pandas 2.1, numpy 1.26) conflict with ours.
SUPERSET_VENV  := .venv-superset
SUPERSET_STAMP := $(SUPERSET_VENV)/.installed
# sqlfluff has its own environment too: sqlfluff 4.4 needs click < 8.5, the platform pins click 8.5.1.
SQLFLUFF_VENV  := .venv-sqlfluff
SQLFLUFF_STAMP := $(SQLFLUFF_VENV)/.installed

export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := false

.PHONY: install jars dashboards browser dagster-manifest schedule dbt-lint dbt-ci cdk cloud-artifacts cloud-synth demo test test-fast lint bench notebooks clean

install: $(STAMP)

# Spark's S3A connector (hadoop-aws + AWS SDK bundle), fetched with Maven once per machine into
# ~/.cache/group-lake (outside git). Only S3 lakes need it; the tests run Spark on SeaweedFS.
jars: $(STAMP)
	$(BIN)/python -m transforms.jars > /dev/null

# The AWS CDK CLI (`cdk synth`, `cdk deploy`), pinned in infra/cloud/package-lock.json, into
# infra/cloud/node_modules (outside git). The tests run `cdk synth` with it, offline.
CDK_STAMP := infra/cloud/node_modules/.installed
cdk: $(CDK_STAMP)

$(CDK_STAMP): infra/cloud/package.json infra/cloud/package-lock.json
	npm ci --prefix infra/cloud --no-audit --no-fund --loglevel=error
	touch $(CDK_STAMP)

# The cloud job artifacts into build/ (outside git): the EMR job archive, the export image's context.
cloud-artifacts: $(STAMP)
	$(BIN)/python -m infra.cloud.artifacts

# The CloudFormation template into cdk.out/, offline (no AWS account needed).
cloud-synth: $(STAMP)
	$(BIN)/python -m infra.cloud synth

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# Superset for `lake dashboards` (the lock file is complete: no resolver run, a few minutes the first time).
dashboards: $(SUPERSET_STAMP)

$(SUPERSET_STAMP): dashboards/requirements-superset.lock
	$(PYTHON) -m venv $(SUPERSET_VENV)
	$(SUPERSET_VENV)/bin/pip install --quiet --no-deps -r dashboards/requirements-superset.lock
	touch $(SUPERSET_STAMP)

# Headless Chromium and its driver from Debian, for the tests that open the dashboards as a person would.
browser:
	@test -x /usr/bin/chromedriver || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends -o DPkg::Lock::Timeout=600 chromium chromium-driver; }

# The dbt manifest the Dagster definitions read (build/dbt/manifest.json): parsed once here, not at every start.
dagster-manifest: $(STAMP)
	$(BIN)/python -m orchestration.manifest

# The local scheduler: Dagster webserver and daemon on 127.0.0.1 (`lake schedule down` stops them).
schedule: dagster-manifest
	$(BIN)/lake schedule up

$(SQLFLUFF_STAMP): orchestration/requirements-sqlfluff.lock
	$(PYTHON) -m venv $(SQLFLUFF_VENV)
	$(SQLFLUFF_VENV)/bin/pip install --quiet --no-deps -r orchestration/requirements-sqlfluff.lock
	touch $(SQLFLUFF_STAMP)

# SQL style of the dbt models (models/.sqlfluff: dialect duckdb, templater dbt); the profile needs a DuckDB path.
dbt-lint: $(SQLFLUFF_STAMP)
	mkdir -p build/dbt
	cd models && DO_NOT_TRACK=1 LAKE_MARTS_DB=$(CURDIR)/build/dbt/lint.duckdb ../$(SQLFLUFF_VENV)/bin/sqlfluff lint models

# dbt in CI: build and test every model on a generated sample, then slim CI (state:modified+) against the
# recorded manifest (DBT_STATE, else models/ at DBT_BASE_REF, default main), then sqlfluff.
dbt-ci: $(STAMP)
	$(BIN)/python -m orchestration.dbt_ci build
	$(BIN)/python -m orchestration.dbt_ci slim
	$(MAKE) dbt-lint

demo: $(STAMP) dashboards
	$(BIN)/lake demo

# ruff and sqlfluff, the whole suite, then dbt's CI job (sample build and tests; slim CI: what this commit changed)
test: $(STAMP) jars dashboards browser cdk $(SQLFLUFF_STAMP)
	$(BIN)/ruff check .
	$(MAKE) dbt-lint
	$(BIN)/pytest
	$(BIN)/python -m orchestration.dbt_ci build
	DBT_BASE_REF=HEAD~1 $(BIN)/python -m orchestration.dbt_ci slim  # the models this commit changed

test-fast: $(STAMP)
	$(BIN)/pytest -m "not integration"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# JupyterLab on 127.0.0.1 over notebooks/ (the marts of LAKE_URI, default ./.lake)
notebooks: $(STAMP)
	$(BIN)/lake notebooks

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf .lake $(VENV) $(SUPERSET_VENV) $(SQLFLUFF_VENV) build cdk.out infra/cloud/node_modules
