# bench/bench.mk: `make bench` (included by the root Makefile): Shoal's network benchmark and the
# Linux-guest baseline measured in the same run (bench/netbench says how), printed as one table of
# ratios; then the single system image's costs (bench/ssibench: a system call served by the deputy
# against a local one, migration time and freeze time for 1, 16 and 64 MiB, migration throughput
# against the raw bulk throughput); then listing the cluster-wide process table (bench/listbench:
# ps and ls /proc on 8 nodes running 500 processes, cold and warm, against the same 500 on one
# node); then fork and forget (bench/balbench: 8 CPU-bound jobs on 2 nodes with the balancer off
# and on, and how fast 16 jobs spread over 4 nodes). Needs root and TCG time: about 10 minutes.
# Results: $(B)/bench/results.json, ssi.json, list-results.json and balance.json.
BENCH_OUT := $(B)/bench
BENCH_AFPACKET := $(BENCH_OUT)/afpacket

$(BENCH_AFPACKET): bench/afpacket.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  MUSLCC  $<")
	$(Q)musl-gcc -static -O2 -Wall -Wextra -Werror -std=gnu11 -o $@ $<

bench: all $(BENCH_AFPACKET)
	$(PYTHON) bench/netbench --build $(B)
	$(PYTHON) bench/ssibench --build $(B)
	$(PYTHON) bench/balbench --build $(B)
	$(PYTHON) bench/listbench --build $(B)
