/*
 * Unit tests: keys and key files, signed envelopes (every way one is
 * refused), the node's checks on pointers, alerts and commands, sha256.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "minecast/codec.h"
#include "minecast/messages.h"
#include "minecast/sign.h"
#include "minecast/util.h"

/* 2023-11-12T00:00:00Z, Mine-workers' Tradition Day. */
#define NOW  1699747200000LL
#define HOUR 3600000LL

#define SHA_A "3f2a0000000000000000000000000000000000000000000000000000000000aa"

static const char pointer_body[] =
        "{\"v\":1,\"node\":\"pi-cua-lo-01\",\"version\":7,"
        "\"manifest_sha256\":\"" SHA_A "\",\"manifest_size\":5120,"
        "\"manifest_url\":\"/v1/manifests/" SHA_A "\","
        "\"issued_ms\":1699743600000,\"expires_ms\":1700352000000}";

static const char alert_body[] =
        "{\"v\":1,\"id\":\"sap-lo-01\",\"seq\":3,\"clear\":false,"
        "\"level\":\"evacuate\",\"text\":\"Sơ tán ngay khỏi khu vực lò 3\","
        "\"repeat\":3,\"start_at_ms\":1699747200500,"
        "\"issued_ms\":1699747200000,\"expires_ms\":1699750800000,"
        "\"targets\":{\"sites\":[\"cua-lo\"],\"tags\":[],\"nodes\":[]}}";

static const char command_body[] =
        "{\"v\":1,\"id\":\"cmd-42\",\"node\":\"pi-cua-lo-01\","
        "\"action\":\"volume\",\"volume\":60,"
        "\"issued_ms\":1699747200000,\"expires_ms\":1699747500000}";

/* Two fixed test keys: seeds 0,1,..,31 and 100,101,..,131. */
static struct mc_secret_key key_a, key_b;
static struct mc_keyring ring_a;

static int setup(void **state)
{
	unsigned char seed[32];
	struct mc_error err;

	for (int i = 0; i < 32; i++)
		seed[i] = (unsigned char)i;
	if (mc_secret_key_from_seed(seed, &key_a, &err) != MC_OK)
		return -1;
	for (int i = 0; i < 32; i++)
		seed[i] = (unsigned char)(100 + i);
	if (mc_secret_key_from_seed(seed, &key_b, &err) != MC_OK)
		return -1;
	mc_keyring_init(&ring_a);
	return mc_keyring_add(&ring_a, key_a.pk, &err) == MC_OK ? 0 : -1;
}

static int teardown(void **state)
{
	mc_keyring_clear(&ring_a);
	mc_secret_key_wipe(&key_a);
	mc_secret_key_wipe(&key_b);
	return 0;
}

/* Sign body with key for purpose; the envelope is the caller's. */
static char *sign(const struct mc_secret_key *key, enum mc_purpose purpose,
                  const char *body)
{
	struct mc_error err;
	char *env = NULL;
	size_t len = 0;

	assert_int_equal(mc_envelope_sign(key, purpose, body, strlen(body),
	                                  &env, &len, &err),
	                 MC_OK);
	assert_non_null(env);
	assert_int_equal(len, strlen(env));
	return env;
}

/*
 * Rewrite one string member of an envelope (or remove it, value NULL)
 * and return the new envelope text, caller frees.
 */
static char *edit(const char *env, const char *field, const char *value)
{
	json_t *j = json_loads(env, 0, NULL);
	char *out;

	assert_non_null(j);
	if (value)
		json_object_set_new(j, field, json_string(value));
	else
		json_object_del(j, field);
	out = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	assert_non_null(out);
	return out;
}

/* The string member field of an envelope, copied. */
static char *member(const char *env, const char *field)
{
	json_t *j = json_loads(env, 0, NULL);
	char *out;

	assert_non_null(j);
	out = strdup(json_string_value(json_object_get(j, field)));
	json_decref(j);
	return out;
}

/* Verify env against ring expecting purpose; return the code. */
static enum mc_err verify(const struct mc_keyring *kr, const char *env,
                          enum mc_purpose expect, struct mc_error *err)
{
	struct mc_signed s;
	enum mc_err rc;

	rc = mc_envelope_verify(kr, env, strlen(env), expect, &s, err);
	if (rc != MC_OK) {
		assert_null(s.body);
		assert_int_equal(s.body_len, 0);
	}
	mc_signed_clear(&s);
	return rc;
}

/* ---- round trips ---- */

static void round_trip(enum mc_purpose purpose, const char *body)
{
	struct mc_signed s;
	struct mc_error err;
	char *env = sign(&key_a, purpose, body);

	assert_int_equal(mc_envelope_verify(&ring_a, env, strlen(env), purpose,
	                                    &s, &err),
	                 MC_OK);
	assert_int_equal(s.purpose, purpose);
	assert_string_equal(s.kid, key_a.kid);
	assert_int_equal(s.body_len, strlen(body));
	assert_memory_equal(s.body, body, strlen(body));
	mc_signed_clear(&s);

	/* MC_PURPOSE_ANY accepts it and reports what it is. */
	assert_int_equal(mc_envelope_verify(&ring_a, env, strlen(env),
	                                    MC_PURPOSE_ANY, &s, &err),
	                 MC_OK);
	assert_int_equal(s.purpose, purpose);
	mc_signed_clear(&s);
	free(env);
}

