/*
 * minecast — signing keys, signed envelopes and the checks a node runs on
 * what it receives; sha256 of buffers and files.  libsodium underneath.
 *
 * A hijacked loudspeaker is the incident this module exists to prevent.
 * The controller signs every desired-state pointer, alert and command
 * with an ed25519 key; a node trusts only the public keys in its keyring,
 * and after the signature it checks that the document is for it, newer
 * than what it applied, and not expired.  docs/signing.md is the
 * operator's guide (keys, rotation, order of checks).
 *
 * Envelope (exactly what travels on the wire):
 *   {"format":"minecast-signed/1","purpose":"pointer"|"alert"|"command",
 *    "kid":"<16 hex>","sig":"<base64 of 64 bytes>","body":"<JSON text>"}
 * The signed bytes are "minecast/v1\n" + purpose + "\n" + body, so a
 * signature for one purpose never verifies as another.
 *
 * Key files, one key per line, '#' comments and blank lines allowed:
 *   minecast-ed25519-public <kid> <base64 of the 32-byte public key>
 *   minecast-ed25519-secret <kid> <base64 of the 32-byte seed>   (0600)
 * The kid is the lower-case hex of the first 8 bytes of sha256(public key).
 *
 * Every function initialises libsodium on first use (once, thread-safe).
 * A loaded struct mc_keyring is read-only and may be shared by threads.
 */
#ifndef MINECAST_SIGN_H
#define MINECAST_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minecast/error.h"
#include "minecast/messages.h"
#include "minecast/model.h"

/* The envelope's "format" value this build reads and writes. */
#define MC_SIGN_FORMAT "minecast-signed/1"

/* Bytes of a key id string: 16 hex digits and the NUL. */
#define MC_KID_SIZE 17

/* Bytes of a sha256 hex string: 64 hex digits and the NUL. */
#define MC_SHA256_HEX_SIZE 65

/* Largest key file accepted by the loaders. */
#define MC_MAX_KEYFILE_BYTES (256 * 1024)

/* What a signature is for; part of the signed bytes. */
enum mc_purpose {
	MC_PURPOSE_ANY = -1,    /* mc_envelope_verify only: accept any */
	MC_PURPOSE_POINTER = 0, /* desired-state pointer, node/<id>/desired */
	MC_PURPOSE_ALERT,       /* urgent alert, alert/<id> */
	MC_PURPOSE_COMMAND      /* remote command, node/<id>/cmd */
};

/* A signing key.  Wipe with mc_secret_key_wipe() when done. */
struct mc_secret_key {
	unsigned char seed[32]; /* the secret: what the key file holds */
	unsigned char sk[64];   /* libsodium's expanded secret (seed||pk) */
	unsigned char pk[32];   /* the matching public key */
	char kid[MC_KID_SIZE];  /* key id of pk */
};

/* A trusted public key. */
struct mc_public_key {
	unsigned char pk[32];  /* ed25519 public key */
	char kid[MC_KID_SIZE]; /* key id of pk */
};

/*
 * The public keys a node (or minecastctl verify) trusts.  Zero-initialise
 * (or mc_keyring_init), fill with mc_keyring_load/parse/add, release with
 * mc_keyring_clear.  The keys array is owned by the keyring.
 */
struct mc_keyring {
	struct mc_public_key *keys; /* n_keys trusted keys, distinct kids */
	size_t n_keys;
};

/*
 * A verified envelope.  body is owned (free with mc_signed_clear) and
 * NUL-terminated; it is exactly the bytes the signature covers.
 */
struct mc_signed {
	enum mc_purpose purpose; /* what it was signed for */
	char kid[MC_KID_SIZE];   /* which trusted key signed it */
	char *body;              /* the document JSON */
	size_t body_len;         /* bytes of body without the NUL */
};

/*
 * Initialise libsodium.  Called by every function here, so calling it is
 * optional; a daemon may call it at start to fail early.  Returns MC_OK or
 * MC_ERR_UNSUPPORTED if libsodium cannot start (no entropy source).
 */
enum mc_err mc_sign_init(void);

/* "pointer", "alert", "command"; "any" for MC_PURPOSE_ANY. */
const char *mc_purpose_name(enum mc_purpose purpose);

/* Parse those names (not "any"); returns -1 when unknown. */
int mc_purpose_parse(const char *s);

