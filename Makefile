# The two commands of the README: `make demo` and `make test`. Both install what they need first.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
STAMP := .install.stamp
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1

.PHONY: install demo test serve bench clean

$(STAMP): pyproject.toml
	# The CPU build of torch first: an open range would pull a multi-GB CUDA build.
	$(PYTHON) -c "import torch" 2>/dev/null || $(PIP) install --quiet "torch==2.13.0" || $(PIP) install --quiet torch --index-url https://download.pytorch.org/whl/cpu
	$(PIP) install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PYTHON) -m flows.cli demo --out demo-output

test: $(STAMP)
	$(PYTHON) -m pytest -q tests

# A Prefect server, a worker and the deployments on this machine; restores what lands in
# serve-data/incoming/ (docs/operations.md). Options: make serve SERVE_ARGS="--watch s3://bucket/incoming"
serve: $(STAMP)
	$(PYTHON) -m flows.cli serve $(SERVE_ARGS)

bench: $(STAMP)
	$(PYTHON) benchmarks/bench_restore_throughput.py
	$(PYTHON) benchmarks/bench_memory_scaling.py

clean:
	rm -rf demo-output serve-data prefect-server.log $(STAMP) .pytest_cache
