/*
 * minecast-controller — the daemon: options, start order, signals, the
 * once-a-second tick thread, orderly stop.
 *
 * Start order, each step needing the ones before:
 *   configuration → data directories → database (migrations) → signing
 *   key → metrics → MQTT → HTTP → tick thread.
 * SIGTERM or SIGINT stops in reverse: HTTP first (no new requests), the
 * tick thread, MQTT, then the database.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "minecast/log.h"
#include "minecast/util.h"

#include "alerts.h"
#include "audit.h"
#include "auth.h"
#include "db.h"
#include "fleet.h"
#include "http.h"
#include "mcc.h"
#include "metrics.h"
#include "mqtt.h"
#include "provision.h"
#include "publish.h"
#include "routes.h"

/* Used when --config is not given and the file exists. */
#define DEFAULT_CONFIG "/etc/minecast/controller.conf"

/* Most --set options. */
#define MAX_SETS 64

/* Longest password read. */
#define PASSWORD_MAX 1024

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: minecast-controller [--config FILE] [--set "
	        "SECTION.KEY=VALUE]...\n"
	        "       minecast-controller --check-config [--config FILE] "
	        "[--set ...]\n"
	        "       minecast-controller --init-admin NAME "
	        "[--password-stdin] [--token-out FILE] [--config FILE]\n"
	        "\n"
	        "The minecast controller: content library, approval "
	        "workflow, calendar,\n"
	        "publishing of signed playlists to player nodes over MQTT, "
	        "fleet health,\n"
	        "urgent alerts, proof-of-play reports; a REST API on HTTP.\n"
	        "\n"
	        "options:\n"
	        "  --config FILE       the configuration file (default %s "
	        "when it\n"
	        "                      exists; otherwise built-in defaults)\n"
	        "  --set S.K=V         override one key, e.g. --set "
	        "controller.listen=0.0.0.0:8080\n"
	        "  --check-config      report every problem of the "
	        "configuration and exit\n"
	        "                      (0 = fine, 1 = problems)\n"
	        "  --init-admin NAME   create the first administrator and "
	        "exit; refused\n"
	        "                      when NAME exists.  The password is "
	        "asked for on the\n"
	        "                      terminal without echo, or read from "
	        "the first line of\n"
	        "                      standard input with "
	        "--password-stdin\n"
	        "  --password-stdin    see --init-admin\n"
	        "  --token-out FILE    with --init-admin: also make an API "
	        "token for NAME\n"
	        "                      and write it to FILE (mode 0600), for "
	        "minecastctl\n"
	        "  --routes            print every API route (method, path, "
	        "roles) and exit;\n"
	        "                      docs/api.md's endpoint index is "
	        "checked against it\n"
	        "  --version           print the version and exit\n"
	        "  --help              print this help and exit\n"
	        "\n"
	        "configuration keys (docs/controller.md explains each):\n",
	        DEFAULT_CONFIG);
	mcc_config_print_keys(out);
	fprintf(out, "\n"
	             "First run: start it once (it makes the database and the "
	             "signing key in\n"
	             "data_dir), then create the administrator:\n"
	             "  minecast-controller --config FILE --init-admin admin "
	             "--token-out ~/.config/minecast/token\n"
	             "Stop with SIGTERM (systemctl stop) or Ctrl-C.\n");
}

/*
 * Every route as "METHOD PATTERN ROLES", {} shown as {id}; roles are
 * "public" or the names allowed (admin passes every check besides).
 * tests/integration/58-api-doc.sh compares this with docs/api.md.
 */
static void print_routes(void)
{
	for (size_t t = 0; mcc_route_tables[t]; t++) {
		for (const struct mcc_route *r = mcc_route_tables[t]; r->method;
		     r++) {
			char roles[128];

			if (r->roles)
				mcc_roles_format(r->roles, roles,
				                 sizeof(roles));
			else
				snprintf(roles, sizeof(roles), "public");
			printf("%s ", r->method);
			for (const char *p = r->pattern; *p; p++) {
				if (p[0] == '{' && p[1] == '}') {
					fputs("{id}", stdout);
					p++;
				} else {
					putchar(*p);
				}
			}
			printf(" %s\n", roles);
		}
	}
}

