/*
 * Fuzz the Vietnamese speech-text rewriting of the controller
 * (controller/daemon/viet.c): mcc_viet_normalize on arbitrary bytes.  It
 * must not crash or read past the text, must always answer (NULL only
 * when memory runs out), and its output must be valid UTF-8 whenever the
 * input is.  The number reader is driven with the first bytes as an
 * integer too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "viet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whole text valid UTF-8 (utf8proc's definition, as the codecs use). */
static int valid_utf8(const char *s)
{
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
	utf8proc_ssize_t n = (utf8proc_ssize_t)strlen(s), at = 0;

	while (at < n) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate(p + at, n - at, &cp);

		if (k <= 0)
			return 0;
		at += k;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *out;
	uint64_t n = 0;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	out = mcc_viet_normalize(text);
	if (!out)
		abort();
	if (valid_utf8(text) && !valid_utf8(out))
		abort();
	free(out);
	free(text);
	for (size_t i = 0; i < size && i < 8; i++)
		n = (n << 8) | data[i];
	out = mcc_viet_number((int64_t)(n % UINT64_C(1000000000000000)));
	if (!out || !valid_utf8(out))
		abort();
	free(out);
	return 0;
}
