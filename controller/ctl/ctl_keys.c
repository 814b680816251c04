/*
 * minecastctl keygen, sign, verify — the signing key pair and signed
 * envelopes, offline.  The library side is common/include/minecast/sign.h;
 * docs/signing.md is the operator's guide.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "minecast/codec.h"
#include "minecast/messages.h"
#include "minecast/sign.h"
#include "minecast/util.h"

#include "ctl.h"

/* Largest body or envelope read from a file or stdin. */
#define INPUT_MAX MC_MAX_ENVELOPE_BYTES

/* Most --tags values kept for target matching. */
#define TAGS_MAX 64

static void fail(const char *cmd, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Print "minecastctl: <cmd>: <why>" on stderr. */
static void fail(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "minecastctl: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * Read a whole file, or stdin for NULL or "-", of at most max bytes.  On
 * success *out is NUL-terminated and owned by the caller.
 */
static enum mc_err read_input(const char *path, size_t max, char **out,
                              size_t *len, struct mc_error *err)
{
	bool use_stdin = !path || strcmp(path, "-") == 0;
	const char *name = use_stdin ? "stdin" : path;
	FILE *f = stdin;
	char *buf = NULL;
	size_t got = 0;
	enum mc_err rc = MC_OK;

	*out = NULL;
	*len = 0;
	if (!use_stdin) {
		f = fopen(path, "rb");
		if (!f)
			return mc_error_set(err, MC_ERR_IO, "%s: %s", path,
			                    strerror(errno));
	}
	buf = malloc(max + 2);
	if (!buf) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "%s: out of memory", name);
		goto out;
	}
	/* Read one byte past the limit to tell "exactly max" from "more". */
	got = fread(buf, 1, max + 1, f);
	if (ferror(f)) {
		rc = mc_error_set(err, MC_ERR_IO, "%s: read error", name);
		goto out;
	}
	if (got > max) {
		rc = mc_error_set(err, MC_ERR_TOO_LARGE,
		                  "%s: larger than the limit of %zu bytes",
		                  name, max);
		goto out;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	buf = NULL;
out:
	free(buf);
	if (f != stdin)
		fclose(f);
	return rc;
}

/* Parse a decimal int64 argument; false if it is not exactly one. */
static bool parse_i64(const char *s, int64_t *out)
{
	char *end = NULL;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end != '\0')
		return false;
	*out = v;
	return true;
}

/*
 * Report an option getopt_long did not accept.  opterr is off so that
 * every message has the "minecastctl: <cmd>:" form.
 */
static int bad_option(const char *cmd, char **argv, int c)
{
	if (c == ':')
		fail(cmd, "option '%s' needs a value", argv[optind - 1]);
	else
		fail(cmd, "unknown option '%s'", argv[optind - 1]);
	fprintf(stderr, "Try 'minecastctl %s --help'.\n", cmd);
	return MC_CTL_USAGE;
}

/* ---- keygen ---- */

static void keygen_help(FILE *out)
{
	fprintf(out, "Usage: minecastctl keygen --out PREFIX [--force]\n"
	             "\n"
	             "Create a new ed25519 signing key pair for the controller "
	             "and print\n"
	             "its key id (kid, 16 hex digits) on stdout.\n"
	             "\n"
	             "  --out PREFIX  write the secret key to PREFIX.key (mode "
	             "0600) and\n"
	             "                the public key to PREFIX.pub\n"
	             "  --force       replace existing PREFIX.key/PREFIX.pub; "
	             "the old\n"
	             "                secret key is lost for good\n"
	             "  -h, --help    show this text\n"
	             "\n"
	             "Keep PREFIX.key on the controller only. Players trust "
	             "PREFIX.pub once\n"
	             "its line is in their trusted keys file; docs/signing.md "
	             "describes\n"
	             "key rotation.\n");
}