/* Key id of a public key into out (16 lower-case hex digits). */
void mc_key_id(const unsigned char pk[32], char out[MC_KID_SIZE]);

/* ---- secret keys (controller side) ---- */

/* Create a new random key. */
enum mc_err mc_secret_key_generate(struct mc_secret_key *out,
                                   struct mc_error *err);

/* Derive the key of a 32-byte seed (tests, fixed fuzz keys). */
enum mc_err mc_secret_key_from_seed(const unsigned char seed[32],
                                    struct mc_secret_key *out,
                                    struct mc_error *err);

/* Overwrite every byte of key with zeros (sodium_memzero).  NULL is ok. */
void mc_secret_key_wipe(struct mc_secret_key *key);

/*
 * Parse the text of a secret key file: exactly one
 * "minecast-ed25519-secret" line, comments and blank lines allowed.  name
 * labels errors ("ctl.key:3: ...").  The kid on the line must match the
 * key.  On failure *out is wiped.
 */
enum mc_err mc_secret_key_parse(const char *buf, size_t len, const char *name,
                                struct mc_secret_key *out,
                                struct mc_error *err);

/*
 * Read a secret key file.  Refuses (MC_ERR_KEY) a file that group or
 * others may read or write, as ssh does: a leaked controller key lets
 * anyone drive every loudspeaker.  Buffers holding the seed are wiped.
 */
enum mc_err mc_secret_key_load(const char *path, struct mc_secret_key *out,
                               struct mc_error *err);

/* Write the secret key file (mode 0600, atomically). */
enum mc_err mc_secret_key_save(const struct mc_secret_key *key,
                               const char *path, struct mc_error *err);

/*
 * Write the public key file of key (mode 0644, atomically): a comment
 * line and one "minecast-ed25519-public" line.
 */
enum mc_err mc_public_key_save(const struct mc_secret_key *key,
                               const char *path, struct mc_error *err);

/*
 * The "minecast-ed25519-public <kid> <base64>" line of a public key,
 * without newline, into out (at least MC_PUBLINE_SIZE bytes).
 */
#define MC_PUBLINE_SIZE 96
void mc_public_key_line(const unsigned char pk[32], char out[MC_PUBLINE_SIZE]);

/* ---- keyrings (node side) ---- */

void mc_keyring_init(struct mc_keyring *kr);

/* Free the keys; kr is left empty and reusable.  NULL is ok. */
void mc_keyring_clear(struct mc_keyring *kr);

/*
 * Add one public key.  Adding a key already present is a no-op; a
 * different key with the same kid fails with MC_ERR_KEY.
 */
enum mc_err mc_keyring_add(struct mc_keyring *kr, const unsigned char pk[32],
                           struct mc_error *err);

/*
 * Add every "minecast-ed25519-public" line of buf.  Any bad line fails the
 * whole call (MC_ERR_PARSE for syntax, MC_ERR_KEY for a wrong key length
 * or a kid that does not match its key) and adds nothing, so that a typo
 * never silently drops a trusted key.  name labels errors ("keys.pub:4:").
 * A text without any key fails with MC_ERR_KEY.
 */
enum mc_err mc_keyring_parse(struct mc_keyring *kr, const char *buf, size_t len,
                             const char *name, struct mc_error *err);

/* Read path (at most MC_MAX_KEYFILE_BYTES) and mc_keyring_parse it. */
enum mc_err mc_keyring_load(struct mc_keyring *kr, const char *path,
                            struct mc_error *err);

/* The key with this kid, or NULL.  Borrowed from kr. */
const struct mc_public_key *mc_keyring_find(const struct mc_keyring *kr,
                                            const char *kid);

/* ---- envelopes ---- */

/*
 * Sign body (a JSON object, valid UTF-8) for purpose and return the
 * envelope JSON in *out (NUL-terminated, caller frees) and its length in
 * *out_len (may be NULL).  Fails with MC_ERR_PARSE if body is not a JSON
 * object and MC_ERR_TOO_LARGE if the envelope would exceed
 * MC_MAX_ENVELOPE_BYTES.
 */
enum mc_err mc_envelope_sign(const struct mc_secret_key *key,
                             enum mc_purpose purpose, const char *body,
                             size_t body_len, char **out, size_t *out_len,
                             struct mc_error *err);