static void test_round_trip_each_purpose(void **state)
{
	char *env;

	round_trip(MC_PURPOSE_POINTER, pointer_body);
	round_trip(MC_PURPOSE_ALERT, alert_body);
	round_trip(MC_PURPOSE_COMMAND, command_body);

	/* The envelope has the documented shape. */
	env = sign(&key_a, MC_PURPOSE_ALERT, alert_body);
	{
		char *f = member(env, "format"), *p = member(env, "purpose");
		char *k = member(env, "kid"), *b = member(env, "body");

		assert_string_equal(f, "minecast-signed/1");
		assert_string_equal(p, "alert");
		assert_string_equal(k, key_a.kid);
		assert_string_equal(b, alert_body);
		free(f);
		free(p);
		free(k);
		free(b);
	}
	free(env);
}

static void test_signed_bytes_are_documented(void **state)
{
	/* The signature is over "minecast/v1\n" + purpose + "\n" + body;
	 * check with libsodium directly so the wire format cannot drift. */
	char *env = sign(&key_a, MC_PURPOSE_POINTER, pointer_body);
	char *sig64 = member(env, "sig");
	unsigned char sig[64];
	size_t n = 0;
	char *msg = mc_printf("minecast/v1\npointer\n%s", pointer_body);

	assert_int_equal(sodium_base642bin(sig, sizeof(sig), sig64,
	                                   strlen(sig64), NULL, &n, NULL,
	                                   sodium_base64_VARIANT_ORIGINAL),
	                 0);
	assert_int_equal(n, 64);
	assert_int_equal(crypto_sign_verify_detached(sig, (unsigned char *)msg,
	                                             strlen(msg), key_a.pk),
	                 0);
	free(msg);
	free(sig64);
	free(env);
}

static void test_two_keys_in_ring(void **state)
{
	struct mc_keyring kr;
	struct mc_error err;
	char *env = sign(&key_b, MC_PURPOSE_POINTER, pointer_body);

	mc_keyring_init(&kr);
	assert_int_equal(mc_keyring_add(&kr, key_a.pk, &err), MC_OK);
	assert_int_equal(mc_keyring_add(&kr, key_b.pk, &err), MC_OK);
	/* Adding the same key again is harmless. */
	assert_int_equal(mc_keyring_add(&kr, key_b.pk, &err), MC_OK);
	assert_int_equal(kr.n_keys, 2);
	assert_int_equal(verify(&kr, env, MC_PURPOSE_POINTER, &err), MC_OK);
	assert_non_null(mc_keyring_find(&kr, key_b.kid));
	assert_null(mc_keyring_find(&kr, "0000000000000000"));
	mc_keyring_clear(&kr);
	assert_int_equal(kr.n_keys, 0);
	free(env);
}

/* ---- rejections ---- */

static void test_reject_flipped_bit_in_sig(void **state)
{
	struct mc_error err;
	char *env = sign(&key_a, MC_PURPOSE_POINTER, pointer_body);
	char *sig64 = member(env, "sig");
	unsigned char sig[64];
	char b64[100];
	size_t n = 0;
	char *bad;

	assert_int_equal(sodium_base642bin(sig, sizeof(sig), sig64,
	                                   strlen(sig64), NULL, &n, NULL,
	                                   sodium_base64_VARIANT_ORIGINAL),
	                 0);
	sig[17] ^= 0x10;
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig),
	                  sodium_base64_VARIANT_ORIGINAL);
	bad = edit(env, "sig", b64);
	assert_int_equal(verify(&ring_a, bad, MC_PURPOSE_POINTER, &err),
	                 MC_ERR_SIG);
	assert_non_null(strstr(err.msg, "does not verify"));
	free(bad);
	free(sig64);
	free(env);
}

static void test_reject_flipped_bit_in_body(void **state)
{
	struct mc_error err;
	char *env = sign(&key_a, MC_PURPOSE_POINTER, pointer_body);
	char *body = member(env, "body");
	char *bad, *p;

	/* "version":7 becomes "version":6: one bit, a rollback attempt. */
	p = strstr(body, "\"version\":7");
	assert_non_null(p);
	p[10] ^= 0x01;
	bad = edit(env, "body", body);
	assert_int_equal(verify(&ring_a, bad, MC_PURPOSE_POINTER, &err),
	                 MC_ERR_SIG);
	free(bad);

	/* Trailing whitespace is still a different body. */
	free(body);
	body = mc_printf("%s ", pointer_body);
	bad = edit(env, "body", body);
	assert_int_equal(verify(&ring_a, bad, MC_PURPOSE_POINTER, &err),
	                 MC_ERR_SIG);
	free(bad);
	free(body);
	free(env);
}

static void test_reject_unknown_key(void **state)
{
	struct mc_error err;
	char *env = sign(&key_b, MC_PURPOSE_POINTER, pointer_body);
	char *bad;

	assert_int_equal(verify(&ring_a, env, MC_PURPOSE_POINTER, &err),
	                 MC_ERR_KEY);
	assert_non_null(strstr(err.msg, key_b.kid));

	/* Claiming a trusted kid with another key's signature fails. */
	bad = edit(env, "kid", key_a.kid);
	assert_int_equal(verify(&ring_a, bad, MC_PURPOSE_POINTER, &err),
	                 MC_ERR_SIG);
	free(bad);

	/* An empty keyring trusts nothing. */
	{
		struct mc_keyring empty;

		mc_keyring_init(&empty);
		assert_int_equal(verify(&empty, env, MC_PURPOSE_ANY, &err),
		                 MC_ERR_KEY);
	}
	free(env);
}

