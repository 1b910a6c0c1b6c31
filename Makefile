# Self-documenting Makefile: `make` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
ETL := $(VENV)/bin/etl
STAMP := $(VENV)/.installed
RECORDS ?= 10000
export ETL_LAKE_ROOT ?= $(CURDIR)/lake

.DEFAULT_GOAL := help
CDK ?= npx --yes aws-cdk@2.1148.1
STAGE ?= dev
CDK_APP = --app "$(abspath $(PY)) app.py" -c stage=$(STAGE) $(if $(EMAIL),-c notificationEmail=$(EMAIL))
INFRA_STAMP := $(VENV)/.infra-installed

.PHONY: help install run test test-fast fuzz lint check reliability bench synth diff deploy destroy clean-lake clean

help: ## list the targets
	@# $$(NAME) in a description shows the variable's value, so the defaults are what help prints.
	@RECORDS='$(RECORDS)' STAGE='$(STAGE)' awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / { \
		text = $$2; \
		while (match(text, /\$$\([A-Z_]+\)/)) \
			text = substr(text, 1, RSTART - 1) ENVIRON[substr(text, RSTART + 2, RLENGTH - 3)] substr(text, RSTART + RLENGTH); \
		printf "  \033[1m%-12s\033[0m %s\n", $$1, text }' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml jars/pom.xml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11" >&2; exit 1; }
	@command -v java >/dev/null || { echo "error: java not found; install Java 17 (Spark needs it)" >&2; exit 1; }
	@command -v mvn >/dev/null || { echo "error: mvn not found; install Maven (it fetches the Iceberg jars once)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@# The Spark session's JVM libraries (Iceberg, the catalog's JDBC driver): fetched once, loaded from here.
	rm -rf $(VENV)/jars
	mvn --batch-mode --quiet -f jars/pom.xml dependency:copy-dependencies -DoutputDirectory=$(abspath $(VENV))/jars
	@touch $(STAMP)

# The pipeline's own Spark expressions (jvm/, Scala), compiled against this installation's Spark jars with the
# Scala compiler Maven fetches once (jars/scalac/pom.xml); the local session loads the jar from .venv/jars.
EXT_JAR := $(VENV)/jars/etl-spark-ext.jar
SCALA_SOURCES := $(shell find jvm/src -name '*.scala')
$(EXT_JAR): $(STAMP) jars/scalac/pom.xml $(SCALA_SOURCES)
	rm -rf $(VENV)/scalac $(VENV)/jvm-classes && mkdir -p $(VENV)/jvm-classes
	mvn --batch-mode --quiet -f jars/scalac/pom.xml dependency:copy-dependencies -DoutputDirectory=$(abspath $(VENV))/scalac
	spark_jars=$$($(PY) -c 'import pathlib, pyspark; print(pathlib.Path(pyspark.__file__).parent / "jars")') && \
	java -cp '$(VENV)/scalac/*' scala.tools.nsc.Main -release 17 -deprecation -feature -Xfatal-warnings \
		-classpath "$$(printf '%s:' "$$spark_jars"/*.jar)" -d $(VENV)/jvm-classes $(SCALA_SOURCES)
	jar --create --file $@ -C $(VENV)/jvm-classes .

$(INFRA_STAMP): pyproject.toml jars/aws/pom.xml $(EXT_JAR)
	$(PY) -m pip install --quiet -e '.[dev,infra]'
	@# The AWS code paths' JVM libraries (S3A, Iceberg's GlueCatalog): the emulated-AWS tests load them.
	rm -rf $(VENV)/jars-aws
	mvn --batch-mode --quiet -f jars/aws/pom.xml dependency:copy-dependencies -DoutputDirectory=$(abspath $(VENV))/jars-aws
	@touch $(INFRA_STAMP)

install: $(EXT_JAR) ## create .venv and install the package with its dev tools

run: $(EXT_JAR) ## generate RECORDS=$(RECORDS) shipments, run the whole pipeline locally, show the notification with the totals
	$(ETL) generate --records $(RECORDS)
	$(ETL) run

test: $(INFRA_STAMP) ## run every test (unit, functional with local Spark, infra); e2e against AWS is deselected
	$(PY) -m pytest -q

test-fast: $(INFRA_STAMP) ## only the tests that need no Spark
	$(PY) -m pytest -q -m "not slow"

lint: $(INFRA_STAMP) ## ruff and mypy
	$(VENV)/bin/ruff check src tests glue_jobs lambdas infra
	$(VENV)/bin/mypy

fuzz: $(EXT_JAR) ## property tests with new random examples (HYPOTHESIS_PROFILE=fuzz); keep each failure as an @example
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q -m "not slow" tests/unit

check: lint test ## lint and test: the gate before a commit

reliability: $(EXT_JAR) ## run every bad-input case through the local pipeline: case, outcome, records in, loaded, quarantined, lost
	$(PY) -m etl.reliability

bench: $(EXT_JAR) ## benchmark the pipeline vs DuckDB, pandas and plain Spark on clean and realistic files (SIZES=100k,1m,5m REPS=3 INPUTS=clean,realistic GROWTH=0,1m,5m CSV=100k,1m); see BENCHMARKS.md
	$(PY) -m bench $(if $(SIZES),--sizes $(SIZES)) $(if $(REPS),--reps $(REPS)) \
		$(if $(ENGINES),--engines $(ENGINES)) $(if $(INPUTS),--inputs $(INPUTS)) $(if $(E2E),--e2e $(E2E)) \
		$(if $(GROWTH),--growth $(GROWTH)) $(if $(CSV),--csv-sizes $(CSV))

synth: $(INFRA_STAMP) ## synthesize the AWS stack into infra/cdk.out/ (offline; runs cdk-nag)
	cd infra && $(CDK) synth --no-notices --quiet $(CDK_APP)

diff: $(INFRA_STAMP) ## compare with the deployed stack (needs AWS credentials)
	cd infra && $(CDK) diff --no-notices $(CDK_APP)

deploy: $(INFRA_STAMP) ## deploy the stack STAGE=$(STAGE) (EMAIL=you@example.com subscribes to notifications)
	cd infra && $(CDK) deploy --no-notices $(CDK_APP)

destroy: $(INFRA_STAMP) ## delete the stack (data buckets are kept)
	cd infra && $(CDK) destroy --no-notices $(CDK_APP)

clean-lake: ## delete the local lake (all zones, catalog, runs, notifications)
	rm -rf lake

clean: clean-lake ## delete the lake and the virtual environment
	rm -rf $(VENV)
