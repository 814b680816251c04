/*
 * minecast — ed25519 keys: generation, key files and keyrings.
 *
 * Key files are line-oriented text so that an operator can read, diff and
 * concatenate them; see sign.h for the format.  Parsing is strict: a line
 * that is not exactly a key, or a kid that does not match its key, fails
 * the whole file rather than being skipped.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "minecast/sign.h"
#include "minecast/util.h"
#include "sign_internal.h"

#define PUBLIC_TAG "minecast-ed25519-public"
#define SECRET_TAG "minecast-ed25519-secret"

/* Longest base64 field we try to decode; a 32-byte key needs 44. */
#define B64_FIELD_MAX 128

/* Buffer for the base64 of a 32-byte key, with its NUL. */
#define KEY_B64_SIZE                                                           \
	sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_rc = -1;

static void sodium_start(void)
{
	sodium_rc = sodium_init();
}

enum mc_err mc_sign_init(void)
{
	pthread_once(&sodium_once, sodium_start);
	/* sodium_init returns 1 when already initialised by someone else. */
	return sodium_rc < 0 ? MC_ERR_UNSUPPORTED : MC_OK;
}

void mc_key_id(const unsigned char pk[32], char out[MC_KID_SIZE])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, pk, 32);
	sodium_bin2hex(out, MC_KID_SIZE, h, 8);
}

void mc_secret_key_wipe(struct mc_secret_key *key)
{
	if (key)
		sodium_memzero(key, sizeof(*key));
}

enum mc_err mc_secret_key_from_seed(const unsigned char seed[32],
                                    struct mc_secret_key *out,
                                    struct mc_error *err)
{
	if (mc_sign_init() != MC_OK)
		return mc_error_set(err, MC_ERR_UNSUPPORTED,
		                    "libsodium failed to initialise");
	memcpy(out->seed, seed, 32);
	crypto_sign_seed_keypair(out->pk, out->sk, out->seed);
	mc_key_id(out->pk, out->kid);
	return MC_OK;
}

enum mc_err mc_secret_key_generate(struct mc_secret_key *out,
                                   struct mc_error *err)
{
	unsigned char seed[32];
	enum mc_err rc;

	if (mc_sign_init() != MC_OK)
		return mc_error_set(err, MC_ERR_UNSUPPORTED,
		                    "libsodium failed to initialise");
	randombytes_buf(seed, sizeof(seed));
	rc = mc_secret_key_from_seed(seed, out, err);
	sodium_memzero(seed, sizeof(seed));
	return rc;
}

void mc_public_key_line(const unsigned char pk[32], char out[MC_PUBLINE_SIZE])
{
	char kid[MC_KID_SIZE];
	char b64[KEY_B64_SIZE];

	mc_key_id(pk, kid);
	sodium_bin2base64(b64, sizeof(b64), pk, 32,
	                  sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, MC_PUBLINE_SIZE, PUBLIC_TAG " %s %s", kid, b64);
}

/*
 * One parsed key line: its tag, kid and base64 fields, pointing into a
 * scratch copy of the line.
 */
struct key_line {
	char *tag; /* "minecast-ed25519-public" or "-secret" */
	char *kid; /* as written */
	char *b64; /* as written */
};

/*
 * Split line (modified in place) into three whitespace-separated fields
 * with nothing after them but an optional '#' comment.  Returns 0 for a
 * blank or comment line, 1 for a key line, -1 for anything else.
 */
static int split_line(char *line, struct key_line *kl)
{
	char *fields[3];
	char *p = line;
	int n = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	while (*p && *p != '#') {
		if (n == 3)
			return -1;
		fields[n++] = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '#')
			p++;
		if (*p == '#')
			return -1; /* a comment must be separated by blanks */
		if (*p)
			*p++ = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
	}
	if (n != 3)
		return -1;
	kl->tag = fields[0];
	kl->kid = fields[1];
	kl->b64 = fields[2];
	return 1;
}

/*
 * Decode a key line's base64 field into exactly 32 bytes.  The caller
 * checks the kid, since for a secret line it is the kid of the derived
 * public key.  Scratch bytes are wiped: they may be a seed.
 */
