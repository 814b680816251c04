/*
 * minecast — signed envelopes, the checks a node runs after verifying
 * one, and sha256 helpers.  Keys and keyrings are in keys.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "minecast/codec.h"
#include "minecast/sign.h"
#include "minecast/util.h"
#include "sign_internal.h"

/* Domain prefix of the signed bytes: a signature over anything else
 * (another protocol, another version) never verifies as ours. */
#define SIGN_DOMAIN "minecast/v1\n"

/* Longest "sig" string we try to decode; 64 bytes need 88 characters. */
#define SIG_FIELD_MAX 256

static const char *const purpose_names[] = {"pointer", "alert", "command"};

const char *mc_purpose_name(enum mc_purpose purpose)
{
	if (purpose >= 0 && (size_t)purpose < MC_ARRAY_LEN(purpose_names))
		return purpose_names[purpose];
	return "any";
}

int mc_purpose_parse(const char *s)
{
	for (size_t i = 0; s && i < MC_ARRAY_LEN(purpose_names); i++)
		if (strcmp(purpose_names[i], s) == 0)
			return (int)i;
	return -1;
}

/*
 * The bytes a signature covers: domain, purpose, newline, body.  Returns
 * a malloc'd buffer and its length in *len, or NULL.
 */
static unsigned char *signed_bytes(enum mc_purpose purpose, const char *body,
                                   size_t body_len, size_t *len)
{
	const char *name = mc_purpose_name(purpose);
	size_t dl = strlen(SIGN_DOMAIN), nl = strlen(name);
	unsigned char *m = malloc(dl + nl + 1 + body_len + 1);

	if (!m)
		return NULL;
	memcpy(m, SIGN_DOMAIN, dl);
	memcpy(m + dl, name, nl);
	m[dl + nl] = '\n';
	memcpy(m + dl + nl + 1, body, body_len);
	*len = dl + nl + 1 + body_len;
	return m;
}

enum mc_err mc_envelope_sign(const struct mc_secret_key *key,
                             enum mc_purpose purpose, const char *body,
                             size_t body_len, char **out, size_t *out_len,
                             struct mc_error *err)
{
	unsigned char sig[crypto_sign_BYTES];
	char sig64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES,
	                                     sodium_base64_VARIANT_ORIGINAL)];
	unsigned char *m = NULL;
	size_t mlen = 0;
	json_error_t jerr;
	json_t *doc = NULL, *env = NULL;
	char *text = NULL;
	enum mc_err rc = MC_OK;

	*out = NULL;
	if (out_len)
		*out_len = 0;
	if (mc_sign_init() != MC_OK)
		return mc_error_set(err, MC_ERR_UNSUPPORTED,
		                    "libsodium failed to initialise");
	if (purpose < MC_PURPOSE_POINTER || purpose > MC_PURPOSE_COMMAND)
		return mc_error_set(
		        err, MC_ERR_INVAL,
		        "purpose: must be pointer, alert or command");
	if (body_len > MC_MAX_ENVELOPE_BYTES) {
		rc = mc_error_set(
		        err, MC_ERR_TOO_LARGE,
		        "body: %zu bytes, larger than the envelope limit of %d",
		        body_len, MC_MAX_ENVELOPE_BYTES);
		goto out;
	}
	/* Only a JSON object is ever signed; this also proves the body is
	 * valid UTF-8, which json_stringn below needs. */
	doc = json_loadb(body, body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc || !json_is_object(doc)) {
		rc = mc_error_set(err, MC_ERR_PARSE, "body: %s",
		                  doc ? "must be a JSON object" : jerr.text);
		goto out;
	}
	m = signed_bytes(purpose, body, body_len, &mlen);
	if (!m) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "sign: out of memory");
		goto out;
	}
	crypto_sign_detached(sig, NULL, m, mlen, key->sk);
	sodium_bin2base64(sig64, sizeof(sig64), sig, sizeof(sig),
	                  sodium_base64_VARIANT_ORIGINAL);
	env = json_object();
	if (!env ||
	    json_object_set_new(env, "format", json_string(MC_SIGN_FORMAT)) ||
	    json_object_set_new(env, "purpose",
	                        json_string(mc_purpose_name(purpose))) ||
	    json_object_set_new(env, "kid", json_string(key->kid)) ||
	    json_object_set_new(env, "sig", json_string(sig64)) ||
	    json_object_set_new(env, "body", json_stringn(body, body_len))) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "sign: out of memory");
		goto out;
	}
	text = json_dumps(env, JSON_COMPACT);
	if (!text) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "sign: out of memory");
		goto out;
	}
	if (strlen(text) > MC_MAX_ENVELOPE_BYTES) {
		rc = mc_error_set(
		        err, MC_ERR_TOO_LARGE,
		        "envelope: %zu bytes, larger than the limit of %d",
		        strlen(text), MC_MAX_ENVELOPE_BYTES);
		goto out;
	}
	if (out_len)
		*out_len = strlen(text);
	*out = text;
	text = NULL;