static void test_reject_wrong_purpose(void **state)
{
	struct mc_error err;
	char *env = sign(&key_a, MC_PURPOSE_ALERT, alert_body);
	char *bad;

	/* Authentic but for another purpose. */
	assert_int_equal(verify(&ring_a, env, MC_PURPOSE_POINTER, &err),
	                 MC_ERR_PURPOSE);
	assert_non_null(strstr(err.msg, "signed for alert"));
	assert_int_equal(verify(&ring_a, env, MC_PURPOSE_COMMAND, &err),
	                 MC_ERR_PURPOSE);

	/* Relabelled: the purpose is part of the signed bytes. */
	bad = edit(env, "purpose", "pointer");
	assert_int_equal(verify(&ring_a, bad, MC_PURPOSE_POINTER, &err),
	                 MC_ERR_SIG);
	free(bad);

	/* A purpose this build does not know. */
	bad = edit(env, "purpose", "manifest");
	assert_int_equal(verify(&ring_a, bad, MC_PURPOSE_ANY, &err),
	                 MC_ERR_PURPOSE);
	assert_non_null(strstr(err.msg, "purpose:"));
	free(bad);
	free(env);
}

static void test_reject_malformed_envelope(void **state)
{
	static const char *const bad[] = {
	        "",
	        "not json",
	        "{\"format\":\"minecast-signed/1\"",
	        "[\"minecast-signed/1\"]",
	        "\"minecast-signed/1\"",
	        "{} trailing",
	        "{\"format\":\"minecast-signed/"
	        "1\",\"format\":\"minecast-signed/1\"}",
	        "{\"format\":\"minecast-signed/"
	        "1\",\"purpose\":\"pointer\",\"kid\":\"0011223344556677\","
	        "\"sig\":\"AAAA\",\"body\":\"\\u0000\"}",
	};
	struct mc_error err;

	for (size_t i = 0; i < MC_ARRAY_LEN(bad); i++) {
		enum mc_err rc = verify(&ring_a, bad[i], MC_PURPOSE_ANY, &err);

		if (rc != MC_ERR_PARSE)
			fail_msg("case %zu: got %d (%s)", i, rc, err.msg);
	}
}

static void test_reject_oversize(void **state)
{
	struct mc_signed s;
	struct mc_error err;
	size_t n = MC_MAX_ENVELOPE_BYTES + 1;
	char *big = malloc(n);
	char *body, *env = NULL;

	/* Refused on length alone, before any parsing. */
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	assert_int_equal(
	        mc_envelope_verify(&ring_a, big, n, MC_PURPOSE_ANY, &s, &err),
	        MC_ERR_TOO_LARGE);
	assert_null(s.body);

	/* Exactly at the limit is parsed (and here fails as malformed). */
	assert_int_equal(mc_envelope_verify(&ring_a, big, n - 1, MC_PURPOSE_ANY,
	                                    &s, &err),
	                 MC_ERR_PARSE);

	/* The signer will not produce one either. */
	body = malloc(n + 16);
	snprintf(body, n + 16, "{\"text\":\"%0*d\"}", (int)(n - 12), 0);
	assert_int_equal(mc_envelope_sign(&key_a, MC_PURPOSE_ALERT, body,
	                                  strlen(body), &env, NULL, &err),
	                 MC_ERR_TOO_LARGE);
	assert_null(env);
	free(body);
	free(big);
}

static void test_reject_bad_sig_encoding(void **state)
{
	struct mc_error err;
	char *env = sign(&key_a, MC_PURPOSE_POINTER, pointer_body);
	char *sig64 = member(env, "sig");
	unsigned char sig[64] = {0};
	char b64[200];
	char *bad;

	/* Not base64 at all. */
	bad = edit(env, "sig", "!!not*base64!!");
	assert_int_equal(verify(&ring_a, bad, MC_PURPOSE_POINTER, &err),
	                 MC_ERR_PARSE);
	assert_non_null(strstr(err.msg, "sig:"));
	assert_non_null(strstr(err.msg, "base64"));
	free(bad);

	/* Base64 without its padding, or with a stray character. */
	sig64[strlen(sig64) - 1] = '\0';
	bad = edit(env, "sig", sig64);
	assert_int_equal(verify(&ring_a, bad, MC_PURPOSE_POINTER, &err),
	                 MC_ERR_PARSE);
	free(bad);

	/* Valid base64 of 63 and 65 bytes. */
	sodium_bin2base64(b64, sizeof(b64), sig, 63,
	                  sodium_base64_VARIANT_ORIGINAL);
	bad = edit(env, "sig", b64);
	assert_int_equal(verify(&ring_a, bad, MC_PURPOSE_POINTER, &err),
	                 MC_ERR_PARSE);
	assert_non_null(strstr(err.msg, "sig: 63 bytes"));
	free(bad);
	{
		unsigned char longer[65] = {0};

		sodium_bin2base64(b64, sizeof(b64), longer, 65,
		                  sodium_base64_VARIANT_ORIGINAL);
	}
	bad = edit(env, "sig", b64);
	assert_int_equal(verify(&ring_a, bad, MC_PURPOSE_POINTER, &err),
	                 MC_ERR_PARSE);
	assert_non_null(strstr(err.msg, "sig: 65 bytes"));
	free(bad);

	/* A zero signature of the right length is simply wrong. */
	sodium_bin2base64(b64, sizeof(b64), sig, 64,
	                  sodium_base64_VARIANT_ORIGINAL);
	bad = edit(env, "sig", b64);
	assert_int_equal(verify(&ring_a, bad, MC_PURPOSE_POINTER, &err),
	                 MC_ERR_SIG);
	free(bad);
	free(sig64);
	free(env);
}

