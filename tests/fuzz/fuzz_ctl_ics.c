/*
 * Fuzz the controller's iCalendar reader (mcc_ics_parse, calendar.h) and
 * its writer: whatever the reader accepts is written back with
 * mcc_ics_export and read again.  Failures must be clean (no output, a
 * message), and the writer must accept every set of entries the reader
 * gives.  Crashes, leaks and undefined behaviour are what libFuzzer and
 * the sanitizers look for.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Not assert(): release builds define NDEBUG, and this must always run. */
#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz_ctl_ics: %s failed\n", #cond);   \
			abort();                                               \
		}                                                              \
	} while (0)

static void one(const char *buf, size_t len, const struct mcc_ics_opts *o)
{
	struct mc_error err = {0};
	json_t *out = NULL, *again = NULL;
	char *text = NULL;

	if (mcc_ics_parse(buf, len, o, &out, &err) != MC_OK) {
		CHECK(out == NULL);
		CHECK(err.code != MC_OK && err.msg[0]);
		return;
	}
	CHECK(json_array_size(json_object_get(out, "entries")) > 0);
	CHECK(mcc_ics_export(json_object_get(out, "entries"), "fuzz",
	                     "Asia/Ho_Chi_Minh", &text, &err) == MC_OK);
	/* The export is read again; what it says is not checked here (the
	 * unit tests do), only that reading it is safe. */
	if (mcc_ics_parse(text, strlen(text), o, &again, &err) == MC_OK)
		CHECK(again != NULL);
	json_decref(again);
	free(text);
	json_decref(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mcc_ics_opts o = {.playlist = "pl-x", .channel = "speaker"};

	one((const char *)data, size, NULL);
	one((const char *)data, size, &o);
	return 0;
}