out:
	free(text);
	free(m);
	json_decref(env);
	json_decref(doc);
	return rc;
}

void mc_signed_clear(struct mc_signed *out)
{
	if (!out)
		return;
	free(out->body);
	memset(out, 0, sizeof(*out));
	out->purpose = MC_PURPOSE_ANY;
}

/*
 * The string member name of env, or NULL with err set (MC_ERR_PARSE)
 * naming the field.
 */
static const char *get_string(json_t *env, const char *name,
                              struct mc_error *err)
{
	json_t *v = json_object_get(env, name);

	if (!v) {
		mc_error_set(err, MC_ERR_PARSE, "%s: missing", name);
		return NULL;
	}
	if (!json_is_string(v)) {
		mc_error_set(err, MC_ERR_PARSE, "%s: must be a string", name);
		return NULL;
	}
	return json_string_value(v);
}

/*
 * s for an error message if it is short printable ASCII, else a
 * placeholder: unverified input must not write control characters or
 * fake lines into a technician's log.
 */
static const char *shown(const char *s)
{
	size_t n = 0;

	for (const char *p = s; *p; p++, n++)
		if (*p < 0x20 || *p > 0x7e || *p == '\'' || n >= 64)
			return "(unprintable or too long)";
	return s;
}

enum mc_err mc_envelope_verify(const struct mc_keyring *kr, const char *buf,
                               size_t len, enum mc_purpose expect,
                               struct mc_signed *out, struct mc_error *err)
{
	unsigned char sig[SIG_FIELD_MAX];
	size_t sig_len = 0;
	const char *sig_end = NULL;
	const struct mc_public_key *key;
	const char *format, *purpose_s, *kid, *sig64;
	json_t *env = NULL, *jbody;
	json_error_t jerr;
	unsigned char *m = NULL;
	size_t mlen = 0;
	int purpose;
	enum mc_err rc = MC_OK;

	memset(out, 0, sizeof(*out));
	out->purpose = MC_PURPOSE_ANY;
	if (mc_sign_init() != MC_OK)
		return mc_error_set(err, MC_ERR_UNSUPPORTED,
		                    "libsodium failed to initialise");
	if (len > MC_MAX_ENVELOPE_BYTES)
		return mc_error_set(
		        err, MC_ERR_TOO_LARGE,
		        "envelope: %zu bytes, larger than the limit of %d", len,
		        MC_MAX_ENVELOPE_BYTES);
	env = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!env) {
		rc = mc_error_set(
		        err, MC_ERR_PARSE,
		        "envelope: not valid JSON (line %d, column %d): %s",
		        jerr.line, jerr.column, jerr.text);
		goto out;
	}
	if (!json_is_object(env)) {
		rc = mc_error_set(err, MC_ERR_PARSE,
		                  "envelope: must be a JSON object");
		goto out;
	}
	format = get_string(env, "format", err);
	if (!format) {
		rc = MC_ERR_PARSE;
		goto out;
	}
	if (strcmp(format, MC_SIGN_FORMAT) != 0) {
		rc = mc_error_set(err, MC_ERR_UNSUPPORTED,
		                  "format: '%.64s' is not supported (this "
		                  "build reads " MC_SIGN_FORMAT ")",
		                  shown(format));
		goto out;
	}
	purpose_s = get_string(env, "purpose", err);
	kid = purpose_s ? get_string(env, "kid", err) : NULL;
	sig64 = kid ? get_string(env, "sig", err) : NULL;
	if (!sig64) {
		rc = MC_ERR_PARSE;
		goto out;
	}
	jbody = json_object_get(env, "body");
	if (!jbody || !json_is_string(jbody)) {
		rc = mc_error_set(err, MC_ERR_PARSE, "body: %s",
		                  jbody ? "must be a string" : "missing");
		goto out;
	}
	if (!mc__kid_valid(kid)) {
		rc = mc_error_set(err, MC_ERR_PARSE,
		                  "kid: must be 16 lower-case hex digits");
		goto out;
	}
	if (strlen(sig64) > SIG_FIELD_MAX ||
	    sodium_base642bin(sig, sizeof(sig), sig64, strlen(sig64), NULL,
	                      &sig_len, &sig_end,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    *sig_end != '\0') {
		rc = mc_error_set(
		        err, MC_ERR_PARSE,
		        "sig: not valid base64 of a 64-byte signature");
		goto out;
	}
	if (sig_len != crypto_sign_BYTES) {
		rc = mc_error_set(err, MC_ERR_PARSE,
		                  "sig: %zu bytes, expected %d", sig_len,
		                  crypto_sign_BYTES);
		goto out;
	}
	purpose = mc_purpose_parse(purpose_s);
	if (purpose < 0) {
		rc = mc_error_set(err, MC_ERR_PURPOSE,
		                  "purpose: '%.32s' is not one of pointer, "
		                  "alert, command",
		                  shown(purpose_s));
		goto out;
	}
	key = mc_keyring_find(kr, kid);
	if (!key) {
		rc = mc_error_set(err, MC_ERR_KEY,
		                  "kid: %s is not a trusted key", kid);
		goto out;
	}
	m = signed_bytes((enum mc_purpose)purpose, json_string_value(jbody),
	                 json_string_length(jbody), &mlen);
	if (!m) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "verify: out of memory");
		goto out;
	}
	if (crypto_sign_verify_detached(sig, m, mlen, key->pk) != 0) {
		rc = mc_error_set(err, MC_ERR_SIG,
		                  "sig: signature by key %s does not verify "
		                  "(altered or forged)",
		                  kid);
		goto out;
	}
	/* Only now is the purpose known to be the signer's. */
	if (expect != MC_PURPOSE_ANY && purpose != (int)expect) {
		rc = mc_error_set(err, MC_ERR_PURPOSE,
		                  "purpose: signed for %s, expected %s",
		                  purpose_s, mc_purpose_name(expect));
		goto out;
	}
	out->body = malloc(json_string_length(jbody) + 1);
	if (!out->body) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "verify: out of memory");
		goto out;
	}
	memcpy(out->body, json_string_value(jbody), json_string_length(jbody));
	out->body[json_string_length(jbody)] = '\0';
	out->body_len = json_string_length(jbody);
	out->purpose = (enum mc_purpose)purpose;
	memcpy(out->kid, kid, MC_KID_SIZE);
