/* minecast — what keys.c and sign.c share and nobody else needs. */
#ifndef MC_SIGN_INTERNAL_H
#define MC_SIGN_INTERNAL_H

#include <stdbool.h>

/* True if kid is exactly 16 lower-case hex digits, the key-id syntax. */
bool mc__kid_valid(const char *kid);

#endif