static void test_reject_missing_fields(void **state)
{
	static const char *const fields[] = {"format", "purpose", "kid", "sig",
	                                     "body"};
	struct mc_error err;
	char *env = sign(&key_a, MC_PURPOSE_POINTER, pointer_body);
	char *bad, prefix[32];

	for (size_t i = 0; i < MC_ARRAY_LEN(fields); i++) {
		bad = edit(env, fields[i], NULL);
		assert_int_equal(verify(&ring_a, bad, MC_PURPOSE_POINTER, &err),
		                 MC_ERR_PARSE);
		snprintf(prefix, sizeof(prefix), "%s: missing", fields[i]);
		assert_string_equal(err.msg, prefix);
		free(bad);
	}

	/* Wrong types name the field too. */
	{
		json_t *j = json_loads(env, 0, NULL);
		char *text;

		json_object_set_new(j, "body", json_pack("{s:i}", "v", 1));
		text = json_dumps(j, JSON_COMPACT);
		assert_int_equal(
		        verify(&ring_a, text, MC_PURPOSE_POINTER, &err),
		        MC_ERR_PARSE);
		assert_string_equal(err.msg, "body: must be a string");
		free(text);
		json_object_set_new(j, "kid", json_integer(7));
		text = json_dumps(j, JSON_COMPACT);
		assert_int_equal(
		        verify(&ring_a, text, MC_PURPOSE_POINTER, &err),
		        MC_ERR_PARSE);
		assert_string_equal(err.msg, "kid: must be a string");
		free(text);
		json_decref(j);
	}

	/* A kid that is not 16 lower-case hex digits. */
	bad = edit(env, "kid", "ABCDEF0123456789");
	assert_int_equal(verify(&ring_a, bad, MC_PURPOSE_POINTER, &err),
	                 MC_ERR_PARSE);
	assert_non_null(strstr(err.msg, "kid:"));
	free(bad);
	free(env);
}

static void test_reject_unsupported_format(void **state)
{
	struct mc_error err;
	char *env = sign(&key_a, MC_PURPOSE_POINTER, pointer_body);
	char *bad = edit(env, "format", "minecast-signed/2");

	assert_int_equal(verify(&ring_a, bad, MC_PURPOSE_POINTER, &err),
	                 MC_ERR_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "minecast-signed/2"));
	free(bad);

	/* Unverified text never puts control characters into a log line. */
	bad = edit(env, "format", "x\n2023-11-12 info fake: all is well");
	assert_int_equal(verify(&ring_a, bad, MC_PURPOSE_POINTER, &err),
	                 MC_ERR_UNSUPPORTED);
	assert_null(strchr(err.msg, '\n'));
	assert_null(strstr(err.msg, "fake"));
	free(bad);
	free(env);
}

static void test_sign_refuses_non_object(void **state)
{
	struct mc_error err;
	char *env = NULL;

	assert_int_equal(mc_envelope_sign(&key_a, MC_PURPOSE_POINTER, "[1]", 3,
	                                  &env, NULL, &err),
	                 MC_ERR_PARSE);
	assert_int_equal(mc_envelope_sign(&key_a, MC_PURPOSE_POINTER,
	                                  "{\"a\":", 5, &env, NULL, &err),
	                 MC_ERR_PARSE);
	assert_int_equal(mc_envelope_sign(&key_a, MC_PURPOSE_POINTER,
	                                  "{\"a\":\"\xff\"}", 9, &env, NULL,
	                                  &err),
	                 MC_ERR_PARSE);
	assert_int_equal(mc_envelope_sign(&key_a, MC_PURPOSE_ANY, "{}", 2, &env,
	                                  NULL, &err),
	                 MC_ERR_INVAL);
	assert_null(env);
}

/* ---- checks ---- */

static void test_pointer_check(void **state)
{
	struct mc_pointer p = {0};
	struct mc_error err;

	p.node = "pi-cua-lo-01";
	p.version = 7;
	p.expires_ms = NOW + HOUR;
	assert_int_equal(mc_pointer_check(&p, "pi-cua-lo-01", 6, NOW, &err),
	                 MC_OK);
	assert_int_equal(mc_pointer_check(&p, "pi-cua-lo-02", 6, NOW, &err),
	                 MC_ERR_NODE);
	assert_non_null(strstr(err.msg, "pi-cua-lo-02"));
	/* Replay of the applied version, and an older one. */
	assert_int_equal(mc_pointer_check(&p, "pi-cua-lo-01", 7, NOW, &err),
	                 MC_ERR_REPLAY);
	assert_int_equal(mc_pointer_check(&p, "pi-cua-lo-01", 9, NOW, &err),
	                 MC_ERR_REPLAY);
	/* Expiry is exclusive: at expires_ms it is already refused. */
	assert_int_equal(
	        mc_pointer_check(&p, "pi-cua-lo-01", 6, NOW + HOUR, &err),
	        MC_ERR_EXPIRED);
	assert_int_equal(
	        mc_pointer_check(&p, "pi-cua-lo-01", 6, NOW + HOUR - 1, &err),
	        MC_OK);
	/* The node check comes first. */
	assert_int_equal(mc_pointer_check(&p, "other", 9, NOW + 2 * HOUR, &err),
	                 MC_ERR_NODE);
	/* NULL node (offline tools) skips only the node check. */
	assert_int_equal(mc_pointer_check(&p, NULL, 6, NOW, &err), MC_OK);
	assert_int_equal(mc_pointer_check(&p, NULL, 7, NOW, &err),
	                 MC_ERR_REPLAY);
}