out:
	free(m);
	json_decref(env);
	return rc;
}

/* ---- checks ---- */

enum mc_err mc_pointer_check(const struct mc_pointer *p, const char *node,
                             int64_t applied_version, int64_t now_ms,
                             struct mc_error *err)
{
	if (node && (!p->node || strcmp(p->node, node) != 0))
		return mc_error_set(
		        err, MC_ERR_NODE,
		        "node: pointer is for '%.64s', this node is '%.64s'",
		        p->node ? p->node : "", node);
	if (p->version <= applied_version)
		return mc_error_set(
		        err, MC_ERR_REPLAY,
		        "version: %lld is not newer than the applied version "
		        "%lld (replayed or rolled back)",
		        (long long)p->version, (long long)applied_version);
	if (now_ms >= p->expires_ms)
		return mc_error_set(
		        err, MC_ERR_EXPIRED,
		        "expires_ms: pointer expired at %lld, now is %lld",
		        (long long)p->expires_ms, (long long)now_ms);
	return MC_OK;
}

enum mc_err mc_alert_check(const struct mc_alert *a, const struct mc_who *who,
                           int64_t last_seq, int64_t now_ms,
                           struct mc_error *err)
{
	const char *id = a->id ? a->id : "";

	if (now_ms >= a->expires_ms)
		return mc_error_set(err, MC_ERR_EXPIRED,
		                    "expires_ms: alert '%.64s' expired at "
		                    "%lld, now is %lld",
		                    id, (long long)a->expires_ms,
		                    (long long)now_ms);
	if (a->seq <= last_seq)
		return mc_error_set(err, MC_ERR_REPLAY,
		                    "seq: %lld is not newer than %lld already "
		                    "seen for alert '%.64s'",
		                    (long long)a->seq, (long long)last_seq, id);
	if (who && !mc_targets_match(&a->targets, who))
		return mc_error_set(
		        err, MC_ERR_NODE,
		        "targets: alert '%.64s' is not for this node", id);
	return MC_OK;
}

enum mc_err mc_command_check(const struct mc_command *c, const char *node,
                             int64_t now_ms, struct mc_error *err)
{
	if (node && (!c->node || strcmp(c->node, node) != 0))
		return mc_error_set(
		        err, MC_ERR_NODE,
		        "node: command is for '%.64s', this node is '%.64s'",
		        c->node ? c->node : "", node);
	if (now_ms >= c->expires_ms)
		return mc_error_set(
		        err, MC_ERR_EXPIRED,
		        "expires_ms: command expired at %lld, now is %lld",
		        (long long)c->expires_ms, (long long)now_ms);
	return MC_OK;
}

