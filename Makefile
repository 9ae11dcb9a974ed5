# progressive-ladder. `make test` and `make reproduce` are all a new user needs: both set everything up first.
.PHONY: setup build test bench reproduce doctor clean

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
	bin/pladder reproduce

clean:
	rm -rf dist .cache
