/* minecast — typed JSON readers and writers that name the field path. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_help.h"
#include "minecast/text.h"

void mc__json_path(char *buf, size_t n, const char *parent, const char *key)
{
	if (parent && parent[0])
		snprintf(buf, n, "%s.%s", parent, key);
	else
		snprintf(buf, n, "%s", key);
}

void mc__json_path_index(char *buf, size_t n, const char *parent,
                         const char *key, size_t i)
{
	if (parent && parent[0])
		snprintf(buf, n, "%s.%s[%zu]", parent, key, i);
	else
		snprintf(buf, n, "%s[%zu]", key, i);
}

enum mc_err mc__json_parse(const char *buf, size_t len, size_t max,
                           const char *what, json_t **out, struct mc_error *err)
{
	json_error_t jerr;
	json_t *root;
	enum mc_err rc;

	*out = NULL;
	if (!buf)
		return mc_error_set(err, MC_ERR_INVAL, "%s: no input", what);
	/* Refuse before parsing, so an oversized input costs nothing. */
	if (len > max)
		return mc_error_set(
		        err, MC_ERR_TOO_LARGE,
		        "%s: %zu bytes, larger than the limit of %zu bytes",
		        what, len, max);
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		switch (json_error_code(&jerr)) {
		case json_error_invalid_utf8: rc = MC_ERR_UTF8; break;
		case json_error_out_of_memory: rc = MC_ERR_NOMEM; break;
		default: rc = MC_ERR_PARSE; break;
		}
		return mc_error_set(err, rc, "%s: line %d column %d: %s", what,
		                    jerr.line, jerr.column, jerr.text);
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return mc_error_set(err, MC_ERR_TYPE,
		                    "%s: must be a JSON object", what);
	}
	*out = root;
	return MC_OK;
}

enum mc_err mc__json_version(json_t *root, struct mc_error *err)
{
	int64_t v = 1;
	enum mc_err rc;

	/*
	 * Read without an upper bound first, so that a newer version is
	 * reported as unsupported rather than as out of range.
	 */
	rc = mc__json_int(root, "", "v", MC__OPTIONAL, 1, INT64_MAX, 1, &v,
	                  err);
	if (rc != MC_OK)
		return rc;
	if (v > 1)
		return mc_error_set(
		        err, MC_ERR_UNSUPPORTED,
		        "v: protocol version %" PRId64
		        " is not supported (this build speaks version 1)",
		        v);
	return MC_OK;
}

json_t *mc__json_member(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_null(v) ? NULL : v;
}

/*
 * Look up key; fail when it is required and absent.  *v is NULL for an
 * absent optional field.
 */
static enum mc_err member(json_t *obj, const char *field, const char *key,
                          bool required, json_t **v, struct mc_error *err)
{
	*v = mc__json_member(obj, key);
	if (!*v && required)
		return mc_error_set(err, MC_ERR_MISSING, "%s: required", field);
	return MC_OK;
}

enum mc_err mc__json_object(json_t *obj, const char *path, const char *key,
                            bool required, json_t **out, struct mc_error *err)
{
	char field[MC__PATH_MAX];
	enum mc_err rc;
	json_t *v;

	*out = NULL;
	mc__json_path(field, sizeof(field), path, key);
	rc = member(obj, field, key, required, &v, err);
	if (rc != MC_OK || !v)
		return rc;
	if (!json_is_object(v))
		return mc_error_set(err, MC_ERR_TYPE, "%s: must be an object",
		                    field);
	*out = v;
	return MC_OK;
}

enum mc_err mc__json_array(json_t *obj, const char *path, const char *key,
                           bool required, size_t max, json_t **out,
                           struct mc_error *err)
{
	char field[MC__PATH_MAX];
	enum mc_err rc;
	json_t *v;

	*out = NULL;
	mc__json_path(field, sizeof(field), path, key);
	rc = member(obj, field, key, required, &v, err);
	if (rc != MC_OK || !v)
		return rc;
	if (!json_is_array(v))
		return mc_error_set(err, MC_ERR_TYPE, "%s: must be an array",
		                    field);
	if (json_array_size(v) > max)
		return mc_error_set(
		        err, MC_ERR_TOO_LARGE,
		        "%s: %zu elements, more than the limit of %zu", field,
		        json_array_size(v), max);
	*out = v;
	return MC_OK;
}

