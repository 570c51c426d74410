# tools/balsim/balsim.mk: the load-balancing simulator (included by the root Makefile; see
# docs/BALANCER.md "Simulation"). A host program: tools/balsim/balsim.c with the kernel's own
# policy, kernel/balance.c, compiled with -DHOST_TEST.
#   make balsim          builds $(B)/balsim/balsim (`balsim -h` for its options)
#   make balsim-report   runs the standard scenarios (tools/balsim/report, a few seconds): the table
#                        in $(B)/balsim/results.md and .json, one series per run in
#                        $(B)/balsim/series/, and the plot docs/balancer-sim.svg (tools/balsim/plot)
HOSTCC ?= gcc
BALSIM := $(B)/balsim/balsim
BALSIM_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -DHOST_TEST -I.

.PHONY: balsim balsim-report
balsim: $(BALSIM)

$(BALSIM): tools/balsim/balsim.c kernel/balance.c kernel/balance.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  HOSTCC  $@")
	$(Q)$(HOSTCC) $(BALSIM_CFLAGS) -o $@ tools/balsim/balsim.c kernel/balance.c -lm

balsim-report: $(BALSIM)
	$(PYTHON) tools/balsim/report --balsim $(BALSIM) --out $(B)/balsim --svg docs/balancer-sim.svg
