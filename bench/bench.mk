# bench/bench.mk: `make bench` (included by the root Makefile): Shoal's network benchmark and the
# Linux-guest baseline measured in the same run (bench/netbench says how), printed as one table of
# ratios. Needs root and TCG time: about 2 minutes. Results: $(B)/bench/results.json.
BENCH_OUT := $(B)/bench
BENCH_AFPACKET := $(BENCH_OUT)/afpacket

$(BENCH_AFPACKET): bench/afpacket.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  MUSLCC  $<")
	$(Q)musl-gcc -static -O2 -Wall -Wextra -Werror -std=gnu11 -o $@ $<

bench: all $(BENCH_AFPACKET)
	$(PYTHON) bench/netbench --build $(B)
