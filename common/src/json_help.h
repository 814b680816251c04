/*
 * minecast — private typed readers and writers over jansson.
 *
 * Every reader takes the object that holds the field, the path of that
 * object ("" for the document root, "entries[2]" for an element) and the
 * key, so that its error names the whole path: "entries[2].priority: must
 * be an integer 0..100".  A JSON null counts as absent, so an optional
 * field may be written as null (the fallback table does that).  Readers
 * leave *out untouched on failure except where noted; strings they return
 * are owned by the caller.
 *
 * Writers add one member to an object and clear *ok when jansson fails
 * (out of memory), so that a dumper can build the whole document and
 * check once at the end (mc__json_finish).
 */
#ifndef MC_JSON_HELP_H
#define MC_JSON_HELP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "minecast/error.h"
#include "minecast/model.h"

/* Longest field path kept for an error message. */
#define MC__PATH_MAX 160

/* Byte limits on strings, after NFC normalisation. */
#define MC__TEXT_MAX 4000 /* slogan, speech, alert and transcript text */
#define MC__NAME_MAX 256  /* human names, fonts, short messages */
#define MC__URL_MAX  1024 /* URLs and asset paths */
#define MC__RULE_MAX 512  /* RRULE and DURATION strings */

/* Whether a reader fails on an absent (or null) field. */
#define MC__OPTIONAL false
#define MC__REQUIRED true

/* A check for the syntax of a string value; true when acceptable. */
typedef bool (*mc__str_valid_fn)(const char *s);

/* "parent.key", or "key" when parent is empty. */
void mc__json_path(char *buf, size_t n, const char *parent, const char *key);

/* "parent.key[i]", or "key[i]" when parent is empty. */
void mc__json_path_index(char *buf, size_t n, const char *parent,
                         const char *key, size_t i);

/*
 * Parse buf[0..len) as one JSON object.  Input longer than max fails with
 * MC_ERR_TOO_LARGE before any parsing.  what names the document in errors
 * ("pointer").  Duplicate keys are refused; syntax errors name jansson's
 * line and column; invalid UTF-8 gives MC_ERR_UTF8.  *out is a new
 * reference the caller releases with json_decref().
 */
enum mc_err mc__json_parse(const char *buf, size_t len, size_t max,
                           const char *what, json_t **out,
                           struct mc_error *err);

/*
 * The message protocol version "v": absent means 1, 1 is accepted, a
 * higher one fails with MC_ERR_UNSUPPORTED, anything else is an error.
 */
enum mc_err mc__json_version(json_t *root, struct mc_error *err);

/* The member key of obj, or NULL if it is absent or null. */
json_t *mc__json_member(json_t *obj, const char *key);

/* Member that must be an object; *out borrowed, NULL when absent. */
enum mc_err mc__json_object(json_t *obj, const char *path, const char *key,
                            bool required, json_t **out, struct mc_error *err);

/*
 * Member that must be an array of at most max elements; *out borrowed,
 * NULL when absent.
 */
enum mc_err mc__json_array(json_t *obj, const char *path, const char *key,
                           bool required, size_t max, json_t **out,
                           struct mc_error *err);

/*
 * A string value v (already looked up) at path field: valid UTF-8, no
 * control characters but tab and newline, NFC-normalised, at most max
 * bytes; if valid is not NULL it must also accept the string, else the
 * error says "must be <desc>".
 */
enum mc_err mc__json_string_value(json_t *v, const char *field, size_t max,
                                  mc__str_valid_fn valid, const char *desc,
                                  char **out, struct mc_error *err);

/* Member string as mc__json_string_value; *out NULL when absent. */
enum mc_err mc__json_string_check(json_t *obj, const char *path,
                                  const char *key, bool required, size_t max,
                                  mc__str_valid_fn valid, const char *desc,
                                  char **out, struct mc_error *err);

/* Member free text of at most max bytes. */
enum mc_err mc__json_string(json_t *obj, const char *path, const char *key,
                            bool required, size_t max, char **out,
                            struct mc_error *err);

