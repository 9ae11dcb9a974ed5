# progressive-ladder. `make test` and `make reproduce` are all a new user needs: both set everything up first.
.PHONY: setup build test bench reproduce figure5 figure7 doctor clean

# `make figure5 QUICK=1` runs the whole pipeline in minutes (few short epochs) to check a set-up.
QUICK_FLAG = $(if $(QUICK),--quick,)

setup:
	@bash scripts/setup.sh

build:
	@npm run --silent build

test: setup
	npx vitest run

bench: setup
	bin/pladder bench

doctor: setup
	bin/pladder doctor

reproduce: setup
	bin/pladder reproduce $(QUICK_FLAG)

figure5: setup
	bin/pladder figure experiments/figure5.yaml $(QUICK_FLAG)

figure7: setup
	bin/pladder figure experiments/figure7.yaml $(QUICK_FLAG)

clean:
	rm -rf dist .cache