enum mc_err mc__json_string_value(json_t *v, const char *field, size_t max,
                                  mc__str_valid_fn valid, const char *desc,
                                  char **out, struct mc_error *err)
{
	char *s = NULL;
	enum mc_err rc;

	*out = NULL;
	if (!json_is_string(v))
		return mc_error_set(err, MC_ERR_TYPE, "%s: must be a string",
		                    field);
	rc = mc_text_normalize(json_string_value(v), json_string_length(v), max,
	                       field, &s, err);
	if (rc != MC_OK)
		return rc;
	if (valid && !valid(s)) {
		/* Quote only a short prefix; the value may be hostile. */
		rc = mc_error_set(err, MC_ERR_RANGE, "%s: \"%.40s\" must be %s",
		                  field, s, desc);
		free(s);
		return rc;
	}
	*out = s;
	return MC_OK;
}

enum mc_err mc__json_string_check(json_t *obj, const char *path,
                                  const char *key, bool required, size_t max,
                                  mc__str_valid_fn valid, const char *desc,
                                  char **out, struct mc_error *err)
{
	char field[MC__PATH_MAX];
	enum mc_err rc;
	json_t *v;

	*out = NULL;
	mc__json_path(field, sizeof(field), path, key);
	rc = member(obj, field, key, required, &v, err);
	if (rc != MC_OK || !v)
		return rc;
	return mc__json_string_value(v, field, max, valid, desc, out, err);
}

enum mc_err mc__json_string(json_t *obj, const char *path, const char *key,
                            bool required, size_t max, char **out,
                            struct mc_error *err)
{
	return mc__json_string_check(obj, path, key, required, max, NULL, NULL,
	                             out, err);
}

enum mc_err mc__json_id(json_t *obj, const char *path, const char *key,
                        bool required, char **out, struct mc_error *err)
{
	return mc__json_string_check(
	        obj, path, key, required, MC__NAME_MAX, mc_id_valid,
	        "an id of 1..64 characters [A-Za-z0-9._-]", out, err);
}

enum mc_err mc__json_int(json_t *obj, const char *path, const char *key,
                         bool required, int64_t min, int64_t max, int64_t def,
                         int64_t *out, struct mc_error *err)
{
	char field[MC__PATH_MAX];
	enum mc_err rc;
	json_int_t i;
	json_t *v;

	mc__json_path(field, sizeof(field), path, key);
	rc = member(obj, field, key, required, &v, err);
	if (rc != MC_OK)
		return rc;
	if (!v) {
		*out = def;
		return MC_OK;
	}
	if (!json_is_integer(v))
		return mc_error_set(err, MC_ERR_TYPE,
		                    "%s: must be an integer %" PRId64
		                    "..%" PRId64,
		                    field, min, max);
	i = json_integer_value(v);
	if (i < min || i > max)
		return mc_error_set(err, MC_ERR_RANGE,
		                    "%s: %lld is out of range %" PRId64
		                    "..%" PRId64,
		                    field, (long long)i, min, max);
	*out = (int64_t)i;
	return MC_OK;
}

enum mc_err mc__json_int32(json_t *obj, const char *path, const char *key,
                           bool required, int min, int max, int def, int *out,
                           struct mc_error *err)
{
	int64_t v;
	enum mc_err rc;

	rc = mc__json_int(obj, path, key, required, min, max, def, &v, err);
	if (rc == MC_OK)
		*out = (int)v;
	return rc;
}

enum mc_err mc__json_double(json_t *obj, const char *path, const char *key,
                            bool required, double min, double max, double def,
                            double *out, struct mc_error *err)
{
	char field[MC__PATH_MAX];
	enum mc_err rc;
	double d;
	json_t *v;

	mc__json_path(field, sizeof(field), path, key);
	rc = member(obj, field, key, required, &v, err);
	if (rc != MC_OK)
		return rc;
	if (!v) {
		*out = def;
		return MC_OK;
	}
	if (!json_is_number(v))
		return mc_error_set(err, MC_ERR_TYPE,
		                    "%s: must be a number %g..%g", field, min,
		                    max);
	d = json_number_value(v);
	if (!isfinite(d) || d < min || d > max)
		return mc_error_set(err, MC_ERR_RANGE,
		                    "%s: %g is out of range %g..%g", field, d,
		                    min, max);
	*out = d;
	return MC_OK;
}

enum mc_err mc__json_bool(json_t *obj, const char *path, const char *key,
                          bool required, bool def, bool *out,
                          struct mc_error *err)
{
	char field[MC__PATH_MAX];
	enum mc_err rc;
	json_t *v;

