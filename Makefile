# progressive-ladder. `make test` and `make reproduce` are all a new user needs: both set everything up first.
.PHONY: setup build test bench reproduce figure5 figure6 figure7 figure-conv-gamma figure-conv figure-alexnet doctor clean

# `make figure5 QUICK=1` runs the whole pipeline in minutes (few short epochs) to check a set-up.
QUICK_FLAG = $(if $(QUICK),--quick,)
# Runs side by side, each its own Python process: by default one per GPU over every visible GPU, else one per CPU core
# (pladder decides); PARALLEL=N puts N on each device (PARALLEL=1: one at a time), DEVICES=cuda:0,cuda:1 picks devices;
# BATCH_SEEDS=1 trains the seeds of each experiment together as one job (README, "Seeds together": how, and when that pays).
RUN_FLAGS = $(QUICK_FLAG) $(if $(PARALLEL),--parallel $(PARALLEL),) $(if $(DEVICES),--devices $(DEVICES),) \
	$(if $(BATCH_SEEDS),--batch-seeds,) --continue

setup:
	@bash scripts/setup.sh

build:
	@npm run --silent build

# Every suite: the TypeScript ones (through the real bridge) and the kernels' pytest suite, with the kernels' Python.
test: setup
	npx vitest run
	"$$(cat .cache/python)" -m pytest -q py_kernels/tests

bench: setup
	bin/pladder bench

doctor: setup
	bin/pladder doctor

reproduce: setup
	bin/pladder reproduce $(RUN_FLAGS)

figure5: setup
	bin/pladder figure experiments/figure5.yaml $(RUN_FLAGS)

figure6: setup
	bin/pladder figure experiments/figure6.yaml $(RUN_FLAGS)

figure7: setup
	bin/pladder figure experiments/figure7.yaml $(RUN_FLAGS)

figure-conv-gamma figure-conv figure-alexnet: setup
	bin/pladder figure experiments/$@.yaml $(RUN_FLAGS)

clean:
	rm -rf dist .cache