/* Options as parsed. */
struct opts {
	const char *config;         /* --config; NULL = default */
	const char *sets[MAX_SETS]; /* --set values */
	int n_sets;                 /* how many */
	bool check;                 /* --check-config */
	const char *init_admin;     /* --init-admin NAME */
	bool password_stdin;        /* --password-stdin */
	const char *token_out;      /* --token-out FILE */
	bool routes;                /* --routes */
};

/* 0 ok, 2 usage error, -1 = --help / --version printed. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	enum {
		O_CONFIG = 1,
		O_SET,
		O_CHECK,
		O_INIT,
		O_PWSTDIN,
		O_TOKEN,
		O_VERSION,
		O_HELP,
		O_ROUTES
	};
	static const struct option longs[] = {
	        {"config", required_argument, NULL, O_CONFIG},
	        {"set", required_argument, NULL, O_SET},
	        {"check-config", no_argument, NULL, O_CHECK},
	        {"init-admin", required_argument, NULL, O_INIT},
	        {"password-stdin", no_argument, NULL, O_PWSTDIN},
	        {"token-out", required_argument, NULL, O_TOKEN},
	        {"version", no_argument, NULL, O_VERSION},
	        {"help", no_argument, NULL, O_HELP},
	        {"routes", no_argument, NULL, O_ROUTES},
	        {NULL, 0, NULL, 0},
	};
	int ch;

	memset(o, 0, sizeof(*o));
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (ch) {
		case O_CONFIG: o->config = optarg; break;
		case O_SET:
			if (o->n_sets == MAX_SETS) {
				fprintf(stderr,
				        "minecast-controller: --set: "
				        "at most %d\n",
				        MAX_SETS);
				return 2;
			}
			o->sets[o->n_sets++] = optarg;
			break;
		case O_CHECK: o->check = true; break;
		case O_INIT: o->init_admin = optarg; break;
		case O_PWSTDIN: o->password_stdin = true; break;
		case O_TOKEN: o->token_out = optarg; break;
		case O_VERSION:
			printf("minecast-controller %s\n", MC_VERSION);
			return -1;
		case O_HELP: usage(stdout); return -1;
		case O_ROUTES: o->routes = true; break;
		default:
			fprintf(stderr,
			        "minecast-controller: unknown or incomplete "
			        "option '%s'; see --help\n",
			        argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
		        "minecast-controller: unexpected argument '%s'; see "
		        "--help\n",
		        argv[optind]);
		return 2;
	}
	if ((o->password_stdin || o->token_out) && !o->init_admin) {
		fprintf(stderr, "minecast-controller: --password-stdin and "
		                "--token-out go with --init-admin NAME\n");
		return 2;
	}
	return 0;
}

/* Configuration with overrides; problems printed to stderr. */
static int load_config(const struct opts *o, struct mcc_config *cfg,
                       bool report_all)
{
	struct mc_error err;
	const char *path = o->config;
	int bad = 0;

	if (!path && access(DEFAULT_CONFIG, F_OK) == 0)
		path = DEFAULT_CONFIG;
	if (mcc_config_load_report(cfg, path, report_all ? stderr : NULL,
	                           &err) != MC_OK) {
		if (!report_all)
			fprintf(stderr, "minecast-controller: %s\n", err.msg);
		bad++;
	}
	for (int i = 0; i < o->n_sets; i++) {
		if (mcc_config_set(cfg, o->sets[i], &err) != MC_OK) {
			fprintf(stderr, "%s%s\n",
			        report_all ? "" : "minecast-controller: ",
			        err.msg);
			bad++;
		}
	}
	if (bad == 0 && mcc_config_finish(cfg, &err) != MC_OK) {
		fprintf(stderr, "%s%s\n",
		        report_all ? "" : "minecast-controller: ", err.msg);
		bad++;
	}
	if (report_all && bad == 0)
		printf("%s: configuration is fine\n",
		       path ? path : "(defaults)");
	return bad ? 1 : 0;
}

/* ---- --init-admin ---- */

/* Read one line into buf without its end of line. */
static bool read_line(FILE *f, char *buf, size_t len)
{
	size_t n;

	if (!fgets(buf, (int)len, f))
		return false;
	n = strlen(buf);
	if (n == len - 1 && buf[n - 1] != '\n')
		return false; /* longer than the limit */
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return true;
}

