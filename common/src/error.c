/* minecast — error names and the struct mc_error helpers. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <utf8proc.h>

#include "minecast/error.h"

const char *mc_strerror(enum mc_err err)
{
	switch (err) {
	case MC_OK: return "success";
	case MC_ERR_NOMEM: return "out of memory";
	case MC_ERR_INVAL: return "invalid argument";
	case MC_ERR_IO: return "input/output error";
	case MC_ERR_TOO_LARGE: return "input too large";
	case MC_ERR_PARSE: return "malformed input";
	case MC_ERR_UTF8: return "invalid UTF-8 text";
	case MC_ERR_MISSING: return "required field missing";
	case MC_ERR_TYPE: return "field has the wrong type";
	case MC_ERR_RANGE: return "value out of range";
	case MC_ERR_REF: return "reference to an unknown item";
	case MC_ERR_TZ: return "unknown time zone";
	case MC_ERR_SIG: return "signature does not verify";
	case MC_ERR_KEY: return "unknown or malformed key";
	case MC_ERR_NODE: return "addressed to another node";
	case MC_ERR_REPLAY: return "version not newer than the applied one";
	case MC_ERR_EXPIRED: return "expired";
	case MC_ERR_PURPOSE: return "signed for another purpose";
	case MC_ERR_HASH: return "content hash mismatch";
	case MC_ERR_NOTFOUND: return "not found";
	case MC_ERR_UNSUPPORTED: return "unsupported format or feature";
	case MC_ERR_AUTH: return "not authenticated";
	case MC_ERR_FORBIDDEN: return "not allowed";
	case MC_ERR_EXISTS: return "already exists";
	case MC_ERR_CONFLICT: return "conflicts with the current state";
	case MC_ERR_MEDIA: return "media file refused";
	}
	return "unknown error";
}

/*
 * Drop the bytes of any invalid or cut UTF-8 sequence from s, in place.
 * Messages quote outside text with byte limits ("%.40s"), which may cut a
 * Vietnamese letter in half; a message must still be valid UTF-8 when it
 * goes into a log line or a JSON error reply.
 */
static void utf8_repair(char *s)
{
	size_t len = strlen(s), in = 0, out = 0;

	while (in < len) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t n =
		        utf8proc_iterate((const utf8proc_uint8_t *)s + in,
		                         (utf8proc_ssize_t)(len - in), &cp);

		if (n < 1) {
			in++;
			continue;
		}
		memmove(s + out, s + in, (size_t)n);
		in += (size_t)n;
		out += (size_t)n;
	}
	s[out] = '\0';
}

enum mc_err mc_error_set(struct mc_error *err, enum mc_err code,
                         const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	utf8_repair(err->msg);
	return code;
}

void mc_error_clear(struct mc_error *err)
{
	if (!err)
		return;
	err->code = MC_OK;
	err->msg[0] = '\0';
}
