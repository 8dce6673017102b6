# Entry points: make deps | build | test | demo | bench
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

# Debian packages whatif builds and runs with (libtorch-dev brings LibTorch 1.13).
DEPS := cmake g++ make pkg-config ccache git \
  libtorch-dev libopenblas0-pthread libgloo-dev liblua5.4-dev libinsighttoolkit5-dev \
  libhdf5-dev libboost-dev libboost-filesystem-dev libboost-program-options-dev \
  libspdlog-dev catch2 libsentencepiece-dev nlohmann-json3-dev mricron-data \
  python3-torch python3-nibabel python3-h5py slurm-wlm munge \
  libcpp-httplib-dev nodejs chromium clang libclang-rt-14-dev

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# The HTML report's libraries (Niivue, Vega, Vega-Lite, Vega-Embed), pinned in web/package-lock.json
# and installed with `npm ci` into the build tree; the build copies them next to each report.html.
WEB_VENDOR := $(BUILD)/web/node_modules/.package-lock.json

.PHONY: deps apt-deps build test test-sanitize demo bench fuzz clean

deps: apt-deps $(WEB_VENDOR)

$(WEB_VENDOR): web/package.json web/package-lock.json
	mkdir -p $(BUILD)/web
	cp web/package.json web/package-lock.json $(BUILD)/web/
	cd $(BUILD)/web && npm ci --ignore-scripts --no-audit --no-fund
	touch $@

apt-deps:
	@missing=$$(for p in $(DEPS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@# npm comes with some nodejs builds (NodeSource) and separately with Debian's
	@command -v npm >/dev/null || DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends npm

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

demo: build
	$(BUILD)/whatif run experiments/quickstart.lua --out runs/quickstart
	$(BUILD)/whatif report runs/quickstart --html
	@echo "open $(CURDIR)/runs/quickstart/report.html"

bench: build
	@for b in $(BUILD)/bench/bench_*; do [ -x "$$b" ] && "$$b"; done; true

# libFuzzer harnesses (clang, ASan + UBSan) for NIfTI headers, manifests, Lua options, the dataset
# store reader and the checkpoint loader.
FUZZ_SECONDS ?= 60
fuzz:
	bash tests/fuzz/run.sh $(CURDIR) $(BUILD) $(FUZZ_SECONDS)

# The unit tests of the input paths (registry, Lua sandbox and conversion, data and stores,
# checkpoints and training, results, layers) built with AddressSanitizer and UBSan in their own
# folder. LibTorch itself is not instrumented; sentencepiece's tests (test_text) are left out.
SANITIZE_BUILD ?= build-sanitize
SANITIZE_TESTS := test_registry test_lua test_data test_train test_results test_nn test_text_metrics
SANITIZE_PLUGINS := whatif-plugin-denoisers whatif-plugin-encoders whatif-plugin-schedules whatif-plugin-samplers
test-sanitize: deps
	cmake -S . -B $(SANITIZE_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWHATIF_SANITIZE=ON -DWHATIF_BUILD_BENCH=OFF
	cmake --build $(SANITIZE_BUILD) -j$(JOBS) --target $(SANITIZE_TESTS) $(SANITIZE_PLUGINS)
	cd $(SANITIZE_BUILD) && ASAN_OPTIONS=detect_leaks=0:alloc_dealloc_mismatch=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$(CURDIR)/tests/sanitize/ubsan.supp \
	  ctest --output-on-failure -j$(JOBS) -R '^($(shell echo $(SANITIZE_TESTS) | tr ' ' '|'))$$'


clean:
	rm -rf $(BUILD)
