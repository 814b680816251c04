/*
 * Fuzz the campaign and manifest parser: every input is parsed as both
 * kinds of document.  Whatever parses must dump, and the dump must parse
 * again to the same dump (the codec's round-trip promise), or the harness
 * aborts so that libFuzzer keeps the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minecast/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Not assert(): release builds define NDEBUG, and this must always run. */
#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz_manifest: %s failed\n", #cond);  \
			abort();                                               \
		}                                                              \
	} while (0)

static void one(const char *buf, size_t len, enum mc_doc_kind kind)
{
	struct mc_manifest *m = NULL, *m2 = NULL;
	struct mc_error err;
	char *d1, *d2;

	if (mc_manifest_parse(buf, len, kind, &m, &err) != MC_OK) {
		CHECK(m == NULL);
		CHECK(err.code != MC_OK && err.msg[0]);
		return;
	}
	d1 = mc_manifest_dump(m);
	CHECK(d1 != NULL);
	if (mc_manifest_parse(d1, strlen(d1), kind, &m2, &err) != MC_OK) {
		fprintf(stderr, "re-parse failed: %s\n%s\n", err.msg, d1);
		abort();
	}
	d2 = mc_manifest_dump(m2);
	CHECK(d2 != NULL && strcmp(d1, d2) == 0);
	free(d1);
	free(d2);
	mc_manifest_free(m);
	mc_manifest_free(m2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one((const char *)data, size, MC_DOC_CAMPAIGN);
	one((const char *)data, size, MC_DOC_MANIFEST);
	return 0;
}