int mc_ctl_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"out", required_argument, NULL, 'o'},
	        {"force", no_argument, NULL, 'f'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0}};
	struct mc_secret_key key;
	struct mc_error err;
	const char *prefix = NULL;
	char *keypath = NULL, *pubpath = NULL;
	bool force = false;
	struct stat st;
	int c, rc = MC_CTL_FAIL;

	memset(&key, 0, sizeof(key));
	mc_error_clear(&err);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': prefix = optarg; break;
		case 'f': force = true; break;
		case 'h': keygen_help(stdout); return MC_CTL_OK;
		default: return bad_option("keygen", argv, c);
		}
	}
	if (optind < argc || !prefix || !*prefix) {
		if (optind < argc)
			fail("keygen", "unexpected argument '%s'",
			     argv[optind]);
		else
			fail("keygen", "--out PREFIX is required");
		fprintf(stderr, "Try 'minecastctl keygen --help'.\n");
		return MC_CTL_USAGE;
	}
	keypath = mc_printf("%s.key", prefix);
	pubpath = mc_printf("%s.pub", prefix);
	if (!keypath || !pubpath) {
		fail("keygen", "out of memory");
		goto out;
	}
	if (!force && (stat(keypath, &st) == 0 || stat(pubpath, &st) == 0)) {
		fail("keygen",
		     "%s: a key already exists; use --force to replace it (the "
		     "old key is lost)",
		     stat(keypath, &st) == 0 ? keypath : pubpath);
		goto out;
	}
	if (mc_secret_key_generate(&key, &err) != MC_OK ||
	    mc_secret_key_save(&key, keypath, &err) != MC_OK ||
	    mc_public_key_save(&key, pubpath, &err) != MC_OK) {
		fail("keygen", "%s", err.msg);
		goto out;
	}
	printf("%s\n", key.kid);
	fprintf(stderr,
	        "minecastctl: keygen: wrote %s (secret, keep on the "
	        "controller) and %s (public, for the players)\n",
	        keypath, pubpath);
	rc = MC_CTL_OK;
out:
	mc_secret_key_wipe(&key);
	free(keypath);
	free(pubpath);
	return rc;
}

/* ---- sign ---- */

static void sign_help(FILE *out)
{
	fprintf(out,
	        "Usage: minecastctl sign --key FILE.key --purpose "
	        "pointer|alert|command\n"
	        "                        [--out FILE] [DOC|-]\n"
	        "\n"
	        "Sign a document and write the signed envelope "
	        "(minecast-signed/1).\n"
	        "DOC is the document JSON (a pointer, alert or command message "
	        "as in\n"
	        "docs/protocol.md); without DOC or with '-' it is read from "
	        "stdin.\n"
	        "The document must parse as a valid message of the given "
	        "purpose, so\n"
	        "that nothing malformed is ever signed. Trailing whitespace "
	        "is\n"
	        "dropped; every other byte is signed exactly as given.\n"
	        "\n"
	        "  --key FILE.key     the secret key (from 'minecastctl "
	        "keygen'); it\n"
	        "                     must not be readable by group or others\n"
	        "  --purpose P        what the document is: pointer, alert or "
	        "command;\n"
	        "                     part of the signature, so it cannot be "
	        "reused\n"
	        "                     as another kind of message\n"
	        "  --out FILE         write the envelope to FILE (atomically) "
	        "instead\n"
	        "                     of stdout\n"
	        "  -h, --help         show this text\n");
}

/* Check body parses as the message type of purpose; err says why not. */
static enum mc_err check_body(enum mc_purpose purpose, const char *body,
                              size_t len, struct mc_error *err)
{
	enum mc_err rc = MC_ERR_INVAL;

	switch (purpose) {
	case MC_PURPOSE_POINTER: {
		struct mc_pointer p;

		memset(&p, 0, sizeof(p));
		rc = mc_pointer_parse(body, len, &p, err);
		mc_pointer_clear(&p);
		break;
	}
	case MC_PURPOSE_ALERT: {
		struct mc_alert a;

		memset(&a, 0, sizeof(a));
		rc = mc_alert_parse(body, len, &a, err);
		mc_alert_clear(&a);
		break;
	}
	case MC_PURPOSE_COMMAND: {
		struct mc_command cmd;

		memset(&cmd, 0, sizeof(cmd));
		rc = mc_command_parse(body, len, &cmd, err);
		mc_command_clear(&cmd);
		break;
	}
	case MC_PURPOSE_ANY: break;
	}
	return rc;
}

