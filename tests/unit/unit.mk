# tests/unit/unit.mk: builds the host unit tests of the portable kernel code
# (make fragment, included by the root Makefile; also usable on its own with
# `make -f tests/unit/unit.mk unit`). Binaries go to build/unit/ under the
# directory make runs in; sources are found relative to this file.

HOSTCC ?= gcc

# Everything is prefixed UNIT_ so the including Makefile's variables are untouched.
UNIT_ROOT := $(patsubst %/tests/unit/unit.mk,%,$(abspath $(lastword $(MAKEFILE_LIST))))
UNIT_SAVED_GOAL := $(.DEFAULT_GOAL)
UNIT_DIR := build/unit
UNIT_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -fsanitize=address,undefined \
	-fno-sanitize-recover=all -DHOST_TEST -I$(UNIT_ROOT)
UNIT_LDFLAGS := -fsanitize=address,undefined

UNIT_TESTS := build/unit/test_format build/unit/test_buddy build/unit/test_heap build/unit/test_cmdline \
	build/unit/test_cpio
UNIT_TESTS += build/unit/test_wallclock
UNIT_TESTS += build/unit/test_ldisc
UNIT_TESTS += build/unit/test_elf
UNIT_TESTS += build/unit/test_balance
UNIT_TESTS += build/unit/test_net_siphash build/unit/test_net_wire build/unit/test_net_membership \
	build/unit/test_net_transport

# Kernel sources each test links with (kernel/string.c never: libc stands in).
UNIT_SRCS_test_format := kernel/format.c
UNIT_SRCS_test_buddy := kernel/buddy.c
UNIT_SRCS_test_heap := kernel/heap.c
UNIT_SRCS_test_cmdline := kernel/cmdline.c kernel/format.c
UNIT_SRCS_test_cpio := kernel/cpio.c
UNIT_SRCS_test_wallclock := kernel/timeconv.c
UNIT_SRCS_test_ldisc := kernel/ldisc.c
UNIT_SRCS_test_elf := kernel/elf.c
UNIT_SRCS_test_balance := kernel/balance.c
UNIT_NET_ENGINE := net/siphash.c net/wire.c net/cluster.c net/membership.c net/transport.c
UNIT_SRCS_test_net_siphash := net/siphash.c
UNIT_SRCS_test_net_wire := $(UNIT_NET_ENGINE)
UNIT_SRCS_test_net_membership := $(UNIT_NET_ENGINE)
UNIT_SRCS_test_net_transport := $(UNIT_NET_ENGINE)

UNIT_OBJS_OF = $(UNIT_DIR)/tests/unit/$(1).o $(patsubst %.c,$(UNIT_DIR)/%.o,$(UNIT_SRCS_$(1)))
UNIT_OBJS := $(sort $(foreach t,$(notdir $(UNIT_TESTS)),$(call UNIT_OBJS_OF,$(t))))

.PHONY: unit unit-run
unit: $(UNIT_TESTS)

# Builds and runs every test, stopping at the first failing one.
unit-run: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; ./$$t; done

define UNIT_LINK_RULE
$(UNIT_DIR)/$(1): $(call UNIT_OBJS_OF,$(1))
	@mkdir -p $$(@D)
	$$(HOSTCC) $$(UNIT_LDFLAGS) -o $$@ $$^
endef
$(foreach t,$(notdir $(UNIT_TESTS)),$(eval $(call UNIT_LINK_RULE,$(t))))

# A static pattern rule, so the root Makefile's own %.o rules cannot compete.
$(UNIT_OBJS): $(UNIT_DIR)/%.o: $(UNIT_ROOT)/%.c
	@mkdir -p $(@D)
	$(HOSTCC) $(UNIT_CFLAGS) -MMD -MP -c -o $@ $<

-include $(UNIT_OBJS:.o=.d)

# Including this file must not change the including Makefile's default goal.
.DEFAULT_GOAL := $(UNIT_SAVED_GOAL)