	mc__json_path(field, sizeof(field), path, key);
	rc = member(obj, field, key, required, &v, err);
	if (rc != MC_OK)
		return rc;
	if (!v) {
		*out = def;
		return MC_OK;
	}
	if (!json_is_boolean(v))
		return mc_error_set(err, MC_ERR_TYPE,
		                    "%s: must be true or false", field);
	*out = json_is_true(v);
	return MC_OK;
}

enum mc_err mc__json_enum(json_t *obj, const char *path, const char *key,
                          bool required, int (*parse)(const char *s),
                          const char *choices, int def, int *out,
                          struct mc_error *err)
{
	char field[MC__PATH_MAX];
	enum mc_err rc;
	json_t *v;
	int e;

	mc__json_path(field, sizeof(field), path, key);
	rc = member(obj, field, key, required, &v, err);
	if (rc != MC_OK)
		return rc;
	if (!v) {
		*out = def;
		return MC_OK;
	}
	if (!json_is_string(v))
		return mc_error_set(err, MC_ERR_TYPE,
		                    "%s: must be a string, one of %s", field,
		                    choices);
	/* Enum names are ASCII; jansson has already checked the UTF-8. */
	e = parse(json_string_value(v));
	if (e < 0 || strlen(json_string_value(v)) != json_string_length(v))
		return mc_error_set(err, MC_ERR_RANGE,
		                    "%s: \"%.40s\" is not one of %s", field,
		                    json_string_value(v), choices);
	*out = e;
	return MC_OK;
}

void mc__strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

enum mc_err mc__json_strv(json_t *obj, const char *path, const char *key,
                          size_t max_items, size_t max_len,
                          mc__str_valid_fn valid, const char *desc, char ***out,
                          size_t *n, struct mc_error *err)
{
	char field[MC__PATH_MAX];
	char **v = NULL;
	size_t count, got = 0;
	enum mc_err rc;
	json_t *arr;

	*out = NULL;
	*n = 0;
	rc = mc__json_array(obj, path, key, MC__OPTIONAL, max_items, &arr, err);
	if (rc != MC_OK || !arr)
		return rc;
	count = json_array_size(arr);
	if (count == 0)
		return MC_OK;
	v = calloc(count, sizeof(*v));
	if (!v) {
		mc__json_path(field, sizeof(field), path, key);
		return mc_error_set(err, MC_ERR_NOMEM, "%s: out of memory",
		                    field);
	}
	for (; got < count; got++) {
		mc__json_path_index(field, sizeof(field), path, key, got);
		rc = mc__json_string_value(json_array_get(arr, got), field,
		                           max_len, valid, desc, &v[got], err);
		if (rc != MC_OK)
			goto fail;
	}
	*out = v;
	*n = count;
	return MC_OK;

fail:
	mc__strv_free(v, got);
	return rc;
}

enum mc_err mc__json_targets(json_t *obj, const char *path, const char *key,
                             struct mc_targets *t, struct mc_error *err)
{
	static const char id_desc[] =
	        "an id of 1..64 characters [A-Za-z0-9._-]";
	char field[MC__PATH_MAX];
	enum mc_err rc;
	json_t *o;

	memset(t, 0, sizeof(*t));
	rc = mc__json_object(obj, path, key, MC__OPTIONAL, &o, err);
	if (rc != MC_OK || !o)
		return rc;
	mc__json_path(field, sizeof(field), path, key);
	rc = mc__json_strv(o, field, "sites", MC__TARGETS_MAX, MC__NAME_MAX,
	                   mc_id_valid, id_desc, &t->sites, &t->n_sites, err);
	if (rc == MC_OK)
		rc = mc__json_strv(o, field, "tags", MC__TARGETS_MAX,
		                   MC__NAME_MAX, mc_id_valid, id_desc, &t->tags,
		                   &t->n_tags, err);
	if (rc == MC_OK)
		rc = mc__json_strv(o, field, "nodes", MC__TARGETS_MAX,
		                   MC__NAME_MAX, mc_id_valid, id_desc,
		                   &t->nodes, &t->n_nodes, err);
	if (rc != MC_OK)
		mc__targets_clear(t);
	return rc;
}

