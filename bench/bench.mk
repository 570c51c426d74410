# bench/bench.mk: `make bench` (included by the root Makefile): Shoal's network benchmark and the
# Linux-guest baseline measured in the same run (bench/netbench says how), printed as one table of
# ratios; then the single system image's costs (bench/ssibench: a system call served by the deputy
# against a local one, migration time and freeze time for 1, 16 and 64 MiB, migration throughput
# against the raw bulk throughput). Needs root and TCG time: about 3 minutes. Results:
# $(B)/bench/results.json and $(B)/bench/ssi.json.
BENCH_OUT := $(B)/bench
BENCH_AFPACKET := $(BENCH_OUT)/afpacket

$(BENCH_AFPACKET): bench/afpacket.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  MUSLCC  $<")
	$(Q)musl-gcc -static -O2 -Wall -Wextra -Werror -std=gnu11 -o $@ $<

bench: all $(BENCH_AFPACKET)
	$(PYTHON) bench/netbench --build $(B)
	$(PYTHON) bench/ssibench --build $(B)