/*
 * Verify an envelope against kr.  expect is the purpose the caller wants,
 * or MC_PURPOSE_ANY.  Checked in this order, the first failure wins:
 *   MC_ERR_TOO_LARGE   len > MC_MAX_ENVELOPE_BYTES (before parsing)
 *   MC_ERR_PARSE       not a JSON object, or "format" missing
 *   MC_ERR_UNSUPPORTED "format" is not MC_SIGN_FORMAT
 *   MC_ERR_PARSE       another field missing or malformed; the message
 *                      names it ("sig: not valid base64")
 *   MC_ERR_PURPOSE     "purpose" is not a known purpose
 *   MC_ERR_KEY         "kid" is not in kr
 *   MC_ERR_SIG         the signature does not verify
 *   MC_ERR_PURPOSE     authentic, but signed for another purpose
 * On success *out holds the purpose, kid and exact body bytes; on failure
 * it is cleared.  The body is not parsed: see mc_pointer_open and friends.
 */
enum mc_err mc_envelope_verify(const struct mc_keyring *kr, const char *buf,
                               size_t len, enum mc_purpose expect,
                               struct mc_signed *out, struct mc_error *err);

/* Free out->body and zero *out.  NULL is ok. */
void mc_signed_clear(struct mc_signed *out);

/* ---- checks after verification ---- */

/*
 * A node's checks on a verified pointer, in this order:
 *   MC_ERR_NODE     p->node differs from node (skipped if node is NULL,
 *                   which only offline tools do)
 *   MC_ERR_REPLAY   p->version <= applied_version, the highest version
 *                   this node ever applied (persisted; 0 when none)
 *   MC_ERR_EXPIRED  now_ms >= p->expires_ms
 */
enum mc_err mc_pointer_check(const struct mc_pointer *p, const char *node,
                             int64_t applied_version, int64_t now_ms,
                             struct mc_error *err);

/*
 * A node's checks on a verified alert, in this order:
 *   MC_ERR_EXPIRED  now_ms >= a->expires_ms
 *   MC_ERR_REPLAY   a->seq <= last_seq, the highest seq already accepted
 *                   for this alert id (pass INT64_MIN when none)
 *   MC_ERR_NODE     a->targets do not select who (skipped if who is NULL)
 */
enum mc_err mc_alert_check(const struct mc_alert *a, const struct mc_who *who,
                           int64_t last_seq, int64_t now_ms,
                           struct mc_error *err);

/*
 * A node's checks on a verified command: MC_ERR_NODE if c->node differs
 * from node (skipped if NULL), then MC_ERR_EXPIRED if now_ms >=
 * c->expires_ms: a late reboot is refused, not run.
 */
enum mc_err mc_command_check(const struct mc_command *c, const char *node,
                             int64_t now_ms, struct mc_error *err);

/*
 * Verify (purpose pointer), parse the body with mc_pointer_parse and run
 * mc_pointer_check.  On success *out is filled (free with
 * mc_pointer_clear); on failure it is cleared.
 */
enum mc_err mc_pointer_open(const struct mc_keyring *kr, const char *buf,
                            size_t len, const char *node,
                            int64_t applied_version, int64_t now_ms,
                            struct mc_pointer *out, struct mc_error *err);

/* The same for alerts: verify, mc_alert_parse, mc_alert_check. */
enum mc_err mc_alert_open(const struct mc_keyring *kr, const char *buf,
                          size_t len, const struct mc_who *who,
                          int64_t last_seq, int64_t now_ms,
                          struct mc_alert *out, struct mc_error *err);

/* The same for commands: verify, mc_command_parse, mc_command_check. */
enum mc_err mc_command_open(const struct mc_keyring *kr, const char *buf,
                            size_t len, const char *node, int64_t now_ms,
                            struct mc_command *out, struct mc_error *err);

/* ---- sha256 ---- */

/* Lower-case hex sha256 of data[0..len) into out. */
void mc_sha256_hex(const void *data, size_t len, char out[MC_SHA256_HEX_SIZE]);

/*
 * Hash a file by streaming it (any size, constant memory) into out; its
 * size in *size (may be NULL).  MC_ERR_IO names the path and errno.
 */
enum mc_err mc_sha256_file(const char *path, char out[MC_SHA256_HEX_SIZE],
                           int64_t *size, struct mc_error *err);

#endif