void mc__targets_clear(struct mc_targets *t)
{
	mc__strv_free(t->sites, t->n_sites);
	mc__strv_free(t->tags, t->n_tags);
	mc__strv_free(t->nodes, t->n_nodes);
	memset(t, 0, sizeof(*t));
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

enum mc_err mc__json_colour(json_t *obj, const char *path, const char *key,
                            uint32_t def, uint32_t *out, struct mc_error *err)
{
	char field[MC__PATH_MAX];
	const char *s;
	uint32_t rgb = 0;
	enum mc_err rc;
	json_t *v;

	mc__json_path(field, sizeof(field), path, key);
	rc = member(obj, field, key, MC__OPTIONAL, &v, err);
	if (rc != MC_OK)
		return rc;
	if (!v) {
		*out = def;
		return MC_OK;
	}
	if (!json_is_string(v))
		return mc_error_set(err, MC_ERR_TYPE,
		                    "%s: must be a colour string \"#RRGGBB\"",
		                    field);
	s = json_string_value(v);
	if (json_string_length(v) != 7 || s[0] != '#')
		goto bad;
	for (int i = 1; i < 7; i++) {
		int d = hex_digit(s[i]);

		if (d < 0)
			goto bad;
		rgb = rgb << 4 | (uint32_t)d;
	}
	*out = rgb;
	return MC_OK;

bad:
	return mc_error_set(err, MC_ERR_RANGE,
	                    "%s: \"%.40s\" is not a colour \"#RRGGBB\"", field,
	                    s);
}

bool mc__sha256_valid(const char *s)
{
	size_t i;

	for (i = 0; s && s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == 64;
}

enum mc_err mc__json_sha256(json_t *obj, const char *path, const char *key,
                            bool required, char out[65], struct mc_error *err)
{
	char *s = NULL;
	enum mc_err rc;

	out[0] = '\0';
	rc = mc__json_string_check(obj, path, key, required, 64,
	                           mc__sha256_valid, "64 lower-case hex digits",
	                           &s, err);
	if (rc == MC_ERR_TOO_LARGE) {
		/* A long value is a malformed hash, not a long text. */
		char field[MC__PATH_MAX];

		mc__json_path(field, sizeof(field), path, key);
		rc = mc_error_set(err, MC_ERR_RANGE,
		                  "%s: must be 64 lower-case hex digits",
		                  field);
	}
	if (rc == MC_OK && s)
		memcpy(out, s, 65);
	free(s);
	return rc;
}

void mc__jset(json_t *o, const char *key, json_t *v, bool *ok)
{
	/* json_object_set_new releases v even when it fails. */
	if (!v || json_object_set_new(o, key, v) != 0)
		*ok = false;
}

void mc__jset_str(json_t *o, const char *key, const char *s, bool *ok)
{
	if (s)
		mc__jset(o, key, json_string(s), ok);
}

void mc__jset_int(json_t *o, const char *key, int64_t v, bool *ok)
{
	mc__jset(o, key, json_integer((json_int_t)v), ok);
}

void mc__jset_real(json_t *o, const char *key, double v, bool *ok)
{
	mc__jset(o, key, json_real(v), ok);
}

void mc__jset_bool(json_t *o, const char *key, bool v, bool *ok)
{
	mc__jset(o, key, json_boolean(v), ok);
}

void mc__jset_strv(json_t *o, const char *key, char *const *v, size_t n,
                   bool *ok)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++)
		if (json_array_append_new(arr, json_string(v[i])) != 0)
			*ok = false;
	mc__jset(o, key, arr, ok);
}

void mc__jset_colour(json_t *o, const char *key, uint32_t rgb, bool *ok)
{
	char buf[8];

	snprintf(buf, sizeof(buf), "#%06X", (unsigned)(rgb & 0xFFFFFF));
	mc__jset_str(o, key, buf, ok);
}

void mc__jset_targets(json_t *o, const char *key, const struct mc_targets *t,
                      bool *ok)
{
	json_t *obj = mc__jobject(ok);

	if (!obj)
		return;
	mc__jset_strv(obj, "sites", t->sites, t->n_sites, ok);
	mc__jset_strv(obj, "tags", t->tags, t->n_tags, ok);
	mc__jset_strv(obj, "nodes", t->nodes, t->n_nodes, ok);
	mc__jset(o, key, obj, ok);
}

json_t *mc__jobject(bool *ok)
{
	json_t *o = json_object();

	if (!o)
		*ok = false;
	return o;
}

char *mc__json_finish(json_t *root, bool ok)
{
	char *s = NULL;

	if (root && ok)
		s = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(root);
	return s;
}