static void test_alert_check(void **state)
{
	struct mc_alert a = {0};
	char *sites[] = {"cua-lo"};
	const char *tags[] = {"nha-an"};
	struct mc_who here = {"pi-cua-lo-01", "cua-lo", tags, 1};
	struct mc_who there = {"pi-mong-duong-01", "mong-duong", NULL, 0};
	struct mc_error err;

	a.id = "sap-lo-01";
	a.seq = 3;
	a.expires_ms = NOW + HOUR;
	a.targets.sites = sites;
	a.targets.n_sites = 1;
	assert_int_equal(mc_alert_check(&a, &here, 2, NOW, &err), MC_OK);
	assert_int_equal(mc_alert_check(&a, &here, INT64_MIN, NOW, &err),
	                 MC_OK);
	assert_int_equal(mc_alert_check(&a, &here, 3, NOW, &err),
	                 MC_ERR_REPLAY);
	assert_int_equal(mc_alert_check(&a, &here, 4, NOW, &err),
	                 MC_ERR_REPLAY);
	assert_int_equal(mc_alert_check(&a, &here, 2, NOW + HOUR, &err),
	                 MC_ERR_EXPIRED);
	assert_int_equal(mc_alert_check(&a, &there, 2, NOW, &err), MC_ERR_NODE);
	assert_int_equal(mc_alert_check(&a, NULL, 2, NOW, &err), MC_OK);
	/* Empty targets: the whole fleet. */
	a.targets.n_sites = 0;
	assert_int_equal(mc_alert_check(&a, &there, 2, NOW, &err), MC_OK);
}

static void test_command_check(void **state)
{
	struct mc_command c = {0};
	struct mc_error err;

	c.node = "pi-cua-lo-01";
	c.expires_ms = NOW + 1000;
	assert_int_equal(mc_command_check(&c, "pi-cua-lo-01", NOW, &err),
	                 MC_OK);
	assert_int_equal(mc_command_check(&c, "pi-x", NOW, &err), MC_ERR_NODE);
	assert_int_equal(mc_command_check(&c, "pi-cua-lo-01", NOW + 1000, &err),
	                 MC_ERR_EXPIRED);
}

/* ---- open = verify + parse + check ---- */

static void test_pointer_open(void **state)
{
	struct mc_pointer p;
	struct mc_error err;
	char *env = sign(&key_a, MC_PURPOSE_POINTER, pointer_body);
	size_t len = strlen(env);

	assert_int_equal(mc_pointer_open(&ring_a, env, len, "pi-cua-lo-01", 6,
	                                 NOW, &p, &err),
	                 MC_OK);
	assert_string_equal(p.node, "pi-cua-lo-01");
	assert_int_equal(p.version, 7);
	assert_string_equal(p.manifest_sha256, SHA_A);
	mc_pointer_clear(&p);

	assert_int_equal(mc_pointer_open(&ring_a, env, len, "pi-cua-lo-02", 6,
	                                 NOW, &p, &err),
	                 MC_ERR_NODE);
	assert_null(p.node);
	assert_int_equal(mc_pointer_open(&ring_a, env, len, "pi-cua-lo-01", 7,
	                                 NOW, &p, &err),
	                 MC_ERR_REPLAY);
	assert_int_equal(mc_pointer_open(&ring_a, env, len, "pi-cua-lo-01", 8,
	                                 NOW, &p, &err),
	                 MC_ERR_REPLAY);
	assert_int_equal(mc_pointer_open(&ring_a, env, len, "pi-cua-lo-01", 6,
	                                 1700352000000LL, &p, &err),
	                 MC_ERR_EXPIRED);
	assert_null(p.node);
	free(env);

	/* An alert envelope is not a pointer. */
	env = sign(&key_a, MC_PURPOSE_ALERT, alert_body);
	assert_int_equal(mc_pointer_open(&ring_a, env, strlen(env),
	                                 "pi-cua-lo-01", 0, NOW, &p, &err),
	                 MC_ERR_PURPOSE);
	free(env);
}

static void test_open_rejects_invalid_body(void **state)
{
	/* Signed, valid JSON objects that are not valid messages: a signer
	 * bug must not become a node crash or a half-read pointer. */
	static const char *const bad_pointers[] = {
	        "{}",
	        "{\"v\":1,\"node\":\"pi-cua-lo-01\",\"version\":\"7\"}",
	        "{\"v\":2,\"node\":\"pi-cua-lo-01\",\"version\":7,"
	        "\"manifest_sha256\":\"" SHA_A "\",\"manifest_size\":5120,"
	        "\"manifest_url\":\"/m\",\"issued_ms\":1,\"expires_ms\":2}",
	        "{\"v\":1,\"node\":\"pi-cua-lo-01\",\"version\":7,"
	        "\"manifest_sha256\":\"zz\",\"manifest_size\":5120,"
	        "\"manifest_url\":\"/m\",\"issued_ms\":1,\"expires_ms\":2}",
	};
	struct mc_pointer p;
	struct mc_alert a;
	struct mc_command c;
	struct mc_error err;
	char *env;

	for (size_t i = 0; i < MC_ARRAY_LEN(bad_pointers); i++) {
		enum mc_err rc;

		env = sign(&key_a, MC_PURPOSE_POINTER, bad_pointers[i]);
		rc = mc_pointer_open(&ring_a, env, strlen(env), "pi-cua-lo-01",
		                     0, NOW, &p, &err);
		if (rc == MC_OK || rc == MC_ERR_SIG || rc == MC_ERR_NODE ||
		    rc == MC_ERR_EXPIRED || strncmp(err.msg, "body: ", 6))
			fail_msg("case %zu: got %d (%s)", i, rc, err.msg);
		assert_null(p.node);
		assert_null(p.manifest_url);
		free(env);
	}

	env = sign(&key_a, MC_PURPOSE_ALERT, "{\"v\":1,\"id\":\"x\"}");
	assert_int_not_equal(mc_alert_open(&ring_a, env, strlen(env), NULL,
	                                   INT64_MIN, NOW, &a, &err),
	                     MC_OK);
	assert_null(a.id);
	assert_null(a.text);
	free(env);

	env = sign(&key_a, MC_PURPOSE_COMMAND,
	           "{\"v\":1,\"id\":\"c\",\"node\":\"pi-cua-lo-01\","
	           "\"action\":\"self-destruct\",\"issued_ms\":1,"
	           "\"expires_ms\":1799747200000}");
	assert_int_not_equal(mc_command_open(&ring_a, env, strlen(env),
	                                     "pi-cua-lo-01", NOW, &c, &err),
	                     MC_OK);
	assert_null(c.id);
	free(env);
}

