/* tests/fuzz/fuzz_input.c: libFuzzer harness for cluster_input (net/cluster.c and everything
 * behind it) with arbitrary bytes, on an engine whose peers are up and busy. Built with
 * -DSHOAL_FUZZ_NO_TAG so frames need no valid SipHash tag and the fuzzer reaches the parser and
 * state machines behind the tag check (see tests/fuzz/fuzz.mk, docs/PROTOCOL.md). */
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_run(data, size, false);
	return 0;
}
