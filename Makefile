# Thin wrapper over CMake: the two commands the README promises, plus a few helpers.
BUILD ?= build
JOBS ?= $(shell nproc)
export RECUR_DATA ?= $(abspath ../shared/data)
export RECUR_VECTORS ?= $(abspath ../shared/vectors)

# WERROR=ON turns warnings into errors (CI sets it).
WERROR ?= OFF

.PHONY: all deps build cli test demo bench install-check format-check fuzz asan-test tsan-test cross-test clean

all: build

deps:
	bash scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DRECUR_WERROR=$(WERROR)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The library and the command-line tool only (what the demo needs; tests and benchmarks not).
cli: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target recur_cli

# Build and run every test.
test: deps build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Install dependencies, build, and run the main job on the default data.
demo: deps cli
	./$(BUILD)/recur demo

# Install into a scratch prefix and build an out-of-tree program against it (CMake and pkg-config).
install-check: build
	bash scripts/check-install.sh $(BUILD)

# Every libFuzzer target in fuzz/ for FUZZ_SECONDS each (clang 16: scripts/install-deps.sh --fuzz).
FUZZ_SECONDS ?= 30
fuzz:
	bash scripts/install-deps.sh --fuzz
	bash scripts/fuzz.sh $(FUZZ_SECONDS)

# clang-format --dry-run --Werror over every tracked C++ file (.clang-format).
format-check:
	bash scripts/check-format.sh

bench: deps build
	./$(BUILD)/bench/bench_gemm

# The test suite under AddressSanitizer and UndefinedBehaviorSanitizer. Built without MPI: the
# sanitizers cannot run the mpirun test anyway (tests/CMakeLists.txt), and this way the build without
# MPI, and its refusal to train under a launcher (test_launcher_refusal), is tested too.
asan-test: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DRECUR_SANITIZE=ON -DRECUR_WITH_MPI=OFF -DRECUR_BUILD_BENCH=OFF -DRECUR_WERROR=$(WERROR)
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS)

# The tests that run recur's own threads (row blocks, split GEMMs, the fused head, generation's
# helper thread, the translation decoder's, data-parallel ranks as threads) under ThreadSanitizer.
# Built for this CPU only: threads race the same way whichever SIMD target runs, and one target compiles in a fraction of the time.
TSAN_TESTS = test_rnn_row_blocks test_rnn_one_hot test_linear_cross_entropy test_add_at_b test_gemm \
             test_language_model test_inference test_decoder_session test_data_parallel test_parallel
tsan-test: deps
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRECUR_TSAN=ON -DRECUR_NATIVE=ON -DRECUR_WERROR=$(WERROR)
	cmake --build build-tsan -j $(JOBS) --target $(TSAN_TESTS)
	set -e; for t in $(TSAN_TESTS); do TSAN_OPTIONS=halt_on_error=1 ./build-tsan/tests/$$t; done

# The core and kernels tests cross-compiled for 64-bit ARM and run under qemu-aarch64 (NEON and
# scalar paths; installs the arm64 packages, the cross compiler and qemu-user when missing).
cross-test:
	WERROR=$(WERROR) JOBS=$(JOBS) bash scripts/cross-test-aarch64.sh build-aarch64

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz
