/*
 * minecast-sim — N simulated player nodes in one process, speaking the
 * real protocol with the real common/ code (docs/sim.md).
 *
 * Exit status: 0 after a clean stop, 1 when something failed (keys,
 * registration, the descriptor budget), 2 for a bad command line.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "minecast/log.h"
#include "minecast/text.h"
#include "minecast/util.h"

#include "sim.h"

#ifndef MC_VERSION
#define MC_VERSION "0"
#endif

struct sim *sim_g;

/* The PRNG state of sim_rand (xorshift64*). */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

double sim_rand(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double)((rng_state * 0x2545F4914F6CDD1DULL) >> 11) /
	       9007199254740992.0;
}

static const char usage_text[] =
        "Usage: minecast-sim --nodes N --controller URL --trusted FILE "
        "[options]\n"
        "\n"
        "Simulates N minecast player nodes in one process: one MQTT "
        "connection each\n"
        "(client id = user name = node id, will and birth on "
        "node/<id>/state), signed\n"
        "pointers verified and manifests fetched over HTTP, applied state "
        "published,\n"
        "alerts acknowledged (delivered, then started at the alert's "
        "start_at_ms),\n"
        "commands answered, health every --health-s, proof of play at "
        "--pop-rate.\n"
        "Node ids are <prefix>00001 ..; sites <prefix>site-01 .. "
        "(docs/sim.md).\n"
        "\n"
        "Where:\n"
        "  --nodes N            how many nodes (1..100000)\n"
        "  --broker HOST:PORT   MQTT broker (default 127.0.0.1:1883)\n"
        "  --controller URL     controller HTTP base, e.g. "
        "http://127.0.0.1:8080\n"
        "                       (manifests, assets, --register, "
        "--provision)\n"
        "  --trusted FILE       trusted public keys (the controller's "
        "trusted.pub)\n"
        "  --prefix P           node id prefix (default \"sim-\")\n"
        "  --sites K            spread nodes over K sites, round robin "
        "(default 1)\n"
        "  --tags SPEC          tags: \"a,b\" on every node; \"c/4\" on "
        "every 4th node\n"
        "                       (node 1, 5, 9, ..)\n"
        "\n"
        "Identity:\n"
        "  --register           create missing sites and nodes through "
        "the API\n"
        "                       (needs --token; existing ones are kept, "
        "moved if\n"
        "                       their site or tags differ)\n"
        "  --provision          also POST /v1/nodes/{id}/provision each "
        "node and use\n"
        "                       the password it returns (one broker reload "
        "per node:\n"
        "                       for tens of nodes, not thousands)\n"
        "  --credentials FILE   lines \"node password\" for a broker with "
        "a password file\n"
        "  --token TOKEN        API token (default: $MINECAST_TOKEN)\n"
        "\n"
        "Behaviour:\n"
        "  --health-s S         seconds between healths, jittered "
        "(default 30; 0 none)\n"
        "  --pop-rate R         proof-of-play records per node per minute "
        "(default 2;\n"
        "                       0 none)\n"
        "  --pop-resend-s S     resend unacknowledged records after S s "
        "(default 60)\n"
        "  --fetch-assets       download and verify the manifest's assets "
        "too\n"
        "  --share-manifests    one download per sha256 for all nodes "
        "(default: each\n"
        "                       node downloads for itself)\n"
        "  --share-verify       check the signature of identical "
        "envelopes once for all\n"
        "                       nodes (alerts; default: every node checks "
        "its own)\n"
        "  --http-parallel N    downloads at once, keep-alive (default "
        "32)\n"
        "  --connect-rate R     first connections per second (default "
        "2000)\n"
        "  --keepalive S        MQTT keepalive (default 60)\n"
        "\n"
        "Run:\n"
        "  --duration S         run S seconds, then stop cleanly (default: "
        "until\n"
        "                       SIGINT or SIGTERM)\n"
        "  --drain-s S          at the stop, wait up to S s for "
        "proof-of-play acks\n"
        "                       (default 15)\n"
        "  --report FILE        JSON report, written at exit and on "
        "SIGUSR1\n"
        "  --ready-file FILE    written once every node is connected and "
        "subscribed\n"
        "  --progress-s S       a progress line every S s (default 10; 0 "
        "none)\n"
        "  --quiet              warnings and errors only\n"
        "  --verbose            debug lines\n"
        "  --help, --version\n"
        "\n"
        "A second SIGINT/SIGTERM leaves at once.  Exit status: 0 clean "
        "stop, 1 failure,\n"
        "2 bad command line.\n";

