# tests/fuzz/fuzz.mk: libFuzzer harnesses for the protocol engine (make fragment, included by the
# root Makefile or used alone: `make -f tests/fuzz/fuzz.mk fuzz`).
#   make fuzz [FUZZ_SECONDS=60]   builds every harness and runs each for FUZZ_SECONDS, starting
#                                 from the committed corpus in tests/fuzz/corpus/<harness>/; new
#                                 inputs go to build/fuzz/work/, findings to build/fuzz/artifacts/
#                                 and fail the target.
#   make fuzz-seeds               rewrites the committed seed corpus (tests/fuzz/make_seeds.c).
# fuzz_input is built with -DSHOAL_FUZZ_NO_TAG: frames need no valid tag (never in a real build).

FUZZ_ROOT := $(patsubst %/tests/fuzz/fuzz.mk,%,$(abspath $(lastword $(MAKEFILE_LIST))))
FUZZ_SAVED_GOAL := $(.DEFAULT_GOAL)
FUZZ_DIR := build/fuzz
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-DHOST_TEST -I$(FUZZ_ROOT)
FUZZ_HARNESSES := fuzz_input fuzz_transport
FUZZ_ENGINE := $(addprefix $(FUZZ_ROOT)/,net/siphash.c net/wire.c net/cluster.c net/membership.c \
	net/transport.c)
FUZZ_DEPS := $(FUZZ_ENGINE) $(wildcard $(FUZZ_ROOT)/net/*.h) $(FUZZ_ROOT)/tests/fuzz/fuzz_common.h \
	$(FUZZ_ROOT)/tests/unit/net_sim.h $(FUZZ_ROOT)/tests/unit/check.h
FUZZ_FLAGS_fuzz_input := -DSHOAL_FUZZ_NO_TAG
FUZZ_FLAGS_fuzz_transport :=
FUZZ_BINS := $(addprefix $(FUZZ_DIR)/,$(FUZZ_HARNESSES))

.PHONY: fuzz fuzz-build fuzz-seeds

fuzz-build: $(FUZZ_BINS)

$(FUZZ_BINS): $(FUZZ_DIR)/%: $(FUZZ_ROOT)/tests/fuzz/%.c $(FUZZ_DEPS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_FLAGS_$*) -o $@ $< $(FUZZ_ENGINE)

# Each harness in turn; a crash, leak, sanitizer report or timeout makes libFuzzer exit non-zero.
fuzz: $(FUZZ_BINS)
	@set -e; for h in $(FUZZ_HARNESSES); do \
		mkdir -p $(FUZZ_DIR)/work/$$h $(FUZZ_DIR)/artifacts; \
		echo "== $$h for $(FUZZ_SECONDS) s"; \
		./$(FUZZ_DIR)/$$h -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/artifacts/$$h- \
			$(FUZZ_DIR)/work/$$h $(FUZZ_ROOT)/tests/fuzz/corpus/$$h; \
	done

fuzz-seeds:
	@mkdir -p $(FUZZ_DIR)
	gcc -std=gnu11 -O1 -g -DHOST_TEST -I$(FUZZ_ROOT) -o $(FUZZ_DIR)/make_seeds \
		$(FUZZ_ROOT)/tests/fuzz/make_seeds.c $(FUZZ_ENGINE)
	rm -rf $(FUZZ_ROOT)/tests/fuzz/corpus/fuzz_input $(FUZZ_ROOT)/tests/fuzz/corpus/fuzz_transport
	mkdir -p $(FUZZ_ROOT)/tests/fuzz/corpus/fuzz_input $(FUZZ_ROOT)/tests/fuzz/corpus/fuzz_transport
	./$(FUZZ_DIR)/make_seeds $(FUZZ_ROOT)/tests/fuzz/corpus/fuzz_input \
		$(FUZZ_ROOT)/tests/fuzz/corpus/fuzz_transport

# Including this file must not change the including Makefile's default goal.
.DEFAULT_GOAL := $(FUZZ_SAVED_GOAL)
