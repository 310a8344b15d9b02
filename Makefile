# lakeapi - the two commands users need are `make demo` and `make test`.
# Everything else here is what those two are made of.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30
PYTHON     := /usr/bin/python3
SF         ?= 1
CMAKE_GEN  := -G Ninja

.PHONY: all deps build build-asan demo test check-layers check-sql faults soak valgrind fuzz-long \
        test-unit test-api test-asan fuzz fuzz-build bench bench-quick bench-growth bench-export \
        format tidy clean scale-test

all: build

deps:
	@scripts/deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD)
	scripts/swagger.sh $(BUILD)

$(ASAN_BUILD)/build.ninja:
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DLAKEAPI_SANITIZE=ON

build-asan: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD)
	scripts/swagger.sh $(ASAN_BUILD)

# Runs the server on http://127.0.0.1:8000 over a private PostgreSQL with the demo data.
demo: build
	./$(BUILD)/lakeapi demo --sf $(SF)

# Unit tests (CTest + cmocka), black-box API tests (pytest over real HTTP against a real
# PostgreSQL), both again under AddressSanitizer + UBSan, then a short fuzzing run.
test: build build-asan
	$(MAKE) --no-print-directory check-layers
	$(MAKE) --no-print-directory check-sql
	$(MAKE) --no-print-directory test-unit BUILD=$(BUILD)
	$(MAKE) --no-print-directory test-api BUILD=$(BUILD)
	$(MAKE) --no-print-directory scale-test BUILD=$(BUILD)
	$(MAKE) --no-print-directory test-asan
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)

# Fails when an #include breaks the layer order (src/ folders, see scripts/check_layers.py).
check-layers:
	$(PYTHON) scripts/check_layers.py

# Fails when SQL text is built outside the reviewed builders (scripts/check_sql.py).
check-sql:
	$(PYTHON) scripts/check_sql.py

test-unit:
	cd $(BUILD) && ctest --output-on-failure --timeout 300

test-api:
	LAKEAPI_BIN=$(abspath $(BUILD))/lakeapi $(PYTHON) -m pytest -q tests/api

# The local proof of scaling out (about 40 s): a primary and a streaming replica, two
# lakeapi instances and nginx in front, replica and instance failures under load,
# read-your-writes against a delayed replica (tests/scale/scale_test.py).
scale-test: build
	DEPS_EXTRA="nginx haproxy" scripts/deps.sh
	LAKEAPI_BIN=$(abspath $(BUILD))/lakeapi timeout 300 $(PYTHON) tests/scale/scale_test.py

test-asan: build-asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure --timeout 600
	ASAN_OPTIONS=detect_leaks=1 LAKEAPI_BIN=$(abspath $(ASAN_BUILD))/lakeapi \
		$(PYTHON) -m pytest -q tests/api

$(FUZZ_BUILD)/build.ninja:
	CC=clang cmake -S . -B $(FUZZ_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DLAKEAPI_FUZZ=ON \
		-DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"

fuzz-build: deps $(FUZZ_BUILD)/build.ninja
	cmake --build $(FUZZ_BUILD)

# Each target runs FUZZ_SECONDS on a copy of its committed seed corpus.
fuzz: fuzz-build
	scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# Every tests/fuzz/fuzz_*.c to 10M executions or FUZZ_LONG_SECONDS each (README "Reliability").
FUZZ_LONG_SECONDS ?= 3600
fuzz-long: fuzz-build
	FUZZ_LONG_SECONDS=$(FUZZ_LONG_SECONDS) nice scripts/fuzz_long.sh $(FUZZ_BUILD)

# Fault tests alone (they also run in test-api): LAKEAPI_FAULT_REPORT=FILE keeps the figures.
faults: build
	LAKEAPI_BIN=$(abspath $(BUILD))/lakeapi $(PYTHON) -m pytest -q -s tests/api/test_faults.py \
		tests/api/test_hostile.py

# SOAK_SECONDS (1800) of mixed traffic; RSS and fds every 10 s; table and PNG in build/soak/.
SOAK_SECONDS ?= 1800
soak: build
	SOAK_SECONDS=$(SOAK_SECONDS) LAKEAPI_BIN=$(abspath $(BUILD))/lakeapi $(PYTHON) scripts/soak.py

# Unit and API tests under valgrind --leak-check=full (scripts/valgrind.sh; slow).
valgrind: build
	scripts/valgrind.sh $(BUILD)

bench: build
	DEPS_EXTRA="wrk" scripts/deps.sh && bench/run.sh full

bench-growth: build
	DEPS_EXTRA="wrk" scripts/deps.sh && bench/run.sh growth

bench-quick: build
	DEPS_EXTRA="wrk" scripts/deps.sh && bench/run.sh quick

# Streaming export of all SF 1 orders (NDJSON, CSV) vs psql's COPY, RSS sampled (issue 9).
bench-export: build
	DEPS_EXTRA="curl" scripts/deps.sh && $(PYTHON) bench/export.py

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

tidy: build
	clang-tidy -p $(BUILD) --quiet $$(git ls-files 'src/*.c')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
