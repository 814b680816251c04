/*
 * minecast — small helpers every module uses: freeing, time, files.
 */
#ifndef MINECAST_UTIL_H
#define MINECAST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minecast/error.h"

/* Free a pointer and set it to NULL, so a second cleanup is harmless. */
#define MC_FREE(p)                                                             \
	do {                                                                   \
		free(p);                                                       \
		(p) = NULL;                                                    \
	} while (0)

#define MC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Milliseconds since the Unix epoch, from CLOCK_REALTIME. */
int64_t mc_now_ms(void);

/* Milliseconds from CLOCK_MONOTONIC, for intervals that must not jump. */
int64_t mc_mono_ms(void);

/*
 * Read a whole file of at most max bytes.  On success *out is a
 * NUL-terminated buffer the caller frees and *len its length without the
 * NUL.  A larger file fails with MC_ERR_TOO_LARGE and nothing allocated.
 */
enum mc_err mc_read_file(const char *path, size_t max, char **out, size_t *len,
                         struct mc_error *err);

/*
 * Write data to path atomically: a temporary file beside it, fsync, rename,
 * fsync of the directory.  Readers see the old file or the new one, never a
 * half-written one.  mode is the permission of the new file (0644, 0600).
 */
enum mc_err mc_write_file_atomic(const char *path, const void *data, size_t len,
                                 unsigned mode, struct mc_error *err);

/* strdup that returns NULL for NULL. */
char *mc_strdup(const char *s);

/* asprintf that returns NULL on failure instead of leaving *out undefined. */
char *mc_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
