# Thin wrapper over CMake: the two commands the README promises, plus a few helpers.
BUILD ?= build
JOBS ?= $(shell nproc)
export RECUR_DATA ?= $(abspath ../shared/data)
export RECUR_VECTORS ?= $(abspath ../shared/vectors)

.PHONY: all deps build test demo bench asan-test clean

all: build

deps:
	bash scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# Build and run every test.
test: deps build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Install dependencies, build, and run the main job on the default data.
demo: deps build
	./$(BUILD)/recur demo

bench: deps build
	./$(BUILD)/bench/bench_gemm

# The test suite under AddressSanitizer and UndefinedBehaviorSanitizer.
asan-test: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DRECUR_SANITIZE=ON -DRECUR_NATIVE=ON -DRECUR_BUILD_BENCH=OFF
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD) build-asan