/* Ask on the terminal, without echo, twice. */
static bool prompt_password(char *buf, size_t len)
{
	char again[PASSWORD_MAX + 2];
	struct termios old, quiet;
	FILE *tty = fopen("/dev/tty", "r+");
	bool ok = false;

	if (!tty) {
		fprintf(stderr, "minecast-controller: no terminal to ask for "
		                "the password; use --password-stdin\n");
		return false;
	}
	if (tcgetattr(fileno(tty), &old) != 0) {
		fclose(tty);
		return false;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
	fprintf(tty, "Password: ");
	fflush(tty);
	ok = read_line(tty, buf, len);
	fprintf(tty, "\nPassword again: ");
	fflush(tty);
	ok = ok && read_line(tty, again, sizeof(again));
	fprintf(tty, "\n");
	tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fclose(tty);
	if (ok && strcmp(buf, again) != 0) {
		fprintf(stderr, "minecast-controller: the passwords differ\n");
		ok = false;
	}
	sodium_memzero(again, sizeof(again));
	return ok;
}

static int init_admin(struct mcc *c, const struct opts *o)
{
	char pw[PASSWORD_MAX + 2], token[MCC_TOKEN_SIZE], *text = NULL;
	struct mcc_principal who;
	struct mc_error err;
	sqlite3 *db = mcc_db(c);
	int64_t id = 0, tid = 0;
	json_t *after = NULL;
	int rc = 1;

	memset(token, 0, sizeof(token));
	memset(&who, 0, sizeof(who));
	snprintf(who.name, sizeof(who.name), "(init-admin)");
	if (mcc_user_id(c, o->init_admin) != 0) {
		fprintf(stderr,
		        "minecast-controller: user '%s' exists already; change "
		        "its password with PATCH /v1/users/%s or minecastctl\n",
		        o->init_admin, o->init_admin);
		return 1;
	}
	if (o->password_stdin ? !read_line(stdin, pw, sizeof(pw))
	                      : !prompt_password(pw, sizeof(pw))) {
		fprintf(stderr, "minecast-controller: no password read (one "
		                "line, at most 1024 bytes)\n");
		goto out;
	}
	if (mcc_db_begin(db) != MC_OK)
		goto dbfail;
	if (mcc_user_create(c, o->init_admin, pw, MCC_ROLE_ADMIN, &id, &err) !=
	    MC_OK) {
		mcc_db_rollback(db);
		fprintf(stderr, "minecast-controller: --init-admin: %s\n",
		        err.msg);
		goto out;
	}
	after = json_pack("{s:s, s:[s]}", "name", o->init_admin, "roles",
	                  "admin");
	if (mcc_audit(db, &who, "user.create", "user", o->init_admin, NULL,
	              after) != MC_OK)
		goto dbfail;
	if (o->token_out) {
		if (mcc_token_create(c, id, "init-admin", 0, token, &tid,
		                     &err) != MC_OK)
			goto dbfail;
		if (mcc_audit(db, &who, "token.create", "token", NULL, NULL,
		              NULL) != MC_OK)
			goto dbfail;
		text = mc_printf("%s\n", token);
		if (!text ||
		    mc_write_file_atomic(o->token_out, text, strlen(text), 0600,
		                         &err) != MC_OK) {
			mcc_db_rollback(db);
			fprintf(stderr,
			        "minecast-controller: --token-out: %s\n",
			        text ? err.msg : "out of memory");
			goto out;
		}
	}
	if (mcc_db_commit(db) != MC_OK)
		goto dbfail;
	mc_log_info("auth", "administrator '%s' created%s%s", o->init_admin,
	            o->token_out ? "; API token written to " : "",
	            o->token_out ? o->token_out : "");
	rc = 0;
	goto out;
dbfail:
	mcc_db_rollback(db);
	fprintf(stderr, "minecast-controller: --init-admin: database error "
	                "(see the log line above)\n");
	if (o->token_out)
		unlink(o->token_out);
out:
	if (text) {
		sodium_memzero(text, strlen(text));
		free(text);
	}
	json_decref(after);
	sodium_memzero(pw, sizeof(pw));
	sodium_memzero(token, sizeof(token));
	return rc;
}

/* ---- running ---- */

static pthread_mutex_t tick_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tick_cond = PTHREAD_COND_INITIALIZER;

/* Once a second: re-sign and retry publishes, node status, alert expiry. */
static void *tick_main(void *arg)
{
	struct mcc *c = arg;
	struct timespec next;

	clock_gettime(CLOCK_REALTIME, &next);
	while (!atomic_load(&c->stop)) {
		mcc_publish_tick(c);
		mcc_fleet_tick(c);
		mcc_alerts_tick(c);
		next.tv_sec += 1;
		pthread_mutex_lock(&tick_lock);
		while (!atomic_load(&c->stop) &&
		       pthread_cond_timedwait(&tick_cond, &tick_lock, &next) !=
		               ETIMEDOUT)
			;
		pthread_mutex_unlock(&tick_lock);
		/* After a long stall (suspend, clock step) do not catch up. */
		{
			struct timespec now;

			clock_gettime(CLOCK_REALTIME, &now);
			if (now.tv_sec > next.tv_sec + 5 ||
			    now.tv_sec < next.tv_sec - 5)
				next = now;
		}
	}
	mcc_db_thread_end();
	return NULL;
}

static int run(struct mcc *c)
{
	struct mc_error err;
	pthread_t tick;
	sigset_t sigs;
	bool tick_started = false;
	int sig = 0, rc = 1;

	/* The broker's password and ACL files first (provision.h). */
	if (mcc_provision_sync(c, &err) != MC_OK)
		mc_log_warn("main", "%s", err.msg);
	if (mcc_mqtt_start(c, &err) != MC_OK) {
		mc_log_error("main", "MQTT: %s", err.msg);
		goto out;
	}
	if (mcc_http_start(c, &err) != MC_OK) {
		mc_log_error("main", "%s", err.msg);
		goto out;
	}
	if (pthread_create(&tick, NULL, tick_main, c) != 0) {
		mc_log_error("main", "cannot start the tick thread");
		goto out;
	}
	tick_started = true;
	mc_log_info(
	        "main",
	        "minecast-controller %s ready: HTTP on port %d, data in %s, "
	        "signing key %s",
	        MC_VERSION, mcc_http_port(c), c->cfg.data_dir, c->key.kid);
	if (mcc_user_count(c) == 0)
		mc_log_warn("main",
		            "no users yet: create the administrator with "
		            "`minecast-controller --config FILE --init-admin "
		            "NAME` (it may run while this daemon runs)");
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	while (sigwait(&sigs, &sig) != 0)
		;
	mc_log_info("main", "%s: stopping",
	            sig == SIGTERM ? "SIGTERM" : "SIGINT");
	rc = 0;
out:
	mcc_http_stop(c);
	mc_log_debug("main", "HTTP stopped");
	atomic_store(&c->stop, true);
	if (tick_started) {
		pthread_mutex_lock(&tick_lock);
		pthread_cond_broadcast(&tick_cond);
		pthread_mutex_unlock(&tick_lock);
		pthread_join(tick, NULL);
		mc_log_debug("main", "tick thread stopped");
	}
	mcc_mqtt_stop(c);
	mc_log_debug("main", "MQTT stopped");
	if (rc == 0)
		mc_log_info("main", "stopped");
	return rc;
}

int main(int argc, char **argv)
{
	struct mcc c;
	struct opts o;
	struct mc_error err;
	sigset_t sigs;
	int rc;

	memset(&c, 0, sizeof(c));
	rc = parse_opts(argc, argv, &o);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	if (o.routes) {
		print_routes();
		return 0;
	}
	if (o.check) {
		rc = load_config(&o, &c.cfg, true);
		mcc_config_free(&c.cfg);
		return rc;
	}
	if (load_config(&o, &c.cfg, false) != 0) {
		fprintf(stderr, "minecast-controller: see --check-config for "
		                "every problem\n");
		mcc_config_free(&c.cfg);
		return 1;
	}
	mc_log_set_level(
	        (enum mc_log_level)mc_log_level_parse(c.cfg.log_level));
	if (mc_sign_init() != MC_OK) {
		fprintf(stderr, "minecast-controller: libsodium cannot start "
		                "(no entropy source?)\n");
		return 1;
	}
	/* Signals go to sigwait in main, never to a worker thread. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	umask(077);
	if (mcc_setup(&c, &err) != MC_OK) {
		mc_log_error("main", "cannot start: %s", err.msg);
		mcc_teardown(&c);
		return 1;
	}
	if (o.init_admin)
		rc = init_admin(&c, &o);
	else
		rc = run(&c);
	mcc_teardown(&c);
	return rc;
}
