/*
 * minecast — one error enum for the whole project.
 *
 * Functions return an enum mc_err (MC_OK = 0 on success) and pass results
 * through out-parameters.  Where a caller needs to know *what* was wrong
 * with outside input (which field, why), the function also fills a
 * struct mc_error whose message names the field and the reason, ready for a
 * log line or an HTTP error body.
 */
#ifndef MINECAST_ERROR_H
#define MINECAST_ERROR_H

#include <stddef.h>

enum mc_err {
	MC_OK = 0,
	MC_ERR_NOMEM,     /* allocation failed */
	MC_ERR_INVAL,     /* a caller passed an invalid argument */
	MC_ERR_IO,        /* reading or writing a file failed (errno kept) */
	MC_ERR_TOO_LARGE, /* input exceeds its documented size limit */
	MC_ERR_PARSE,     /* input is not well-formed (JSON, RRULE, date) */
	MC_ERR_UTF8,      /* text is not valid UTF-8 */
	MC_ERR_MISSING,   /* a required field is absent */
	MC_ERR_TYPE,      /* a field has the wrong JSON type */
	MC_ERR_RANGE,     /* a value is outside its allowed range or set */
	MC_ERR_REF,      /* a reference (content id, playlist id) is dangling */
	MC_ERR_TZ,       /* unknown time zone */
	MC_ERR_SIG,      /* signature does not verify */
	MC_ERR_KEY,      /* unknown or malformed key */
	MC_ERR_NODE,     /* document is addressed to another node */
	MC_ERR_REPLAY,   /* version not newer than the one already applied */
	MC_ERR_EXPIRED,  /* document is past its expiry */
	MC_ERR_PURPOSE,  /* signed for another purpose (pointer vs alert) */
	MC_ERR_HASH,     /* content does not match its sha256 */
	MC_ERR_NOTFOUND, /* a looked-up thing does not exist */
	MC_ERR_UNSUPPORTED, /* a format version or feature this build lacks */
	MC_ERR_AUTH,        /* credentials missing, wrong or expired */
	MC_ERR_FORBIDDEN,   /* the caller may not do this (role, own work) */
	MC_ERR_EXISTS,      /* the thing to create exists already */
	MC_ERR_CONFLICT,    /* the request clashes with the current state */
	MC_ERR_MEDIA /* an uploaded file cannot be decoded or is refused */
};

/* Longest message kept in struct mc_error, including the NUL. */
#define MC_ERROR_MSG_MAX 256

/* What went wrong with outside input, for logs and error replies. */
struct mc_error {
	enum mc_err code;           /* the class of failure */
	char msg[MC_ERROR_MSG_MAX]; /* "entries[2].rrule: FREQ is missing" */
};

/*
 * A short English name of the error class ("signature does not verify").
 * Returns a static string; never NULL.
 */
const char *mc_strerror(enum mc_err err);

/*
 * Fill err (if not NULL) with code and a printf-style message and return
 * code, so that parsers can write `return mc_error_set(err, MC_ERR_MISSING,
 * "%s: required", path);`.
 */
enum mc_err mc_error_set(struct mc_error *err, enum mc_err code,
                         const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Reset err to MC_OK and an empty message.  NULL is allowed. */
void mc_error_clear(struct mc_error *err);

#endif