/* Member id ([A-Za-z0-9._-]{1,64}, mc_id_valid). */
enum mc_err mc__json_id(json_t *obj, const char *path, const char *key,
                        bool required, char **out, struct mc_error *err);

/* Member integer in min..max; def when absent and optional. */
enum mc_err mc__json_int(json_t *obj, const char *path, const char *key,
                         bool required, int64_t min, int64_t max, int64_t def,
                         int64_t *out, struct mc_error *err);

/* The same for an int field. */
enum mc_err mc__json_int32(json_t *obj, const char *path, const char *key,
                           bool required, int min, int max, int def, int *out,
                           struct mc_error *err);

/* Member number (integer or real) in min..max; def when absent. */
enum mc_err mc__json_double(json_t *obj, const char *path, const char *key,
                            bool required, double min, double max, double def,
                            double *out, struct mc_error *err);

/* Member true or false; def when absent. */
enum mc_err mc__json_bool(json_t *obj, const char *path, const char *key,
                          bool required, bool def, bool *out,
                          struct mc_error *err);

/*
 * Member string naming one value of an enum: parse maps the name to the
 * value or -1; choices lists the names for the error ("screen|speaker").
 */
enum mc_err mc__json_enum(json_t *obj, const char *path, const char *key,
                          bool required, int (*parse)(const char *s),
                          const char *choices, int def, int *out,
                          struct mc_error *err);

/*
 * Member array of at most max_items strings, each checked as by
 * mc__json_string_value.  Absent gives an empty array (*out NULL, *n 0).
 * On failure nothing is returned.
 */
enum mc_err mc__json_strv(json_t *obj, const char *path, const char *key,
                          size_t max_items, size_t max_len,
                          mc__str_valid_fn valid, const char *desc, char ***out,
                          size_t *n, struct mc_error *err);

/* Member colour "#RRGGBB" (either case) as 0xRRGGBB; def when absent. */
enum mc_err mc__json_colour(json_t *obj, const char *path, const char *key,
                            uint32_t def, uint32_t *out, struct mc_error *err);

/* 64 lower-case hex digits. */
bool mc__sha256_valid(const char *s);

/* Member sha256 into out (NUL-terminated); "" when absent. */
enum mc_err mc__json_sha256(json_t *obj, const char *path, const char *key,
                            bool required, char out[65], struct mc_error *err);

/* Most sites, tags or nodes one targets object may list. */
#define MC__TARGETS_MAX 1000

/*
 * Member {"sites":[],"tags":[],"nodes":[]}, each a list of ids; absent
 * gives empty targets (everyone).  On failure t is left empty.
 */
enum mc_err mc__json_targets(json_t *obj, const char *path, const char *key,
                             struct mc_targets *t, struct mc_error *err);

/* Free what mc__json_targets filled and empty t. */
void mc__targets_clear(struct mc_targets *t);

/* Free an array of n strings; NULL is allowed. */
void mc__strv_free(char **v, size_t n);

/* Writers: add key to o; a NULL string is skipped (absent). */
void mc__jset(json_t *o, const char *key, json_t *v, bool *ok);
void mc__jset_str(json_t *o, const char *key, const char *s, bool *ok);
void mc__jset_int(json_t *o, const char *key, int64_t v, bool *ok);
void mc__jset_real(json_t *o, const char *key, double v, bool *ok);
void mc__jset_bool(json_t *o, const char *key, bool v, bool *ok);
void mc__jset_strv(json_t *o, const char *key, char *const *v, size_t n,
                   bool *ok);
void mc__jset_colour(json_t *o, const char *key, uint32_t rgb, bool *ok);
void mc__jset_targets(json_t *o, const char *key, const struct mc_targets *t,
                      bool *ok);

/* A new object or array; clears *ok when jansson fails. */
json_t *mc__jobject(bool *ok);

/*
 * Serialise root compactly with sorted keys and release it.  Returns a
 * malloc()ed string the caller frees, or NULL when !ok or on failure.
 */
char *mc__json_finish(json_t *root, bool ok);

#endif