/* Prefix a body parser's message with "body: " so it reads in context. */
static enum mc_err body_error(enum mc_err rc, struct mc_error *err)
{
	char msg[MC_ERROR_MSG_MAX];

	if (!err)
		return rc;
	memcpy(msg, err->msg, sizeof(msg));
	msg[sizeof(msg) - 1] = '\0';
	return mc_error_set(err, rc, "body: %s", msg);
}

enum mc_err mc_pointer_open(const struct mc_keyring *kr, const char *buf,
                            size_t len, const char *node,
                            int64_t applied_version, int64_t now_ms,
                            struct mc_pointer *out, struct mc_error *err)
{
	struct mc_signed s;
	enum mc_err rc;

	memset(out, 0, sizeof(*out));
	rc = mc_envelope_verify(kr, buf, len, MC_PURPOSE_POINTER, &s, err);
	if (rc != MC_OK)
		return rc;
	rc = mc_pointer_parse(s.body, s.body_len, out, err);
	if (rc != MC_OK) {
		body_error(rc, err);
		goto out;
	}
	rc = mc_pointer_check(out, node, applied_version, now_ms, err);
out:
	if (rc != MC_OK) {
		mc_pointer_clear(out);
		memset(out, 0, sizeof(*out));
	}
	mc_signed_clear(&s);
	return rc;
}

enum mc_err mc_alert_open(const struct mc_keyring *kr, const char *buf,
                          size_t len, const struct mc_who *who,
                          int64_t last_seq, int64_t now_ms,
                          struct mc_alert *out, struct mc_error *err)
{
	struct mc_signed s;
	enum mc_err rc;

	memset(out, 0, sizeof(*out));
	rc = mc_envelope_verify(kr, buf, len, MC_PURPOSE_ALERT, &s, err);
	if (rc != MC_OK)
		return rc;
	rc = mc_alert_parse(s.body, s.body_len, out, err);
	if (rc != MC_OK) {
		body_error(rc, err);
		goto out;
	}
	rc = mc_alert_check(out, who, last_seq, now_ms, err);
out:
	if (rc != MC_OK) {
		mc_alert_clear(out);
		memset(out, 0, sizeof(*out));
	}
	mc_signed_clear(&s);
	return rc;
}

enum mc_err mc_command_open(const struct mc_keyring *kr, const char *buf,
                            size_t len, const char *node, int64_t now_ms,
                            struct mc_command *out, struct mc_error *err)
{
	struct mc_signed s;
	enum mc_err rc;

	memset(out, 0, sizeof(*out));
	rc = mc_envelope_verify(kr, buf, len, MC_PURPOSE_COMMAND, &s, err);
	if (rc != MC_OK)
		return rc;
	rc = mc_command_parse(s.body, s.body_len, out, err);
	if (rc != MC_OK) {
		body_error(rc, err);
		goto out;
	}
	rc = mc_command_check(out, node, now_ms, err);
out:
	if (rc != MC_OK) {
		mc_command_clear(out);
		memset(out, 0, sizeof(*out));
	}
	mc_signed_clear(&s);
	return rc;
}

/* ---- sha256 ---- */

void mc_sha256_hex(const void *data, size_t len, char out[MC_SHA256_HEX_SIZE])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	mc_sign_init();
	crypto_hash_sha256(h, data, len);
	sodium_bin2hex(out, MC_SHA256_HEX_SIZE, h, sizeof(h));
}

enum mc_err mc_sha256_file(const char *path, char out[MC_SHA256_HEX_SIZE],
                           int64_t *size, struct mc_error *err)
{
	crypto_hash_sha256_state st;
	unsigned char h[crypto_hash_sha256_BYTES];
	unsigned char *buf = NULL;
	const size_t chunk = 64 * 1024;
	int64_t total = 0;
	enum mc_err rc = MC_OK;
	int fd = -1;

	out[0] = '\0';
	if (size)
		*size = 0;
	mc_sign_init();
	buf = malloc(chunk);
	if (!buf)
		return mc_error_set(err, MC_ERR_NOMEM, "%s: out of memory",
		                    path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = mc_error_set(err, MC_ERR_IO, "%s: %s", path,
		                  strerror(errno));
		goto out;
	}
	crypto_hash_sha256_init(&st);
	for (;;) {
		ssize_t r = read(fd, buf, chunk);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = mc_error_set(err, MC_ERR_IO, "%s: %s", path,
			                  strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		crypto_hash_sha256_update(&st, buf, (unsigned long long)r);
		total += r;
	}
	crypto_hash_sha256_final(&st, h);
	sodium_bin2hex(out, MC_SHA256_HEX_SIZE, h, sizeof(h));
	if (size)
		*size = total;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}
