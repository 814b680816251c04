/*
 * minecast — text hygiene: UTF-8 validation, control characters, NFC.
 *
 * Vietnamese text arrives from editors' keyboards, pasted documents and
 * older tools in both composed ("Ệ" as U+1EC6) and decomposed ("E" + U+0323
 * + U+0302) forms.  Both look alike but compare, hash and measure
 * differently, and some fonts draw the decomposed marks badly, so every
 * text is stored in NFC.  Control characters are refused because a screen
 * cannot draw them and a log line must not be forged with them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "minecast/messages.h"
#include "minecast/text.h"

/* Tab and newline are the only control characters a text may hold. */
static bool control_allowed(utf8proc_int32_t cp)
{
	return cp == '\t' || cp == '\n';
}

/*
 * Walk in[0..len) once: every sequence must decode (utf8proc refuses
 * overlong forms, surrogates, code points above U+10FFFF and truncated
 * sequences) and no code point may be a control character.
 */
static enum mc_err check_utf8(const char *in, size_t len, const char *field,
                              struct mc_error *err)
{
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)in;
	size_t at = 0;

	while (at < len) {
		utf8proc_int32_t cp = -1;
		utf8proc_ssize_t n = utf8proc_iterate(
		        p + at, (utf8proc_ssize_t)(len - at), &cp);

		if (n <= 0 || cp < 0)
			return mc_error_set(err, MC_ERR_UTF8,
			                    "%s: invalid UTF-8 at byte %zu",
			                    field, at);
		if (utf8proc_category(cp) == UTF8PROC_CATEGORY_CC &&
		    !control_allowed(cp))
			return mc_error_set(err, MC_ERR_RANGE,
			                    "%s: control character U+%04X at "
			                    "byte %zu is not allowed",
			                    field, (unsigned)cp, at);
		at += (size_t)n;
	}
	return MC_OK;
}

enum mc_err mc_text_normalize(const char *in, size_t len, size_t max,
                              const char *field, char **out,
                              struct mc_error *err)
{
	utf8proc_uint8_t *nfc = NULL;
	utf8proc_ssize_t n;
	enum mc_err rc;

	*out = NULL;
	if (!in || !field)
		return mc_error_set(err, MC_ERR_INVAL, "text: no input");
	rc = check_utf8(in, len, field, err);
	if (rc != MC_OK)
		return rc;
	/*
	 * An empty string is already NFC; utf8proc_map would still work but
	 * this keeps the common case of "" cheap and obvious.
	 */
	if (len == 0) {
		*out = strdup("");
		return *out ? MC_OK
		            : mc_error_set(err, MC_ERR_NOMEM,
		                           "%s: out of memory", field);
	}
	n = utf8proc_map((const utf8proc_uint8_t *)in, (utf8proc_ssize_t)len,
	                 &nfc, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
	if (n < 0) {
		rc = n == UTF8PROC_ERROR_NOMEM ? MC_ERR_NOMEM : MC_ERR_UTF8;
		return mc_error_set(err, rc, "%s: %s", field,
		                    utf8proc_errmsg(n));
	}
	/* The limit applies to what is stored, i.e. after normalisation. */
	if ((size_t)n > max) {
		free(nfc);
		return mc_error_set(
		        err, MC_ERR_TOO_LARGE,
		        "%s: %lld bytes, longer than the limit of %zu", field,
		        (long long)n, max);
	}
	*out = (char *)nfc;
	return MC_OK;
}

bool mc_id_valid(const char *s)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++) {
		char c = s[n];

		if (n >= MC_ID_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return n > 0;
}