enum {
	OPT_NODES = 256,
	OPT_BROKER,
	OPT_CONTROLLER,
	OPT_TOKEN,
	OPT_TRUSTED,
	OPT_PREFIX,
	OPT_SITES,
	OPT_TAGS,
	OPT_REGISTER,
	OPT_PROVISION,
	OPT_CREDENTIALS,
	OPT_HEALTH,
	OPT_POP_RATE,
	OPT_POP_RESEND,
	OPT_FETCH_ASSETS,
	OPT_SHARE,
	OPT_SHARE_VERIFY,
	OPT_HTTP_PARALLEL,
	OPT_CONNECT_RATE,
	OPT_KEEPALIVE,
	OPT_DURATION,
	OPT_DRAIN,
	OPT_REPORT,
	OPT_READY,
	OPT_PROGRESS,
	OPT_QUIET,
	OPT_VERBOSE,
	OPT_HELP,
	OPT_VERSION
};

static const struct option long_opts[] = {
        {"nodes", required_argument, NULL, OPT_NODES},
        {"broker", required_argument, NULL, OPT_BROKER},
        {"controller", required_argument, NULL, OPT_CONTROLLER},
        {"token", required_argument, NULL, OPT_TOKEN},
        {"trusted", required_argument, NULL, OPT_TRUSTED},
        {"prefix", required_argument, NULL, OPT_PREFIX},
        {"sites", required_argument, NULL, OPT_SITES},
        {"tags", required_argument, NULL, OPT_TAGS},
        {"register", no_argument, NULL, OPT_REGISTER},
        {"provision", no_argument, NULL, OPT_PROVISION},
        {"credentials", required_argument, NULL, OPT_CREDENTIALS},
        {"health-s", required_argument, NULL, OPT_HEALTH},
        {"pop-rate", required_argument, NULL, OPT_POP_RATE},
        {"pop-resend-s", required_argument, NULL, OPT_POP_RESEND},
        {"fetch-assets", no_argument, NULL, OPT_FETCH_ASSETS},
        {"share-manifests", no_argument, NULL, OPT_SHARE},
        {"share-verify", no_argument, NULL, OPT_SHARE_VERIFY},
        {"http-parallel", required_argument, NULL, OPT_HTTP_PARALLEL},
        {"connect-rate", required_argument, NULL, OPT_CONNECT_RATE},
        {"keepalive", required_argument, NULL, OPT_KEEPALIVE},
        {"duration", required_argument, NULL, OPT_DURATION},
        {"drain-s", required_argument, NULL, OPT_DRAIN},
        {"report", required_argument, NULL, OPT_REPORT},
        {"ready-file", required_argument, NULL, OPT_READY},
        {"progress-s", required_argument, NULL, OPT_PROGRESS},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"verbose", no_argument, NULL, OPT_VERBOSE},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0}};

/* Print "minecast-sim: <opt>: <why>" and return 2. */
static int bad(const char *opt, const char *why)
{
	fprintf(stderr, "minecast-sim: %s: %s\n", opt, why);
	fprintf(stderr, "Try 'minecast-sim --help'.\n");
	return 2;
}

static bool parse_int(const char *s, long lo, long hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = (int)v;
	return true;
}

static bool parse_num(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* "a,b/3" into o->tags; false if a name is not an id or K bad. */
static bool parse_tags(struct sim_opts *o, const char *spec)
{
	char *copy = mc_strdup(spec), *save = NULL, *tok;
	bool ok = copy != NULL;

	for (tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && ok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *slash = strchr(tok, '/');
		struct sim_tag *t;
		int every = 1;

		if (slash) {
			*slash = '\0';
			ok = parse_int(slash + 1, 1, 1000000, &every);
		}
		if (!ok || !mc_id_valid(tok)) {
			ok = false;
			break;
		}
		t = realloc(o->tags, (o->n_tags + 1) * sizeof(*t));
		if (!t) {
			ok = false;
			break;
		}
		o->tags = t;
		t[o->n_tags].name = mc_strdup(tok);
		t[o->n_tags].every = every;
		if (!t[o->n_tags].name)
			ok = false;
		else
			o->n_tags++;
	}
	free(copy);
	return ok && o->n_tags > 0;
}

static int parse_args(int argc, char **argv, struct sim_opts *o)
{
	int c, port;
	char *colon;

	o->broker_host = mc_strdup("127.0.0.1");
	o->broker_port = 1883;
	o->prefix = mc_strdup("sim-");
	o->sites = 1;
	o->health_s = 30;
	o->pop_rate = 2;
	o->pop_resend_s = 60;
	o->http_parallel = 32;
	o->connect_rate = 2000;
	o->keepalive_s = 60;
	o->drain_s = 15;
	o->progress_s = 10;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		const char *name =
		        optind > 0 && optind <= argc ? argv[optind - 1] : "?";

		switch (c) {
		case OPT_NODES:
			if (!parse_int(optarg, 1, 100000, &o->nodes))
				return bad("--nodes", "must be 1..100000");
			break;
		case OPT_BROKER:
			colon = strrchr(optarg, ':');
			if (!colon || colon == optarg ||
			    !parse_int(colon + 1, 1, 65535, &port))
				return bad("--broker", "must be HOST:PORT");
			free(o->broker_host);
			o->broker_host =
			        strndup(optarg, (size_t)(colon - optarg));
			o->broker_port = port;
			break;
		case OPT_CONTROLLER:
			if (strncmp(optarg, "http://", 7) != 0 &&
			    strncmp(optarg, "https://", 8) != 0)
				return bad(
				        "--controller",
				        "must be an http:// or https:// URL");
			free(o->controller);
			o->controller = mc_strdup(optarg);
			while (o->controller && *o->controller &&
			       o->controller[strlen(o->controller) - 1] == '/')
				o->controller[strlen(o->controller) - 1] = '\0';
			break;
		case OPT_TOKEN:
			free(o->token);
			o->token = mc_strdup(optarg);
			break;
		case OPT_TRUSTED:
			free(o->trusted);
			o->trusted = mc_strdup(optarg);
			break;
		case OPT_PREFIX:
			free(o->prefix);
			o->prefix = mc_strdup(optarg);
			break;
		case OPT_SITES:
			if (!parse_int(optarg, 1, 10000, &o->sites))
				return bad("--sites", "must be 1..10000");
			break;
		case OPT_TAGS:
			if (!parse_tags(o, optarg))
				return bad("--tags",
				           "must be TAG[/K],... with ids "
				           "[A-Za-z0-9._-] and K >= 1");
			break;
		case OPT_REGISTER: o->reg = true; break;
		case OPT_PROVISION: o->provision = true; break;
		case OPT_CREDENTIALS:
			free(o->credentials);
			o->credentials = mc_strdup(optarg);
			break;
		case OPT_HEALTH:
			if (!parse_num(optarg, 0, 86400, &o->health_s) ||
			    (o->health_s > 0 && o->health_s < 0.1))
				return bad("--health-s",
				           "must be 0 or 0.1..86400 seconds");
			break;
		case OPT_POP_RATE:
			if (!parse_num(optarg, 0, 6000, &o->pop_rate))
				return bad("--pop-rate",
				           "must be 0..6000 records a minute");
			break;
		case OPT_POP_RESEND:
			if (!parse_num(optarg, 0.1, 86400, &o->pop_resend_s))
				return bad("--pop-resend-s",
				           "must be 0.1..86400 seconds");
			break;
		case OPT_FETCH_ASSETS: o->fetch_assets = true; break;
		case OPT_SHARE: o->share_manifests = true; break;
		case OPT_SHARE_VERIFY: o->share_verify = true; break;
		case OPT_HTTP_PARALLEL:
			if (!parse_int(optarg, 1, 1000, &o->http_parallel))
				return bad("--http-parallel",
				           "must be 1..1000");
			break;
		case OPT_CONNECT_RATE:
			if (!parse_num(optarg, 1, 1000000, &o->connect_rate))
				return bad("--connect-rate",
				           "must be 1..1000000 a second");
			break;
		case OPT_KEEPALIVE:
			if (!parse_int(optarg, 5, 65535, &o->keepalive_s))
				return bad("--keepalive",
				           "must be 5..65535 seconds");
			break;
		case OPT_DURATION:
			if (!parse_num(optarg, 0, 31536000, &o->duration_s))
				return bad("--duration",
				           "must be 0..31536000 seconds");
			break;
		case OPT_DRAIN:
			if (!parse_num(optarg, 0, 3600, &o->drain_s))
				return bad("--drain-s",
				           "must be 0..3600 seconds");
			break;
		case OPT_REPORT:
			free(o->report);
			o->report = mc_strdup(optarg);
			break;
		case OPT_READY:
			free(o->ready_file);
			o->ready_file = mc_strdup(optarg);
			break;
		case OPT_PROGRESS:
			if (!parse_num(optarg, 0, 86400, &o->progress_s))
				return bad("--progress-s",
				           "must be 0..86400 seconds");
			break;
		case OPT_QUIET: o->quiet = true; break;
		case OPT_VERBOSE: o->verbose = true; break;
		case OPT_HELP: fputs(usage_text, stdout); return 0;
		case OPT_VERSION:
			printf("minecast-sim %s\n", MC_VERSION);
			return 0;
		case ':': return bad(name, "needs a value");
		default: return bad(name, "unknown option");
		}
	}
	if (optind < argc)
		return bad(argv[optind], "unexpected argument");
	if (!o->nodes)
		return bad("--nodes", "is required");
	if (!o->controller)
		return bad("--controller", "is required");
	if (!o->trusted)
		return bad("--trusted", "is required");
	if (!o->token && getenv("MINECAST_TOKEN") && *getenv("MINECAST_TOKEN"))
		o->token = mc_strdup(getenv("MINECAST_TOKEN"));
	if ((o->reg || o->provision) && !o->token)
		return bad(o->reg ? "--register" : "--provision",
		           "needs --token (or MINECAST_TOKEN)");
	if (o->provision && o->credentials)
		return bad("--credentials",
		           "and --provision exclude each other");
	if (o->quiet && o->verbose)
		return bad("--quiet", "and --verbose exclude each other");
	if (!o->prefix || !o->broker_host || !*o->broker_host)
		return bad("--broker", "needs a host");
	return -1; /* go on */
}

static void opts_free(struct sim_opts *o)
{
	free(o->broker_host);
	free(o->controller);
	free(o->token);
	free(o->trusted);
	free(o->prefix);
	free(o->credentials);
	free(o->report);
	free(o->ready_file);
	for (size_t i = 0; i < o->n_tags; i++)
		free(o->tags[i].name);
	free(o->tags);
}

/* Ids, sites and tags of every node; 2 if the prefix makes bad ids. */
static int make_nodes(struct sim *s)
{
	int width = 5, sw = 2;
	char probe[MC_ID_MAX + 32];

	while (width < 9 && s->o.nodes >= (int)pow(10, width))
		width++;
	while (sw < 5 && s->o.sites >= (int)pow(10, sw))
		sw++;
	snprintf(probe, sizeof(probe), "%s%0*d", s->o.prefix, width, 1);
	if (strlen(probe) > MC_ID_MAX || !mc_id_valid(probe))
		return bad("--prefix", "node ids <prefix>NNNNN must be 1..64 "
		                       "of [A-Za-z0-9._-]");
	snprintf(probe, sizeof(probe), "%ssite-%0*d", s->o.prefix, sw, 1);
	if (strlen(probe) > MC_ID_MAX || !mc_id_valid(probe))
		return bad("--prefix", "site ids <prefix>site-NN are too long");
	s->nodes = calloc((size_t)s->o.nodes, sizeof(*s->nodes));
	s->site_ids = calloc((size_t)s->o.sites, sizeof(*s->site_ids));
	if (!s->nodes || !s->site_ids)
		return 1;
	for (int i = 0; i < s->o.sites; i++) {
		s->site_ids[i] =
		        mc_printf("%ssite-%0*d", s->o.prefix, sw, i + 1);
		if (!s->site_ids[i])
			return 1;
	}
	for (int i = 0; i < s->o.nodes; i++) {
		struct sim_node *n = &s->nodes[i];
		size_t k = 0;

		n->idx = i;
		n->fd = -1;
		snprintf(n->id, sizeof(n->id), "%s%0*d", s->o.prefix, width,
		         i + 1);
		snprintf(n->site, sizeof(n->site), "%s",
		         s->site_ids[i % s->o.sites]);
		if (s->o.n_tags) {
			n->tags = calloc(s->o.n_tags, sizeof(*n->tags));
			if (!n->tags)
				return 1;
		}
		for (size_t t = 0; t < s->o.n_tags; t++)
			if (i % s->o.tags[t].every == 0)
				n->tags[k++] = s->o.tags[t].name;
		n->n_tags = k;
	}
	return 0;
}

/* --credentials: "node password" lines. */
static int load_credentials(struct sim *s)
{
	char *text = NULL, *save = NULL, *line;
	size_t len, found = 0;
	struct mc_error err = {0};
	int lineno = 0, ret = -1;

	if (mc_read_file(s->o.credentials, 16 * 1024 * 1024, &text, &len,
	                 &err) != MC_OK) {
		mc_log_error("sim", "--credentials: %s", err.msg);
		return -1;
	}
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char node[128], pw[512];
		int idx = -1;

		lineno++;
		line += strspn(line, " \t\r");
		if (!*line || *line == '#')
			continue;
		if (sscanf(line, "%127s %511s", node, pw) != 2) {
			mc_log_error("sim", "%s:%d: expected \"node password\"",
			             s->o.credentials, lineno);
			goto out;
		}
		if (strncmp(node, s->o.prefix, strlen(s->o.prefix)) == 0) {
			char *end;
			long v = strtol(node + strlen(s->o.prefix), &end, 10);

			if (!*end && v >= 1 && v <= s->o.nodes &&
			    strcmp(s->nodes[v - 1].id, node) == 0)
				idx = (int)v - 1;
		}
		if (idx < 0)
			continue; /* another simulator's node */
		free(s->nodes[idx].password);
		s->nodes[idx].password = mc_strdup(pw);
		found++;
	}
	mc_log_info("sim", "%s: passwords for %zu of %d nodes",
	            s->o.credentials, found, s->o.nodes);
	ret = 0;
out:
	free(text);
	return ret;
}

static void sim_free(struct sim *s)
{
	if (s->nodes)
		for (int i = s->o.nodes - 1; i >= 0; i--) {
			sim_node_free(&s->nodes[i]);
			free(s->nodes[i].tags);
		}
	free(s->nodes);
	if (s->site_ids)
		for (int i = 0; i < s->o.sites; i++)
			free(s->site_ids[i]);
	free(s->site_ids);
	sim_fetch_free(s);
	sim_loop_free(s);
	mc_keyring_clear(&s->keys);
	sim_samples_free(&s->connect_ms);
	opts_free(&s->o);
}

int main(int argc, char **argv)
{
	static struct sim sim;
	struct sim *s = &sim;
	struct mc_error err = {0};
	int rc, fds0;

	sim_g = s;
	s->epfd = s->sigfd = -1;
	rc = parse_args(argc, argv, &s->o);
	if (rc >= 0) {
		opts_free(&s->o);
		return rc;
	}
	mc_log_set_level(s->o.quiet     ? MC_LOG_WARN
	                 : s->o.verbose ? MC_LOG_DEBUG
	                                : MC_LOG_INFO);
	rng_state ^=
	        (uint64_t)mc_now_ms() * 0x100000001B3ULL ^ (uint64_t)getpid();
	s->start_ms = mc_now_ms();
	s->start_mono = mc_mono_ms();
	s->boot = s->start_ms / 1000;
	s->log_budget = 20;
	rc = make_nodes(s);
	if (rc)
		goto done;
	rc = 1;
	if (mc_keyring_load(&s->keys, s->o.trusted, &err) != MC_OK) {
		mc_log_error("sim", "--trusted %s: %s", s->o.trusted, err.msg);
		goto done;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
	    mosquitto_lib_init() != MOSQ_ERR_SUCCESS) {
		mc_log_error("sim", "cannot initialise libcurl/libmosquitto");
		goto done;
	}
	if (s->o.credentials && load_credentials(s) != 0)
		goto done;
	if (s->o.reg && sim_api_register(s) != 0)
		goto done;
	if (s->o.provision && sim_api_provision(s) != 0)
		goto done;
	if (sim_fds_raise() != 0 || sim_loop_init(s) != 0 ||
	    sim_fetch_init(s) != 0)
		goto done;
	fds0 = sim_fds_open();
	for (int i = 0; i < s->o.nodes; i++) {
		if (sim_node_init(s, &s->nodes[i]) != 0)
			goto done;
		if (i == 0 && sim_fds_check(s, fds0) != 0)
			goto done;
	}
	/* Timers and ramp count from here, after registration. */
	s->start_mono = mc_mono_ms();
	mc_log_info("sim",
	            "%d nodes (%s .. %s) over %d site%s, broker %s:%d, "
	            "controller %s, %.0f connects/s",
	            s->o.nodes, s->nodes[0].id, s->nodes[s->o.nodes - 1].id,
	            s->o.sites, s->o.sites == 1 ? "" : "s", s->o.broker_host,
	            s->o.broker_port, s->o.controller, s->o.connect_rate);
	if (sim_loop_run(s) != 0)
		goto done;
	rc = 0;
done:
	if (s->nodes && s->epfd >= 0) {
		sim_report_final(s);
		if (s->o.report && sim_report_write(s) != 0 && rc == 0)
			rc = 1;
	}
	sim_free(s);
	if (rc != 2) {
		mosquitto_lib_cleanup();
		curl_global_cleanup();
	}
	return rc;
}