static void test_alert_open(void **state)
{
	const char *tags[] = {"nha-an"};
	struct mc_who here = {"pi-cua-lo-01", "cua-lo", tags, 1};
	struct mc_who there = {"pi-vang-danh-01", "vang-danh", NULL, 0};
	struct mc_alert a;
	struct mc_error err;
	char *env = sign(&key_a, MC_PURPOSE_ALERT, alert_body);
	size_t len = strlen(env);

	assert_int_equal(
	        mc_alert_open(&ring_a, env, len, &here, 2, NOW, &a, &err),
	        MC_OK);
	assert_string_equal(a.id, "sap-lo-01");
	assert_int_equal(a.seq, 3);
	assert_int_equal(a.level, MC_ALERT_EVACUATE);
	mc_alert_clear(&a);
	assert_int_equal(
	        mc_alert_open(&ring_a, env, len, &here, 3, NOW, &a, &err),
	        MC_ERR_REPLAY);
	assert_int_equal(
	        mc_alert_open(&ring_a, env, len, &there, 2, NOW, &a, &err),
	        MC_ERR_NODE);
	assert_int_equal(mc_alert_open(&ring_a, env, len, &here, 2,
	                               1699750800000LL, &a, &err),
	                 MC_ERR_EXPIRED);
	assert_null(a.id);
	free(env);
}

static void test_command_open(void **state)
{
	struct mc_command c;
	struct mc_error err;
	char *env = sign(&key_a, MC_PURPOSE_COMMAND, command_body);
	size_t len = strlen(env);

	assert_int_equal(mc_command_open(&ring_a, env, len, "pi-cua-lo-01", NOW,
	                                 &c, &err),
	                 MC_OK);
	assert_int_equal(c.action, MC_CMD_VOLUME);
	assert_int_equal(c.volume, 60);
	mc_command_clear(&c);
	assert_int_equal(mc_command_open(&ring_a, env, len, "pi-cua-lo-02", NOW,
	                                 &c, &err),
	                 MC_ERR_NODE);
	assert_int_equal(mc_command_open(&ring_a, env, len, "pi-cua-lo-01",
	                                 NOW + HOUR, &c, &err),
	                 MC_ERR_EXPIRED);
	free(env);
}

/* ---- key files ---- */

static char *pub_line(const struct mc_secret_key *k)
{
	char line[MC_PUBLINE_SIZE];

	mc_public_key_line(k->pk, line);
	return strdup(line);
}

static void test_keyring_parse_good(void **state)
{
	struct mc_keyring kr;
	struct mc_error err;
	char *la = pub_line(&key_a), *lb = pub_line(&key_b);
	char *text = mc_printf("# trusted controller keys\n\n"
	                       "  %s   # current\r\n"
	                       "\t%s\n"
	                       "# end",
	                       la, lb);

	mc_keyring_init(&kr);
	assert_int_equal(
	        mc_keyring_parse(&kr, text, strlen(text), "t.pub", &err),
	        MC_OK);
	assert_int_equal(kr.n_keys, 2);
	assert_non_null(mc_keyring_find(&kr, key_a.kid));
	assert_non_null(mc_keyring_find(&kr, key_b.kid));
	/* The line format is as documented. */
	assert_int_equal(strncmp(la, "minecast-ed25519-public ", 24), 0);
	assert_memory_equal(la + 24, key_a.kid, 16);
	mc_keyring_clear(&kr);
	free(text);
	free(la);
	free(lb);
}

/* Expect text to fail as a keyring with code and a message containing
 * want; the keyring must be left as it was. */
static void keyring_bad(const char *text, enum mc_err code, const char *want)
{
	struct mc_keyring kr;
	struct mc_error err;
	enum mc_err rc;

	mc_keyring_init(&kr);
	assert_int_equal(mc_keyring_add(&kr, key_b.pk, &err), MC_OK);
	rc = mc_keyring_parse(&kr, text, strlen(text), "t.pub", &err);
	if (rc != code || !strstr(err.msg, want))
		fail_msg("'%s': got %d '%s', want %d '%s'", text, rc, err.msg,
		         code, want);
	assert_int_equal(kr.n_keys, 1);
	mc_keyring_clear(&kr);
}