int mc_ctl_sign(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"key", required_argument, NULL, 'k'},
	        {"purpose", required_argument, NULL, 'p'},
	        {"out", required_argument, NULL, 'o'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0}};
	struct mc_secret_key key;
	struct mc_error err;
	const char *keypath = NULL, *outpath = NULL, *doc = NULL;
	int purpose = -1;
	char *body = NULL, *env = NULL, *line = NULL;
	size_t body_len = 0, env_len = 0;
	int c, rc = MC_CTL_FAIL;

	memset(&key, 0, sizeof(key));
	mc_error_clear(&err);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': keypath = optarg; break;
		case 'o': outpath = optarg; break;
		case 'p':
			purpose = mc_purpose_parse(optarg);
			if (purpose < 0) {
				fail("sign",
				     "--purpose: '%s' is not pointer, alert or "
				     "command",
				     optarg);
				return MC_CTL_USAGE;
			}
			break;
		case 'h': sign_help(stdout); return MC_CTL_OK;
		default: return bad_option("sign", argv, c);
		}
	}
	if (optind < argc)
		doc = argv[optind++];
	if (optind < argc || !keypath || purpose < 0) {
		if (optind < argc)
			fail("sign", "unexpected argument '%s'", argv[optind]);
		else
			fail("sign", "%s is required",
			     !keypath ? "--key FILE.key" : "--purpose P");
		fprintf(stderr, "Try 'minecastctl sign --help'.\n");
		return MC_CTL_USAGE;
	}
	if (read_input(doc, INPUT_MAX, &body, &body_len, &err) != MC_OK) {
		fail("sign", "%s", err.msg);
		goto out;
	}
	while (body_len && strchr(" \t\r\n", body[body_len - 1]))
		body[--body_len] = '\0';
	if (check_body((enum mc_purpose)purpose, body, body_len, &err) !=
	    MC_OK) {
		fail("sign", "%s is not a valid %s: %s", doc ? doc : "stdin",
		     mc_purpose_name((enum mc_purpose)purpose), err.msg);
		goto out;
	}
	if (mc_secret_key_load(keypath, &key, &err) != MC_OK ||
	    mc_envelope_sign(&key, (enum mc_purpose)purpose, body, body_len,
	                     &env, &env_len, &err) != MC_OK) {
		fail("sign", "%s", err.msg);
		goto out;
	}
	line = mc_printf("%s\n", env);
	if (!line) {
		fail("sign", "out of memory");
		goto out;
	}
	if (outpath) {
		if (mc_write_file_atomic(outpath, line, env_len + 1, 0644,
		                         &err) != MC_OK) {
			fail("sign", "%s", err.msg);
			goto out;
		}
	} else if (fwrite(line, 1, env_len + 1, stdout) != env_len + 1 ||
	           fflush(stdout) != 0) {
		fail("sign", "stdout: %s", strerror(errno));
		goto out;
	}
	rc = MC_CTL_OK;
out:
	mc_secret_key_wipe(&key);
	free(body);
	free(env);
	free(line);
	return rc;
}

/* ---- verify ---- */

