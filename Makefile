# onefile - the two commands of the README and the developer targets around them.
#   make        release build at build/onefile (installs missing build packages)
#   make run    build, migrate, serve on 127.0.0.1:8080 with ./data/onefile.db
#   make test   ASan+UBSan build, every test through CTest
#   make bench  benchmarks, figures as ratios to a reference measured in the same run
#   make lint   clang-format --dry-run and clang-tidy
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_ARGS ?=

.PHONY: all build deps test-deps run test bench lint clean

all: build

deps:
	@scripts/install-deps build

test-deps:
	@scripts/install-deps test

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build -j $(JOBS)

run: build
	@scripts/run

test: test-deps
	@cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DONEFILE_SANITIZE=ON -DONEFILE_TESTS=ON >/dev/null
	@cmake --build build-test -j $(JOBS)
	@cd build-test && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

bench: build
	@bench/run

lint:
	@clang-format --dry-run --Werror $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c')
	@clang-tidy -p build $$(git ls-files 'src/*.c') -- 2>/dev/null

clean:
	rm -rf build build-test