static void test_keyring_parse_bad(void **state)
{
	char *la = pub_line(&key_a);
	char kid[MC_KID_SIZE], b64[100];
	unsigned char short_key[31] = {1}, long_key[33] = {1};
	char *text;

	/* A good line, then a bad one: nothing of the file is added. */
	text = mc_printf("%s\nminecast-ed25519-public %s\n", la, key_a.kid);
	keyring_bad(text, MC_ERR_PARSE, "t.pub:2:");
	free(text);
	keyring_bad("minecast-ed25519-public", MC_ERR_PARSE, "t.pub:1:");
	text = mc_printf("%s extra", la);
	keyring_bad(text, MC_ERR_PARSE, "t.pub:1:");
	free(text);
	text = mc_printf("%s#glued", la);
	keyring_bad(text, MC_ERR_PARSE, "t.pub:1:");
	free(text);
	text = mc_printf("ssh-ed25519 %s", la + 24);
	keyring_bad(text, MC_ERR_PARSE, "unknown key type");
	free(text);
	/* kid syntax. */
	text = mc_printf("minecast-ed25519-public XYZ %s", la + 24 + 17);
	keyring_bad(text, MC_ERR_PARSE, "kid");
	free(text);
	/* Not base64. */
	text = mc_printf("minecast-ed25519-public %s ***", key_a.kid);
	keyring_bad(text, MC_ERR_PARSE, "base64");
	free(text);
	/* Wrong lengths (kid computed over the short bytes anyway). */
	sodium_bin2base64(b64, sizeof(b64), short_key, sizeof(short_key),
	                  sodium_base64_VARIANT_ORIGINAL);
	text = mc_printf("minecast-ed25519-public %s %s", key_a.kid, b64);
	keyring_bad(text, MC_ERR_KEY, "31 bytes, expected 32");
	free(text);
	sodium_bin2base64(b64, sizeof(b64), long_key, sizeof(long_key),
	                  sodium_base64_VARIANT_ORIGINAL);
	text = mc_printf("minecast-ed25519-public %s %s", key_a.kid, b64);
	keyring_bad(text, MC_ERR_KEY, "33 bytes, expected 32");
	free(text);
	/* A kid that does not belong to the key. */
	mc_key_id(key_b.pk, kid);
	text = mc_printf("minecast-ed25519-public %s %s", kid, la + 24 + 17);
	keyring_bad(text, MC_ERR_KEY, "does not match");
	free(text);
	/* A secret key pasted into the trusted list. */
	sodium_bin2base64(b64, sizeof(b64), key_a.seed, 32,
	                  sodium_base64_VARIANT_ORIGINAL);
	text = mc_printf("minecast-ed25519-secret %s %s", key_a.kid, b64);
	keyring_bad(text, MC_ERR_KEY, "SECRET");
	free(text);
	/* Nothing at all. */
	keyring_bad("", MC_ERR_KEY, "no minecast-ed25519-public");
	keyring_bad("# only a comment\n\n", MC_ERR_KEY, "no ");
	free(la);
}

static void test_secret_key_parse(void **state)
{
	struct mc_secret_key k;
	struct mc_error err;
	char b64[100], kid_b[MC_KID_SIZE];
	char *text, *la = pub_line(&key_a);

	sodium_bin2base64(b64, sizeof(b64), key_a.seed, 32,
	                  sodium_base64_VARIANT_ORIGINAL);
	text = mc_printf("# controller key\nminecast-ed25519-secret %s %s\n",
	                 key_a.kid, b64);
	assert_int_equal(
	        mc_secret_key_parse(text, strlen(text), "c.key", &k, &err),
	        MC_OK);
	assert_memory_equal(k.pk, key_a.pk, 32);
	assert_string_equal(k.kid, key_a.kid);
	free(text);

	mc_key_id(key_b.pk, kid_b);
	text = mc_printf("minecast-ed25519-secret %s %s\n", kid_b, b64);
	assert_int_equal(
	        mc_secret_key_parse(text, strlen(text), "c.key", &k, &err),
	        MC_ERR_KEY);
	assert_non_null(strstr(err.msg, "does not match"));
	/* The half-read key is wiped. */
	{
		static const unsigned char zero[sizeof(k)];

		assert_memory_equal(&k, zero, sizeof(k));
	}
	free(text);

	text = mc_printf("minecast-ed25519-secret %s %s\n"
	                 "minecast-ed25519-secret %s %s\n",
	                 key_a.kid, b64, key_a.kid, b64);
	assert_int_equal(
	        mc_secret_key_parse(text, strlen(text), "c.key", &k, &err),
	        MC_ERR_KEY);
	assert_non_null(strstr(err.msg, "c.key:2:"));
	free(text);

	assert_int_equal(mc_secret_key_parse(la, strlen(la), "c.key", &k, &err),
	                 MC_ERR_KEY);
	assert_int_equal(mc_secret_key_parse("", 0, "c.key", &k, &err),
	                 MC_ERR_KEY);
	free(la);
}

