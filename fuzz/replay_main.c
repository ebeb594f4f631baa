/* Replays libFuzzer inputs without libFuzzer: each argument is a file handed
 * to LLVMFuzzerTestOneInput once. Built with gcc + ASan/UBSan for make test. */
#include "util/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (!f) {
			perror(argv[i]);
			return 2;
		}
		uint8_t *buf = malloc(1 << 22);
		size_t n = buf ? fread(buf, 1, 1 << 22, f) : 0;
		fclose(f);
		if (!buf)
			return 2;
		/* Give the harness an exactly sized copy so ASan sees overreads. */
		uint8_t *exact = malloc(n ? n : 1);
		if (!exact)
			return 2;
		memcpy(exact, buf, n);
		free(buf);
		LLVMFuzzerTestOneInput(exact, n);
		free(exact);
	}
	return 0;
}