static enum mc_err decode_key(const char *b64, unsigned char *out,
                              const char *where, struct mc_error *err)
{
	unsigned char buf[B64_FIELD_MAX];
	size_t n = 0;
	const char *end = NULL;
	enum mc_err rc = MC_OK;

	if (strlen(b64) > B64_FIELD_MAX) {
		rc = mc_error_set(err, MC_ERR_KEY,
		                  "%s: key field is %zu characters, far too "
		                  "long for a 32-byte key",
		                  where, strlen(b64));
		goto out;
	}
	if (sodium_base642bin(buf, sizeof(buf), b64, strlen(b64), NULL, &n,
	                      &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    *end != '\0') {
		rc = mc_error_set(err, MC_ERR_PARSE,
		                  "%s: key is not valid base64", where);
		goto out;
	}
	if (n != 32) {
		rc = mc_error_set(err, MC_ERR_KEY,
		                  "%s: key is %zu bytes, expected 32", where,
		                  n);
		goto out;
	}
	memcpy(out, buf, 32);
out:
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

bool mc__kid_valid(const char *kid)
{
	if (strlen(kid) != MC_KID_SIZE - 1)
		return false;
	for (const char *p = kid; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

/*
 * Walk the lines of buf, calling one() for each key line.  Stops at the
 * first error.  Lines are copied into a scratch buffer that is wiped
 * afterwards, since secret key files pass through here.
 */
typedef enum mc_err (*line_fn)(struct key_line *kl, const char *where,
                               void *ctx, struct mc_error *err);

static enum mc_err each_line(const char *buf, size_t len, const char *name,
                             line_fn one, void *ctx, struct mc_error *err)
{
	char *copy = NULL;
	enum mc_err rc = MC_OK;
	size_t lineno = 0;
	char *p, *next;

	if (memchr(buf, '\0', len))
		return mc_error_set(err, MC_ERR_PARSE,
		                    "%s: contains a NUL byte; not a key file",
		                    name);
	copy = malloc(len + 1);
	if (!copy)
		return mc_error_set(err, MC_ERR_NOMEM, "%s: out of memory",
		                    name);
	memcpy(copy, buf, len);
	copy[len] = '\0';
	for (p = copy; p && *p; p = next) {
		struct key_line kl;
		char where[512];
		char *nl = strchr(p, '\n');
		size_t l;
		int kind;

		lineno++;
		next = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		l = strlen(p);
		if (l && p[l - 1] == '\r')
			p[l - 1] = '\0';
		snprintf(where, sizeof(where), "%s:%zu", name, lineno);
		kind = split_line(p, &kl);
		if (kind == 0)
			continue;
		if (kind < 0) {
			rc = mc_error_set(err, MC_ERR_PARSE,
			                  "%s: expected '<type> <kid> <base64 "
			                  "key>' with type " PUBLIC_TAG
			                  " or " SECRET_TAG,
			                  where);
			goto out;
		}
		if (strcmp(kl.tag, PUBLIC_TAG) != 0 &&
		    strcmp(kl.tag, SECRET_TAG) != 0) {
			rc = mc_error_set(err, MC_ERR_PARSE,
			                  "%s: unknown key type '%.40s'", where,
			                  kl.tag);
			goto out;
		}
		if (!mc__kid_valid(kl.kid)) {
			rc = mc_error_set(
			        err, MC_ERR_PARSE,
			        "%s: kid must be 16 lower-case hex digits",
			        where);
			goto out;
		}
		rc = one(&kl, where, ctx, err);
		if (rc != MC_OK)
			goto out;
	}
out:
	sodium_memzero(copy, len + 1);
	free(copy);
	return rc;
}

/* ---- secret keys ---- */

/* State of a secret key file parse. */
struct secret_ctx {
	struct mc_secret_key *out; /* where the key goes */
	int found;                 /* key lines seen so far */
};

static enum mc_err secret_line(struct key_line *kl, const char *where,
                               void *ctx, struct mc_error *err)
{
	struct secret_ctx *sc = ctx;
	unsigned char seed[32];
	enum mc_err rc;

	if (strcmp(kl->tag, SECRET_TAG) != 0)
		return mc_error_set(err, MC_ERR_KEY,
		                    "%s: this is a public key line; a secret "
		                    "key file holds one " SECRET_TAG " line",
		                    where);
	if (++sc->found > 1)
		return mc_error_set(err, MC_ERR_KEY,
		                    "%s: more than one secret key in the file",
		                    where);
	rc = decode_key(kl->b64, seed, where, err);
	if (rc == MC_OK)
		rc = mc_secret_key_from_seed(seed, sc->out, err);
	sodium_memzero(seed, sizeof(seed));
	if (rc == MC_OK && strcmp(kl->kid, sc->out->kid) != 0)
		rc = mc_error_set(
		        err, MC_ERR_KEY,
		        "%s: kid %s does not match the key (its kid is %s)",
		        where, kl->kid, sc->out->kid);
	return rc;
}

enum mc_err mc_secret_key_parse(const char *buf, size_t len, const char *name,
                                struct mc_secret_key *out, struct mc_error *err)
{
	struct secret_ctx sc = {out, 0};
	enum mc_err rc;

	mc_secret_key_wipe(out);
	if (mc_sign_init() != MC_OK)
		return mc_error_set(err, MC_ERR_UNSUPPORTED,
		                    "libsodium failed to initialise");
	rc = each_line(buf, len, name, secret_line, &sc, err);
	if (rc == MC_OK && sc.found == 0)
		rc = mc_error_set(err, MC_ERR_KEY, "%s: no " SECRET_TAG " line",
		                  name);
	if (rc != MC_OK)
		mc_secret_key_wipe(out);
	return rc;
}

enum mc_err mc_secret_key_load(const char *path, struct mc_secret_key *out,
                               struct mc_error *err)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	enum mc_err rc;

	mc_secret_key_wipe(out);
	if (stat(path, &st) < 0)
		return mc_error_set(err, MC_ERR_IO, "%s: %s", path,
		                    strerror(errno));
	if (st.st_mode & 077)
		return mc_error_set(err, MC_ERR_KEY,
		                    "%s: secret key is accessible by group or "
		                    "others (mode %04o); run chmod 600",
		                    path, (unsigned)(st.st_mode & 07777));
	rc = mc_read_file(path, MC_MAX_KEYFILE_BYTES, &buf, &len, err);
	if (rc != MC_OK)
		return rc;
	rc = mc_secret_key_parse(buf, len, path, out, err);
	sodium_memzero(buf, len);
	free(buf);
	return rc;
}

enum mc_err mc_secret_key_save(const struct mc_secret_key *key,
                               const char *path, struct mc_error *err)
{
	char b64[KEY_B64_SIZE];
	char line[160];
	int n;
	enum mc_err rc;

	sodium_bin2base64(b64, sizeof(b64), key->seed, 32,
	                  sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(line, sizeof(line), SECRET_TAG " %s %s\n", key->kid, b64);
	rc = mc_write_file_atomic(path, line, (size_t)n, 0600, err);
	sodium_memzero(b64, sizeof(b64));
	sodium_memzero(line, sizeof(line));
	return rc;
}

enum mc_err mc_public_key_save(const struct mc_secret_key *key,
                               const char *path, struct mc_error *err)
{
	char line[MC_PUBLINE_SIZE];
	char *text;
	enum mc_err rc;

	mc_public_key_line(key->pk, line);
	text = mc_printf("# minecast signing public key %s: add this line to "
	                 "the players' trusted keys\n%s\n",
	                 key->kid, line);
	if (!text)
		return mc_error_set(err, MC_ERR_NOMEM, "%s: out of memory",
		                    path);
	rc = mc_write_file_atomic(path, text, strlen(text), 0644, err);
	free(text);
	return rc;
}

/* ---- keyrings ---- */

void mc_keyring_init(struct mc_keyring *kr)
{
	kr->keys = NULL;
	kr->n_keys = 0;
}

void mc_keyring_clear(struct mc_keyring *kr)
{
	if (!kr)
		return;
	MC_FREE(kr->keys);
	kr->n_keys = 0;
}

const struct mc_public_key *mc_keyring_find(const struct mc_keyring *kr,
                                            const char *kid)
{
	for (size_t i = 0; kid && i < kr->n_keys; i++)
		if (strcmp(kr->keys[i].kid, kid) == 0)
			return &kr->keys[i];
	return NULL;
}

enum mc_err mc_keyring_add(struct mc_keyring *kr, const unsigned char pk[32],
                           struct mc_error *err)
{
	struct mc_public_key k, *grown;
	const struct mc_public_key *old;

	if (mc_sign_init() != MC_OK)
		return mc_error_set(err, MC_ERR_UNSUPPORTED,
		                    "libsodium failed to initialise");
	memcpy(k.pk, pk, 32);
	mc_key_id(pk, k.kid);
	old = mc_keyring_find(kr, k.kid);
	if (old && memcmp(old->pk, pk, 32) == 0)
		return MC_OK;
	if (old)
		return mc_error_set(err, MC_ERR_KEY,
		                    "two different keys share kid %s", k.kid);
	grown = realloc(kr->keys, (kr->n_keys + 1) * sizeof(*grown));
	if (!grown)
		return mc_error_set(err, MC_ERR_NOMEM,
		                    "keyring: out of memory");
	grown[kr->n_keys++] = k;
	kr->keys = grown;
	return MC_OK;
}

/* State of a public key file parse. */
struct public_ctx {
	struct mc_keyring *kr; /* keys of this file, added to the real ring
	                        * only when the whole file is good */
	int found;             /* key lines seen */
};

static enum mc_err public_line(struct key_line *kl, const char *where,
                               void *ctx, struct mc_error *err)
{
	struct public_ctx *pc = ctx;
	unsigned char pk[32];
	char kid[MC_KID_SIZE];
	enum mc_err rc;

	if (strcmp(kl->tag, PUBLIC_TAG) != 0)
		return mc_error_set(
		        err, MC_ERR_KEY,
		        "%s: this is a SECRET key; trust the .pub file "
		        "instead, and keep the secret on the controller",
		        where);
	rc = decode_key(kl->b64, pk, where, err);
	if (rc != MC_OK)
		return rc;
	mc_key_id(pk, kid);
	if (strcmp(kid, kl->kid) != 0)
		return mc_error_set(
		        err, MC_ERR_KEY,
		        "%s: kid %s does not match the key (its kid is %s)",
		        where, kl->kid, kid);
	rc = mc_keyring_add(pc->kr, pk, err);
	if (rc == MC_ERR_KEY)
		return mc_error_set(err, rc,
		                    "%s: another key in this file has kid %s",
		                    where, kid);
	if (rc != MC_OK)
		return rc;
	pc->found++;
	return MC_OK;
}

enum mc_err mc_keyring_parse(struct mc_keyring *kr, const char *buf, size_t len,
                             const char *name, struct mc_error *err)
{
	struct mc_keyring staged = {NULL, 0};
	struct public_ctx pc = {&staged, 0};
	enum mc_err rc;

	if (mc_sign_init() != MC_OK)
		return mc_error_set(err, MC_ERR_UNSUPPORTED,
		                    "libsodium failed to initialise");
	rc = each_line(buf, len, name, public_line, &pc, err);
	if (rc != MC_OK)
		goto out;
	if (pc.found == 0) {
		rc = mc_error_set(err, MC_ERR_KEY,
		                  "%s: no " PUBLIC_TAG " lines", name);
		goto out;
	}
	/* Refuse kid clashes with keys already trusted before adding any,
	 * so that a failed file leaves the ring as it was. */
	for (size_t i = 0; i < staged.n_keys; i++) {
		const struct mc_public_key *old =
		        mc_keyring_find(kr, staged.keys[i].kid);

		if (old && memcmp(old->pk, staged.keys[i].pk, 32) != 0) {
			rc = mc_error_set(err, MC_ERR_KEY,
			                  "%s: key %s: a different trusted key "
			                  "has the same kid",
			                  name, staged.keys[i].kid);
			goto out;
		}
	}
	for (size_t i = 0; i < staged.n_keys; i++) {
		rc = mc_keyring_add(kr, staged.keys[i].pk, err);
		if (rc != MC_OK)
			goto out;
	}
out:
	mc_keyring_clear(&staged);
	return rc;
}

enum mc_err mc_keyring_load(struct mc_keyring *kr, const char *path,
                            struct mc_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	enum mc_err rc;

	rc = mc_read_file(path, MC_MAX_KEYFILE_BYTES, &buf, &len, err);
	if (rc != MC_OK)
		return rc;
	rc = mc_keyring_parse(kr, buf, len, path, err);
	free(buf);
	return rc;
}
