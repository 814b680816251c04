/*
 * Drive a fuzz harness without libFuzzer: feed it every file of the seed
 * corpus, then deterministic mutations of each (bit flips, truncations,
 * duplicated spans), so that gcc builds exercise the harness too.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Mutations tried per corpus file. */
#define MUTATIONS 200

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void mutate_and_run(const uint8_t *seed, size_t len)
{
	uint8_t *buf = malloc(len * 2 + 16);

	if (!buf)
		return;
	for (int i = 0; i < MUTATIONS; i++) {
		size_t n = len;

		memcpy(buf, seed, len);
		switch (rng() % 4) {
		case 0: /* flip a few bits */
			for (int k = 0; k < 4 && n; k++)
				buf[rng() % n] ^= (uint8_t)(1u << (rng() % 8));
			break;
		case 1: /* truncate */ n = n ? rng() % n : 0; break;
		case 2: /* duplicate a span */
			if (n) {
				size_t at = rng() % n, span = rng() % (n - at);
				memcpy(buf + n, buf + at, span);
				n += span;
			}
			break;
		default: /* overwrite with a random byte run */
			for (size_t k = 0; k < 8 && n; k++)
				buf[rng() % n] = (uint8_t)rng();
			break;
		}
		LLVMFuzzerTestOneInput(buf, n);
	}
	free(buf);
}

int main(int argc, char **argv)
{
	int files = 0;

	for (int a = 1; a < argc; a++) {
		DIR *d = opendir(argv[a]);
		struct dirent *de;

		if (!d) {
			fprintf(stderr, "replay: cannot open %s\n", argv[a]);
			return 1;
		}
		while ((de = readdir(d))) {
			char path[4096];
			FILE *f;
			uint8_t *data;
			long len;

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[a],
			         de->d_name);
			f = fopen(path, "rb");
			if (!f)
				continue;
			fseek(f, 0, SEEK_END);
			len = ftell(f);
			fseek(f, 0, SEEK_SET);
			data = malloc(len > 0 ? (size_t)len : 1);
			if (data &&
			    fread(data, 1, (size_t)len, f) == (size_t)len) {
				LLVMFuzzerTestOneInput(data, (size_t)len);
				mutate_and_run(data, (size_t)len);
				files++;
			}
			free(data);
			fclose(f);
		}
		closedir(d);
	}
	printf("replay: %d corpus files, %d mutations each\n", files,
	       MUTATIONS);
	return files > 0 ? 0 : 1;
}
