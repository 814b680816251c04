/*
 * minecast — text hygiene for everything a person wrote.
 */
#ifndef MINECAST_TEXT_H
#define MINECAST_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "minecast/error.h"

/*
 * Check that in[0..len) is valid UTF-8 with no NUL and no control
 * characters other than tab and newline, and return its NFC form in *out
 * (caller frees).  field names the input in the error ("content[3].text").
 * max is the largest accepted length in bytes (after normalisation).
 */
enum mc_err mc_text_normalize(const char *in, size_t len, size_t max,
                              const char *field, char **out,
                              struct mc_error *err);

/* True if s is 1..MC_ID_MAX bytes of [A-Za-z0-9._-]. */
bool mc_id_valid(const char *s);

#endif
