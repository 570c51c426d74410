/* tests/fuzz/fuzz_transport.c: libFuzzer harness for reassembly and the transport
 * (net/transport.c): sequences of DATA and ACK frames from a real peer with valid tags and the
 * session's identifiers, with sequence numbers, acks, selective acks, fragment flags, message
 * lengths and payloads chosen by the fuzzer, interleaved with sends, time, memory pressure and
 * reboots. Built WITH the tag check: everything it feeds is authentic. */
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_run(data, size, true);
	return 0;
}
