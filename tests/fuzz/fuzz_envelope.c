/*
 * Fuzz the signed envelope path a node runs on every retained message:
 * mc_envelope_verify, mc_pointer_open, mc_alert_open, mc_command_open.
 *
 * The seed corpus (corpus/envelope/) holds envelopes signed by the fixed
 * TEST key below, so the fuzzer starts past the signature check.  Since
 * almost every mutation breaks the signature, the harness also re-signs
 * the body of any input that is an envelope-shaped JSON object with the
 * same key and opens that, so that the body parsers and the node checks
 * see mutated documents behind a valid signature, as they would if the
 * controller itself signed something odd.  The raw input is also fed to
 * the key file parsers.
 *
 * TEST KEY ONLY: its seed is public, in this file.  No deployment may
 * ever trust its public key (kid printed by the corpus generator).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "minecast/codec.h"
#include "minecast/sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fixed test seed: "minecast-fuzz-TEST-KEY-not-used!" in hex. */
static const char test_seed_hex[] =
        "6d696e65636173742d66757a7a2d544553542d4b45592d6e6f742d7573656421";

/* 2023-11-12T00:00:00Z: inside the validity of the corpus documents. */
#define FUZZ_NOW 1699747200000LL

static struct mc_secret_key test_key;
static struct mc_keyring ring;

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	return c - 'a' + 10;
}

static void init_once(void)
{
	static int ready;
	unsigned char seed[32];

	if (ready)
		return;
	for (int i = 0; i < 32; i++)
		seed[i] = (unsigned char)(hexval(test_seed_hex[2 * i]) << 4 |
		                          hexval(test_seed_hex[2 * i + 1]));
	if (mc_secret_key_from_seed(seed, &test_key, NULL) != MC_OK ||
	    mc_keyring_add(&ring, test_key.pk, NULL) != MC_OK)
		abort();
	ready = 1;
}

/* Open buf as each kind of message, with a node identity to match. */
static void open_all(const char *buf, size_t len)
{
	static const char *const tags[] = {"nha-an", "lo-3"};
	const struct mc_who who = {"pi-cua-lo-01", "cua-lo", tags, 2};
	struct mc_signed s;
	struct mc_pointer p;
	struct mc_alert a;
	struct mc_command c;

	if (mc_envelope_verify(&ring, buf, len, MC_PURPOSE_ANY, &s, NULL) ==
	            MC_OK &&
	    s.body[s.body_len] != '\0')
		abort(); /* the body must be NUL-terminated */
	mc_signed_clear(&s);
	if (mc_pointer_open(&ring, buf, len, "pi-cua-lo-01", 6, FUZZ_NOW, &p,
	                    NULL) == MC_OK &&
	    (!p.node || p.version <= 6))
		abort(); /* accepted something the checks forbid */
	mc_pointer_clear(&p);
	if (mc_alert_open(&ring, buf, len, &who, 2, FUZZ_NOW, &a, NULL) ==
	            MC_OK &&
	    (a.seq <= 2 || a.expires_ms <= FUZZ_NOW))
		abort();
	mc_alert_clear(&a);
	if (mc_command_open(&ring, buf, len, "pi-cua-lo-01", FUZZ_NOW, &c,
	                    NULL) == MC_OK &&
	    c.expires_ms <= FUZZ_NOW)
		abort();
	mc_command_clear(&c);
}

/* If data is a JSON object with a string "body", sign that body again. */
static void resign_and_open(const uint8_t *data, size_t size)
{
	json_t *env = json_loadb((const char *)data, size, 0, NULL);
	json_t *body = env ? json_object_get(env, "body") : NULL;
	int purpose = mc_purpose_parse(
	        json_string_value(json_object_get(env, "purpose")));
	char *signed_env = NULL;
	size_t len = 0;

	if (!body || !json_is_string(body))
		goto out;
	if (purpose < 0)
		purpose = MC_PURPOSE_POINTER;
	if (mc_envelope_sign(&test_key, (enum mc_purpose)purpose,
	                     json_string_value(body), json_string_length(body),
	                     &signed_env, &len, NULL) == MC_OK)
		open_all(signed_env, len);
out:
	free(signed_env);
	json_decref(env);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mc_keyring kr;
	struct mc_secret_key sk;

	init_once();
	open_all((const char *)data, size);
	resign_and_open(data, size);

	mc_keyring_init(&kr);
	mc_keyring_parse(&kr, (const char *)data, size, "fuzz", NULL);
	mc_keyring_clear(&kr);
	mc_secret_key_parse((const char *)data, size, "fuzz", &sk, NULL);
	mc_secret_key_wipe(&sk);
	return 0;
}
