/*
 * minecast — the INI syntax both configuration readers share: the
 * player's player.conf (player/config.c) and the controller's
 * minecast-controller.conf (controller/daemon/config.c).
 *
 * This is not an INI library: each reader keeps its own key table, its
 * own checks and its own messages.  What lives here is what both read
 * the same way, so that the two files keep one syntax:
 *   [section]
 *   key = value          # '#' after a blank starts a comment
 *   ; a whole-line comment may also start with ';'
 *   key = "value"        # double quotes keep blanks and '#'
 * the check of the whole text (UTF-8, control characters), the split
 * into lines, the lexing of one line, and the parsers of numbers,
 * durations and sizes.
 *
 * Functions taking a char * cut that text in place (the readers work
 * on their own copy of the file) and return pointers into it.
 */
#ifndef MINECAST_INI_H
#define MINECAST_INI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of a bad value quoted back in a message. */
#define MC_INI_SHOWN_MAX 40

/* Size of the buffer mc_ini_shown cuts into: the bytes, "..." and NUL. */
#define MC_INI_SHOWN_BYTES (MC_INI_SHOWN_MAX + 4)

/*
 * v as it may be quoted back in a message: v itself when it has at most
 * MC_INI_SHOWN_MAX bytes, else its start cut on a UTF-8 character
 * boundary with "..." appended, written into buf.
 */
const char *mc_ini_shown(const char *v, char buf[MC_INI_SHOWN_BYTES]);

/*
 * Cut blanks off s in place: spaces and tabs at the start; spaces, tabs
 * and CRs at the end (a line of a file saved on Windows ends in CR).
 * Returns the first byte kept.
 */
char *mc_ini_trim(char *s);

/*
 * Read 1..max_digits decimal digits at *s into *v and move *s past them.
 * Returns false, leaving *s and *v alone, when *s is not a digit or the
 * run is longer.  max_digits is each reader's own limit (the controller
 * 15, the player 18), kept because a longer number is reported as "not
 * a number" rather than as out of range.
 */
bool mc_ini_digits(const char **s, int max_digits, int64_t *v);

/* A unit a number may be written with, e.g. {"ms", 1}, {"h", 3600000}. */
struct mc_ini_unit {
	const char *name; /* as written, compared ignoring case; "" = bare */
	int64_t mul;      /* what one of it is in the caller's unit */
};

/*
 * "NUMBER UNIT" (blanks between them optional): NUMBER as mc_ini_digits
 * reads it, UNIT the whole rest of s, one of units[0..n_units) (the one
 * named "" takes a bare number).  On success *n is the number and *mul
 * the unit's multiplier; the caller multiplies, under its own guard
 * against overflow.  Returns false when s is anything else.
 */
bool mc_ini_number_unit(const char *s, int max_digits,
                        const struct mc_ini_unit *units, size_t n_units,
                        int64_t *n, int64_t *mul);

/*
 * A size in bytes: "4096", "512K", "2G", "10MB", "10MiB", "1T" (powers
 * of 1024, any case; no fraction).  NUMBER as mc_ini_digits reads it.
 * Returns false when s is anything else or the bytes overflow int64_t.
 */
bool mc_ini_parse_size(const char *s, int max_digits, int64_t *bytes);

/*
 * The value part of "key = value": v is what follows the '='.  Cuts off
 * blanks and a trailing comment (a character of comment after a blank
 * or at the start: the controller takes "#;", the player "#"), or, for
 * "\"value\" # comment", the quotes, and sets *out to the value.  Returns
 * a reason for a message when the quotes are wrong (*out then unset),
 * else NULL.
 */
const char *mc_ini_unquote(char *v, const char *comment, char **out);

/* What one line of the file is. */
enum mc_ini_kind {
	MC_INI_BLANK,        /* empty, or a comment starting with # or ; */
	MC_INI_SECTION,      /* "[name]"; name set */
	MC_INI_UNCLOSED,     /* '[' without ']'; text is the line */
	MC_INI_AFTER_HEADER, /* "[name] text": text after the ']'; name set */
	MC_INI_KEY,          /* "name = value"; name and value set */
	MC_INI_NOT_SETTING   /* none of these (no '='); text is the line */
};

/* One line, lexed by mc_ini_lex: pointers into the line's own bytes. */
struct mc_ini_line {
	enum mc_ini_kind kind; /* what the line is */
	char *text;            /* the whole line, trimmed */
	char *name;            /* section or key name, trimmed; may be "" */
	char *value; /* KEY: the raw text after '=' (for mc_ini_unquote) */
};

/*
 * Lex one line s (NUL-terminated, without its '\n'), cutting it in place.
 * Only the syntax is decided here; whether a section or key exists, and
 * what to say about it, is the reader's.
 */
void mc_ini_lex(char *s, struct mc_ini_line *line);

/*
 * The next line at *cursor (a NUL-terminated text without NUL bytes of
 * its own), cut at its '\n'; *cursor moves to the line after.  Returns
 * NULL at the end of the text (a last empty line after a final '\n' is
 * no line).
 */
char *mc_ini_next_line(char **cursor);

/* Skip a UTF-8 byte order mark (a Windows editor's) at the start. */
void mc_ini_skip_bom(const char **text, size_t *len);

/* Where mc_ini_text_ok found the first bad byte. */
struct mc_ini_bad {
	int line;      /* line of it, from 1 */
	int col;       /* byte column in that line, from 1 */
	unsigned byte; /* its value */
};

/*
 * Is text[0..len) valid UTF-8 (no overlong forms, surrogates or code
 * points past U+10FFFF) without NUL or control characters other than
 * tab, CR and LF?  strict (the player's file) also refuses a CR that does
 * not end a line and the C1 controls U+0080..U+009F.  Returns false and
 * fills *bad at the first byte that is not.
 */
bool mc_ini_text_ok(const char *text, size_t len, bool strict,
                    struct mc_ini_bad *bad);

/*
 * The directory part of the file name name, for relative paths in it:
 * NULL when name has no '/', "/" for a file at the root.  Caller frees;
 * NULL also when out of memory.
 */
char *mc_ini_dir_of(const char *name);

/*
 * path as a reader will open it: a copy when it is absolute or dir is
 * NULL, else "dir/path".  Caller frees; NULL when out of memory.
 */
char *mc_ini_resolve(const char *dir, const char *path);

#endif