static void test_key_files_on_disk(void **state)
{
	char dir[] = "/tmp/mc-test-sign-XXXXXX";
	struct mc_secret_key gen, loaded, other;
	struct mc_keyring kr;
	struct mc_error err;
	char *keypath, *pubpath, kid[MC_KID_SIZE], hex[MC_SHA256_HEX_SIZE];
	struct stat st;

	assert_non_null(mkdtemp(dir));
	keypath = mc_printf("%s/ctl.key", dir);
	pubpath = mc_printf("%s/ctl.pub", dir);
	assert_int_equal(mc_secret_key_generate(&gen, &err), MC_OK);
	assert_int_equal(mc_secret_key_generate(&other, &err), MC_OK);
	assert_memory_not_equal(gen.seed, other.seed, 32);

	/* kid = hex of the first 8 bytes of sha256(pk). */
	mc_sha256_hex(gen.pk, 32, hex);
	mc_key_id(gen.pk, kid);
	assert_memory_equal(kid, hex, 16);
	assert_string_equal(kid, gen.kid);

	assert_int_equal(mc_secret_key_save(&gen, keypath, &err), MC_OK);
	assert_int_equal(stat(keypath, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(mc_public_key_save(&gen, pubpath, &err), MC_OK);
	assert_int_equal(mc_secret_key_load(keypath, &loaded, &err), MC_OK);
	assert_memory_equal(loaded.seed, gen.seed, 32);
	assert_memory_equal(loaded.sk, gen.sk, 64);

	mc_keyring_init(&kr);
	assert_int_equal(mc_keyring_load(&kr, pubpath, &err), MC_OK);
	assert_int_equal(kr.n_keys, 1);
	assert_string_equal(kr.keys[0].kid, gen.kid);
	mc_keyring_clear(&kr);

	/* A secret key others can read is refused, like ssh does. */
	assert_int_equal(chmod(keypath, 0644), 0);
	assert_int_equal(mc_secret_key_load(keypath, &loaded, &err),
	                 MC_ERR_KEY);
	assert_non_null(strstr(err.msg, "chmod 600"));
	/* The public file is not a secret key file. */
	assert_int_equal(
	        mc_secret_key_load("/nonexistent/x.key", &loaded, &err),
	        MC_ERR_IO);
	assert_int_equal(mc_keyring_load(&kr, keypath, &err), MC_ERR_KEY);

	unlink(keypath);
	unlink(pubpath);
	rmdir(dir);
	free(keypath);
	free(pubpath);
	mc_secret_key_wipe(&gen);
	mc_secret_key_wipe(&other);
	mc_secret_key_wipe(&loaded);
}

/* ---- sha256 ---- */

static void test_sha256_vectors(void **state)
{
	char hex[MC_SHA256_HEX_SIZE];

	mc_sha256_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
	                         "27ae41e4649b934ca495991b7852b855");
	mc_sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
	                         "b00361a396177a9cb410ff61f20015ad");
}

static void test_sha256_file(void **state)
{
	char path[] = "/tmp/mc-test-sha-XXXXXX";
	char want[MC_SHA256_HEX_SIZE], got[MC_SHA256_HEX_SIZE];
	size_t n = 200 * 1024 + 17; /* several read chunks and a tail */
	unsigned char *data = malloc(n);
	struct mc_error err;
	int64_t size = -1;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	for (size_t i = 0; i < n; i++)
		data[i] = (unsigned char)(i * 31 + 7);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
	mc_sha256_hex(data, n, want);
	assert_int_equal(mc_sha256_file(path, got, &size, &err), MC_OK);
	assert_string_equal(got, want);
	assert_int_equal(size, (int64_t)n);

	/* The "abc" vector through a file. */
	assert_int_equal(mc_write_file_atomic(path, "abc", 3, 0600, &err),
	                 MC_OK);
	assert_int_equal(mc_sha256_file(path, got, NULL, &err), MC_OK);
	assert_string_equal(got, "ba7816bf8f01cfea414140de5dae2223"
	                         "b00361a396177a9cb410ff61f20015ad");
	unlink(path);
	assert_int_equal(mc_sha256_file(path, got, &size, &err), MC_ERR_IO);
	assert_non_null(strstr(err.msg, path));
	free(data);
}

static void test_purpose_names(void **state)
{
	assert_string_equal(mc_purpose_name(MC_PURPOSE_POINTER), "pointer");
	assert_string_equal(mc_purpose_name(MC_PURPOSE_ALERT), "alert");
	assert_string_equal(mc_purpose_name(MC_PURPOSE_COMMAND), "command");
	assert_int_equal(mc_purpose_parse("alert"), MC_PURPOSE_ALERT);
	assert_int_equal(mc_purpose_parse("any"), -1);
	assert_int_equal(mc_purpose_parse(NULL), -1);
	assert_int_equal(mc_sign_init(), MC_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_round_trip_each_purpose),
	        cmocka_unit_test(test_signed_bytes_are_documented),
	        cmocka_unit_test(test_two_keys_in_ring),
	        cmocka_unit_test(test_reject_flipped_bit_in_sig),
	        cmocka_unit_test(test_reject_flipped_bit_in_body),
	        cmocka_unit_test(test_reject_unknown_key),
	        cmocka_unit_test(test_reject_wrong_purpose),
	        cmocka_unit_test(test_reject_malformed_envelope),
	        cmocka_unit_test(test_reject_oversize),
	        cmocka_unit_test(test_reject_bad_sig_encoding),
	        cmocka_unit_test(test_reject_missing_fields),
	        cmocka_unit_test(test_reject_unsupported_format),
	        cmocka_unit_test(test_sign_refuses_non_object),
	        cmocka_unit_test(test_pointer_check),
	        cmocka_unit_test(test_alert_check),
	        cmocka_unit_test(test_command_check),
	        cmocka_unit_test(test_pointer_open),
	        cmocka_unit_test(test_open_rejects_invalid_body),
	        cmocka_unit_test(test_alert_open),
	        cmocka_unit_test(test_command_open),
	        cmocka_unit_test(test_keyring_parse_good),
	        cmocka_unit_test(test_keyring_parse_bad),
	        cmocka_unit_test(test_secret_key_parse),
	        cmocka_unit_test(test_key_files_on_disk),
	        cmocka_unit_test(test_sha256_vectors),
	        cmocka_unit_test(test_sha256_file),
	        cmocka_unit_test(test_purpose_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