static void verify_help(FILE *out)
{
	fprintf(out,
	        "Usage: minecastctl verify --pub FILE.pub [--pub FILE.pub ...] "
	        "[--purpose P]\n"
	        "                          [--node ID] [--site ID] [--tags "
	        "T1,T2]\n"
	        "                          [--applied-version N] [--last-seq "
	        "N] [--now MS]\n"
	        "                          [ENVELOPE|-]\n"
	        "\n"
	        "Verify a signed envelope as a player would, then run the "
	        "checks that\n"
	        "apply to its purpose. ENVELOPE is a file; without it or with "
	        "'-' the\n"
	        "envelope is read from stdin. On success prints 'ok: <purpose> "
	        "signed\n"
	        "by <kid>' and the document on stdout and exits 0; on "
	        "rejection prints\n"
	        "'minecastctl: verify: <reason>' on stderr and exits 1.\n"
	        "\n"
	        "  --pub FILE.pub        trusted public keys (several per "
	        "file); repeat\n"
	        "                        for more files. At least one is "
	        "required.\n"
	        "  --purpose P           require pointer, alert or command "
	        "(default:\n"
	        "                        accept any and check what it is)\n"
	        "  --node ID             this node's id: a pointer or command "
	        "must be\n"
	        "                        addressed to it, an alert must target "
	        "it\n"
	        "  --site ID             this node's site, for alert targets\n"
	        "  --tags T1,T2          this node's tags, for alert targets "
	        "(may be\n"
	        "                        repeated)\n"
	        "  --applied-version N   highest pointer version already "
	        "applied; the\n"
	        "                        pointer's version must be greater "
	        "(default:\n"
	        "                        not checked)\n"
	        "  --last-seq N          highest seq already seen for this "
	        "alert id; the\n"
	        "                        alert's seq must be greater (default: "
	        "not\n"
	        "                        checked)\n"
	        "  --now MS              the time to check expiry against, in "
	        "ms since\n"
	        "                        the Unix epoch (default: now)\n"
	        "  -h, --help            show this text\n"
	        "\n"
	        "Alert targets are checked only when --node, --site or --tags "
	        "is given.\n");
}

/* Options of verify that feed the checks. */
struct verify_opts {
	const char *node;           /* --node, or NULL */
	const char *site;           /* --site, or NULL */
	const char *tags[TAGS_MAX]; /* --tags, split at commas */
	size_t n_tags;
	bool have_applied; /* --applied-version given */
	int64_t applied;
	bool have_last_seq; /* --last-seq given */
	int64_t last_seq;
	int64_t now_ms; /* --now, or the clock */
};

/* Parse and check the verified body; fills err on rejection. */
static enum mc_err verify_checks(const struct mc_signed *s,
                                 const struct verify_opts *o,
                                 struct mc_error *err)
{
	enum mc_err rc = MC_ERR_INVAL;
	char msg[MC_ERROR_MSG_MAX];

	switch (s->purpose) {
	case MC_PURPOSE_POINTER: {
		struct mc_pointer p;

		memset(&p, 0, sizeof(p));
		rc = mc_pointer_parse(s->body, s->body_len, &p, err);
		if (rc == MC_OK)
			rc = mc_pointer_check(&p, o->node,
			                      o->have_applied ? o->applied
			                                      : INT64_MIN,
			                      o->now_ms, err);
		else
			goto body_error;
		mc_pointer_clear(&p);
		break;
	}
	case MC_PURPOSE_ALERT: {
		struct mc_alert a;
		struct mc_who who = {o->node, o->site, o->tags, o->n_tags};
		bool targeted = o->node || o->site || o->n_tags;

		memset(&a, 0, sizeof(a));
		rc = mc_alert_parse(s->body, s->body_len, &a, err);
		if (rc == MC_OK)
			rc = mc_alert_check(&a, targeted ? &who : NULL,
			                    o->have_last_seq ? o->last_seq
			                                     : INT64_MIN,
			                    o->now_ms, err);
		else
			goto body_error;
		mc_alert_clear(&a);
		break;
	}
	case MC_PURPOSE_COMMAND: {
		struct mc_command cmd;

		memset(&cmd, 0, sizeof(cmd));
		rc = mc_command_parse(s->body, s->body_len, &cmd, err);
		if (rc == MC_OK)
			rc = mc_command_check(&cmd, o->node, o->now_ms, err);
		else
			goto body_error;
		mc_command_clear(&cmd);
		break;
	}
	case MC_PURPOSE_ANY: break;
	}
	return rc;

body_error:
	/* Signed but invalid: the signer's tool should never allow it. */
	snprintf(msg, sizeof(msg), "%s", err->msg);
	return mc_error_set(err, rc, "body: %s", msg);
}

