# The two Quick start commands (README.md) and the pieces they are made of.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: run test build deps deps-test clean

# Installs what is missing, builds Release, runs realip-echo behind realip-proxy.
run: deps build
	scripts/run-demo.sh $(BUILD_DIR)

# Installs what is missing (test peers included), builds, runs every unit and integration test.
test: deps-test build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

build:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build $(BUILD_DIR) -j $(JOBS)

deps:
	scripts/deps.sh build

deps-test:
	scripts/deps.sh test

clean:
	rm -rf $(BUILD_DIR)