int mc_ctl_verify(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"pub", required_argument, NULL, 'k'},
	        {"purpose", required_argument, NULL, 'p'},
	        {"node", required_argument, NULL, 'n'},
	        {"site", required_argument, NULL, 's'},
	        {"tags", required_argument, NULL, 't'},
	        {"applied-version", required_argument, NULL, 'a'},
	        {"last-seq", required_argument, NULL, 'q'},
	        {"now", required_argument, NULL, 'w'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0}};
	struct mc_keyring kr;
	struct mc_signed s;
	struct mc_error err;
	struct verify_opts o;
	const char **pubs = NULL;
	size_t n_pubs = 0;
	const char *path = NULL;
	int expect = MC_PURPOSE_ANY;
	char *buf = NULL;
	size_t len = 0;
	int c, rc = MC_CTL_USAGE;

	mc_keyring_init(&kr);
	memset(&s, 0, sizeof(s));
	memset(&o, 0, sizeof(o));
	mc_error_clear(&err);
	o.now_ms = mc_now_ms();
	pubs = calloc((size_t)argc + 1, sizeof(*pubs));
	if (!pubs) {
		fail("verify", "out of memory");
		return MC_CTL_FAIL;
	}
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': pubs[n_pubs++] = optarg; break;
		case 'p':
			expect = mc_purpose_parse(optarg);
			if (expect < 0) {
				fail("verify",
				     "--purpose: '%s' is not pointer, alert or "
				     "command",
				     optarg);
				goto out;
			}
			break;
		case 'n': o.node = optarg; break;
		case 's': o.site = optarg; break;
		case 't':
			/* Split in place: optarg points into argv. */
			for (char *save = NULL,
			          *t = strtok_r(optarg, ",", &save);
			     t; t = strtok_r(NULL, ",", &save)) {
				if (o.n_tags == TAGS_MAX) {
					fail("verify",
					     "--tags: more than %d tags",
					     TAGS_MAX);
					goto out;
				}
				o.tags[o.n_tags++] = t;
			}
			break;
		case 'a':
			if (!parse_i64(optarg, &o.applied)) {
				fail("verify",
				     "--applied-version: '%s' is not an "
				     "integer",
				     optarg);
				goto out;
			}
			o.have_applied = true;
			break;
		case 'q':
			if (!parse_i64(optarg, &o.last_seq)) {
				fail("verify",
				     "--last-seq: '%s' is not an integer",
				     optarg);
				goto out;
			}
			o.have_last_seq = true;
			break;
		case 'w':
			if (!parse_i64(optarg, &o.now_ms)) {
				fail("verify",
				     "--now: '%s' is not milliseconds since "
				     "the epoch",
				     optarg);
				goto out;
			}
			break;
		case 'h':
			verify_help(stdout);
			rc = MC_CTL_OK;
			goto out;
		default: rc = bad_option("verify", argv, c); goto out;
		}
	}
	if (optind < argc)
		path = argv[optind++];
	if (optind < argc || n_pubs == 0) {
		if (optind < argc)
			fail("verify", "unexpected argument '%s'",
			     argv[optind]);
		else
			fail("verify", "--pub FILE.pub is required");
		fprintf(stderr, "Try 'minecastctl verify --help'.\n");
		goto out;
	}
	rc = MC_CTL_FAIL;
	for (size_t i = 0; i < n_pubs; i++) {
		if (mc_keyring_load(&kr, pubs[i], &err) != MC_OK) {
			fail("verify", "%s", err.msg);
			goto out;
		}
	}
	if (read_input(path, INPUT_MAX, &buf, &len, &err) != MC_OK ||
	    mc_envelope_verify(&kr, buf, len, (enum mc_purpose)expect, &s,
	                       &err) != MC_OK ||
	    verify_checks(&s, &o, &err) != MC_OK) {
		fail("verify", "%s", err.msg);
		goto out;
	}
	printf("ok: %s signed by %s\n%s\n", mc_purpose_name(s.purpose), s.kid,
	       s.body);
	rc = fflush(stdout) == 0 ? MC_CTL_OK : MC_CTL_FAIL;
out:
	mc_signed_clear(&s);
	mc_keyring_clear(&kr);
	free(pubs);
	free(buf);
	return rc;
}
