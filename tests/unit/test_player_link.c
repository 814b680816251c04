/*
 * The player's MQTT link against a real mosquitto on a free loopback
 * port (tests/tools/mosquitto.sh), watched by a second libmosquitto
 * client of the test's own: birth, will, clean stop, what reaches the
 * event queue, publishing while down, reconnecting, and a broker with
 * password authentication and the ACL of firmware-notes/mosquitto.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "evq.h"
#include "link.h"
#include "minecast/topics.h"
#include "minecast/util.h"

/* Every wait in this file is bounded by this. */
#define WAIT_MS 15000

#define SCRIPT MC_SOURCE_DIR "/tests/tools/mosquitto.sh"

/* Messages the observer keeps. */
#define OBS_MAX 64

/* A second client that records what it receives on its subscription. */
struct obs {
	struct mosquitto *m;       /* its handle, looping on its own thread */
	pthread_mutex_t lock;      /* guards the fields below */
	bool subscribed;           /* SUBACK received */
	int n;                     /* messages recorded */
	char *topic[OBS_MAX];      /* their topics */
	char *payload[OBS_MAX];    /* their payloads, NUL-terminated */
	bool retain[OBS_MAX];      /* their retain flags */
	char filter[MC_TOPIC_MAX]; /* what it subscribes to */
};

/* What a test started, so that teardown stops it even after a failure. */
struct fixture {
	char dir[256];               /* this test's scratch directory */
	bool broker_up;              /* a broker runs from dir/broker */
	int port;                    /* its port */
	struct mc_evq *q;            /* the link's event queue */
	struct mc_link *link;        /* the link under test */
	struct obs *obs[4];          /* observers */
	pid_t child;                 /* a forked link process, or 0 */
	int saved_stderr;            /* stderr while redirected, or -1 */
	struct mc_player_config cfg; /* the link's configuration */
	struct mc_broker broker;     /* its one broker */
	struct mc_event *pending;    /* events taken but not yet looked at */
};

static char root[] = "/tmp/mc-test-link-XXXXXX";

/* ---- brokers ---------------------------------------------------------- */

/*
 * Start a broker from f->dir/broker with extra config lines; port 0 picks
 * a free one, another value restarts on that port.
 */
static void broker_start(struct fixture *f, int port, const char *const *extra)
{
	char cmd[4096], path[512];
	size_t n;
	FILE *fp;

	n = (size_t)snprintf(cmd, sizeof(cmd), "%s%.0d bash %s start %s/broker",
	                     port ? "MC_MOSQUITTO_PORT=" : "", port, SCRIPT,
	                     f->dir);
	for (; extra && *extra; extra++)
		n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, " '%s'",
		                      *extra);
	n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, " >/dev/null");
	assert_true(n < sizeof(cmd));
	if (system(cmd) != 0)
		fail_msg("cannot start mosquitto: %s", cmd);
	f->broker_up = true;
	snprintf(path, sizeof(path), "%s/broker/port", f->dir);
	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_int_equal(fscanf(fp, "%d", &f->port), 1);
	fclose(fp);
	assert_true(f->port > 0);
}

static void broker_stop(struct fixture *f)
{
	char cmd[512];

	if (!f->broker_up)
		return;
	snprintf(cmd, sizeof(cmd), "bash %s stop %s/broker", SCRIPT, f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "test: %s failed\n", cmd);
	f->broker_up = false;
	/* The broker was orphaned to us (a subreaper): reap it. */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/* ---- the observer ------------------------------------------------------ */

static void obs_on_connect(struct mosquitto *m, void *obj, int rc)
{
	struct obs *o = obj;

	if (rc == 0)
		mosquitto_subscribe(m, NULL, o->filter, 1);
}

static void obs_on_subscribe(struct mosquitto *m, void *obj, int mid, int n,
                             const int *granted)
{
	struct obs *o = obj;

	(void)m;
	(void)mid;
	pthread_mutex_lock(&o->lock);
	o->subscribed = n > 0 && granted[0] < 0x80;
	pthread_mutex_unlock(&o->lock);
}

static void obs_on_message(struct mosquitto *m, void *obj,
                           const struct mosquitto_message *msg)
{
	struct obs *o = obj;
	char *p;

	(void)m;
	pthread_mutex_lock(&o->lock);
	if (o->n < OBS_MAX) {
		p = malloc((size_t)msg->payloadlen + 1);
		if (p) {
			memcpy(p, msg->payload, (size_t)msg->payloadlen);
			p[msg->payloadlen] = '\0';
		}
		o->topic[o->n] = strdup(msg->topic);
		o->payload[o->n] = p;
		o->retain[o->n] = msg->retain;
		o->n++;
	}
	pthread_mutex_unlock(&o->lock);
}

static bool obs_ready(struct obs *o)
{
	bool r;

	pthread_mutex_lock(&o->lock);
	r = o->subscribed;
	pthread_mutex_unlock(&o->lock);
	return r;
}

/* Connect an observer subscribed to filter; user may be NULL. */
static struct obs *obs_new(struct fixture *f, const char *filter,
                           const char *user, const char *pass)
{
	struct obs *o = calloc(1, sizeof(*o));
	int64_t deadline;
	size_t i;

	assert_non_null(o);
	for (i = 0; i < MC_ARRAY_LEN(f->obs) && f->obs[i]; i++)
		;
	assert_true(i < MC_ARRAY_LEN(f->obs));
	f->obs[i] = o;
	pthread_mutex_init(&o->lock, NULL);
	snprintf(o->filter, sizeof(o->filter), "%s", filter);
	o->m = mosquitto_new(NULL, true, o);
	assert_non_null(o->m);
	if (user)
		mosquitto_username_pw_set(o->m, user, pass);
	mosquitto_connect_callback_set(o->m, obs_on_connect);
	mosquitto_subscribe_callback_set(o->m, obs_on_subscribe);
	mosquitto_message_callback_set(o->m, obs_on_message);
	assert_int_equal(mosquitto_connect(o->m, "127.0.0.1", f->port, 30),
	                 MOSQ_ERR_SUCCESS);
	assert_int_equal(mosquitto_loop_start(o->m), MOSQ_ERR_SUCCESS);
	deadline = mc_mono_ms() + WAIT_MS;
	while (!obs_ready(o) && mc_mono_ms() < deadline)
		usleep(10000);
	if (!obs_ready(o))
		fail_msg("observer not subscribed to %s", filter);
	return o;
}

static void obs_free(struct obs *o)
{
	int i;

	if (!o)
		return;
	mosquitto_disconnect(o->m);
	mosquitto_loop_stop(o->m, false);
	mosquitto_destroy(o->m);
	for (i = 0; i < o->n; i++) {
		free(o->topic[i]);
		free(o->payload[i]);
	}
	pthread_mutex_destroy(&o->lock);
	free(o);
}

/*
 * Wait for a message on topic whose payload contains text, from index
 * *from on; retain is 1 or 0 to require that flag, -1 for either.  On
 * success *from moves past the match.
 */
static bool obs_wait(struct obs *o, int *from, const char *topic,
                     const char *text, int retain)
{
	int64_t deadline = mc_mono_ms() + WAIT_MS;
	bool found = false;
	int i;

	while (!found && mc_mono_ms() < deadline) {
		pthread_mutex_lock(&o->lock);
		for (i = *from; i < o->n && !found; i++) {
			if (strcmp(o->topic[i], topic) != 0 || !o->payload[i] ||
			    !strstr(o->payload[i], text))
				continue;
			if (retain >= 0 && o->retain[i] != (retain != 0))
				continue;
			found = true;
			*from = i + 1;
		}
		pthread_mutex_unlock(&o->lock);
		if (!found)
			usleep(10000);
	}
	return found;
}

static void obs_publish(struct obs *o, const char *topic, const void *p,
                        size_t len, bool retain)
{
	assert_int_equal(
	        mosquitto_publish(o->m, NULL, topic, (int)len, p, 1, retain),
	        MOSQ_ERR_SUCCESS);
}

/* ---- the link and its events ----------------------------------------- */

static void cfg_init(struct fixture *f, const char *node, int port)
{
	memset(&f->cfg, 0, sizeof(f->cfg));
	f->cfg.node_id = (char *)node;
	f->broker.host = "127.0.0.1";
	f->broker.port = port;
	f->cfg.brokers = &f->broker;
	f->cfg.n_brokers = 1;
	f->cfg.keepalive_s = 5;
	f->cfg.reconnect_min_ms = 100;
	f->cfg.reconnect_max_ms = 800;
}

static char *state_json(const char *node, bool online, int boot)
{
	char *s = mc_printf("{\"v\":1,\"node\":\"%s\",\"online\":%s,"
	                    "\"boot\":%d,\"at_ms\":1699747200000}",
	                    node, online ? "true" : "false", boot);

	assert_non_null(s);
	return s;
}

static void link_start(struct fixture *f, int boot)
{
	struct mc_error err = {0};
	char *on = state_json(f->cfg.node_id, true, boot);
	char *off = state_json(f->cfg.node_id, false, boot);

	if (!f->q)
		f->q = mc_evq_new();
	assert_non_null(f->q);
	f->link = mc_link_start(&f->cfg, f->q, on, off, &err);
	free(on);
	free(off);
	if (!f->link)
		fail_msg("mc_link_start: %s", err.msg);
}

/* The next event, or NULL after timeout_ms. */
static struct mc_event *next_event(struct fixture *f, int timeout_ms)
{
	int64_t deadline = mc_mono_ms() + timeout_ms;
	struct pollfd p = {.fd = mc_evq_fd(f->q), .events = POLLIN};
	struct mc_event *ev, *list, **tail;
	int64_t left;

	while (!f->pending) {
		left = deadline - mc_mono_ms();
		if (left <= 0)
			return NULL;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		list = mc_evq_take(f->q);
		for (tail = &f->pending; *tail; tail = &(*tail)->next)
			;
		*tail = list;
	}
	ev = f->pending;
	f->pending = ev->next;
	ev->next = NULL;
	return ev;
}

/* Wait for an event of type, dropping others; caller frees. */
static struct mc_event *wait_event(struct fixture *f, enum mc_event_type type)
{
	int64_t deadline = mc_mono_ms() + WAIT_MS;
	struct mc_event *ev;

	while (mc_mono_ms() < deadline) {
		ev = next_event(f, (int)(deadline - mc_mono_ms()));
		if (!ev)
			break;
		if (ev->type == type)
			return ev;
		mc_event_free(ev);
	}
	fail_msg("no event of type %d within %d ms", type, WAIT_MS);
	return NULL;
}

static void expect_event(struct fixture *f, enum mc_event_type type)
{
	mc_event_free(wait_event(f, type));
}

/* Redirect stderr (the log) into path, until stderr_restore. */
static void stderr_capture(struct fixture *f, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	fflush(stderr);
	f->saved_stderr = dup(2);
	assert_true(f->saved_stderr >= 0);
	dup2(fd, 2);
	close(fd);
}

static void stderr_restore(struct fixture *f)
{
	if (f->saved_stderr < 0)
		return;
	fflush(stderr);
	dup2(f->saved_stderr, 2);
	close(f->saved_stderr);
	f->saved_stderr = -1;
}

/* How many times needle occurs in the file at path. */
static int count_in_file(const char *path, const char *needle)
{
	char *text = NULL, *p;
	size_t len;
	int n = 0;

	if (mc_read_file(path, 1 << 20, &text, &len, NULL) != MC_OK)
		return 0;
	for (p = text; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(text);
	return n;
}

/* ---- setup and teardown ---------------------------------------------- */

static int group_setup(void **state)
{
	(void)state;
	if (!mkdtemp(root))
		return -1;
	signal(SIGPIPE, SIG_IGN);
	/* Brokers outlive the shell that started them; become their parent
	 * so that they are reaped here, not left as zombies of an init that
	 * may not reap (containers). */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	/* MC_TEST_KEEP=1 keeps broker and player logs for a post-mortem. */
	if (getenv("MC_TEST_KEEP")) {
		fprintf(stderr, "test: kept %s\n", root);
		return 0;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static int setup(void **state)
{
	static int serial;
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->saved_stderr = -1;
	snprintf(f->dir, sizeof(f->dir), "%s/t%d", root, ++serial);
	if (mkdir(f->dir, 0755) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	struct mc_event *ev;
	size_t i;

	stderr_restore(f);
	if (f->child > 0) {
		kill(f->child, SIGKILL);
		waitpid(f->child, NULL, 0);
	}
	mc_link_stop(f->link);
	for (i = 0; i < MC_ARRAY_LEN(f->obs); i++)
		obs_free(f->obs[i]);
	while ((ev = f->pending)) {
		f->pending = ev->next;
		mc_event_free(ev);
	}
	mc_evq_free(f->q);
	broker_stop(f);
	free(f);
	return 0;
}

/* ---- tests ----------------------------------------------------------- */

/* The birth is retained and online; a clean stop leaves "offline". */
static void test_birth_and_clean_stop(void **state)
{
	struct fixture *f = *state;
	const char *topic = "minecast/v1/node/pi-1/state";
	struct obs *live, *late;
	int from = 0, from2 = 0;
	char *on, *off;
	int64_t t0;

	broker_start(f, 0, NULL);
	cfg_init(f, "pi-1", f->port);
	link_start(f, 17);
	expect_event(f, MC_EV_LINK_UP);
	assert_true(mc_link_connected(f->link));
	assert_int_equal(mc_link_reconnects(f->link), 0);

	/* A client arriving later gets the retained birth. */
	live = obs_new(f, topic, NULL, NULL);
	assert_true(obs_wait(live, &from, topic, "\"online\":true", 1));
	assert_true(obs_wait(live, &from2, topic, "\"boot\":17", 1));

	/* New payloads are used from then on, including for the stop. */
	on = state_json("pi-1", true, 18);
	off = state_json("pi-1", false, 18);
	mc_link_set_state(f->link, on, off);
	free(on);
	free(off);

	t0 = mc_mono_ms();
	mc_link_stop(f->link);
	f->link = NULL;
	assert_true(mc_mono_ms() - t0 < 3000);
	assert_true(obs_wait(live, &from, topic, "\"online\":false", -1));
	late = obs_new(f, topic, NULL, NULL);
	from = 0;
	assert_true(obs_wait(late, &from, topic, "\"online\":false,\"boot\":18",
	                     1));
}

/* Run a link in a child process; it writes one byte to fd when up. */
static void child_link(struct fixture *f, int fd)
{
	struct mc_error err = {0};
	struct mc_evq *q = mc_evq_new();
	struct mc_link *l;
	int64_t deadline = mc_mono_ms() + WAIT_MS;
	char *on = state_json(f->cfg.node_id, true, 3);
	char *off = state_json(f->cfg.node_id, false, 3);

	l = q ? mc_link_start(&f->cfg, q, on, off, &err) : NULL;
	if (!l)
		_exit(2);
	while (!mc_link_connected(l) && mc_mono_ms() < deadline)
		usleep(10000);
	if (!mc_link_connected(l))
		_exit(3);
	if (write(fd, "u", 1) != 1)
		_exit(4);
	for (;;)
		pause();
}

/* A node that dies (kill -9) gets its will: retained "offline". */
static void test_will_on_kill(void **state)
{
	struct fixture *f = *state;
	const char *topic = "minecast/v1/node/pi-2/state";
	struct pollfd p;
	struct obs *o;
	int fds[2], from = 0;
	char c;

	broker_start(f, 0, NULL);
	cfg_init(f, "pi-2", f->port);
	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	f->child = fork();
	assert_true(f->child >= 0);
	if (f->child == 0) {
		close(fds[0]);
		child_link(f, fds[1]);
	}
	close(fds[1]);
	p.fd = fds[0];
	p.events = POLLIN;
	assert_int_equal(poll(&p, 1, WAIT_MS), 1);
	assert_int_equal(read(fds[0], &c, 1), 1);
	close(fds[0]);

	o = obs_new(f, topic, NULL, NULL);
	assert_true(obs_wait(o, &from, topic, "\"online\":true", 1));
	kill(f->child, SIGKILL);
	waitpid(f->child, NULL, 0);
	f->child = 0;
	/* The kernel closes the socket, and the broker sends the will. */
	assert_true(
	        obs_wait(o, &from, topic, "\"online\":false,\"boot\":3", -1));
}

/* Own control topics and alerts reach the queue; nothing else does. */
static void test_messages_routed(void **state)
{
	struct fixture *f = *state;
	static const char *const want[] = {
	        "minecast/v1/node/pi-3/desired", "minecast/v1/node/pi-3/cmd",
	        "minecast/v1/node/pi-3/pop/ack", "minecast/v1/alert/so-tan-1"};
	const char *health = "minecast/v1/node/pi-3/health";
	bool seen[4] = {false};
	struct mc_event *ev;
	struct obs *o, *h;
	size_t big_len = 300 * 1024, i;
	char *big;
	int from = 0;

	broker_start(f, 0, NULL);
	o = obs_new(f, "unused/#", NULL, NULL);
	/* Retained before the node connects: arrives on subscribe. */
	obs_publish(o, want[0], "pointer-1", 9, true);
	cfg_init(f, "pi-3", f->port);
	link_start(f, 1);
	expect_event(f, MC_EV_LINK_UP);

	obs_publish(o, "minecast/v1/node/pi-4/desired", "other", 5, false);
	obs_publish(o, "minecast/v1/node/pi-4/cmd", "other", 5, false);
	obs_publish(o, health, "other", 5, false);
	obs_publish(o, "minecast/v1/alert/a/b", "deep", 4, false);
	obs_publish(o, want[1], "command-1", 9, false);
	big = calloc(1, big_len);
	assert_non_null(big);
	obs_publish(o, want[1], big, big_len, false);
	free(big);
	obs_publish(o, want[2], "ack-1", 5, false);
	obs_publish(o, want[3], "alert-1", 7, true);
	obs_publish(o, want[2], "end", 3, false);

	for (;;) {
		ev = wait_event(f, MC_EV_MESSAGE);
		if (!strcmp(ev->payload, "end")) {
			mc_event_free(ev);
			break;
		}
		for (i = 0; i < 4; i++)
			if (!strcmp(ev->topic, want[i]))
				break;
		if (i == 4 || seen[i])
			fail_msg("unexpected message on %s (%zu bytes)",
			         ev->topic, ev->len);
		seen[i] = true;
		assert_int_equal(ev->len, strlen(ev->payload));
		assert_true(ev->len == 9 || ev->len == 5 || ev->len == 7);
		mc_event_free(ev);
	}
	for (i = 0; i < 4; i++)
		if (!seen[i])
			fail_msg("nothing on %s", want[i]);

	/* And the node publishes under its own name only. */
	h = obs_new(f, health, NULL, NULL);
	assert_int_equal(
	        mc_link_publish(f->link, "health", "{\"x\":1}", 7, 0, false),
	        MC_OK);
	assert_true(obs_wait(h, &from, health, "{\"x\":1}", 0));
	assert_int_equal(mc_link_publish(f->link, "bogus", "x", 1, 1, false),
	                 MC_ERR_INVAL);
}

/* Publishing without a broker fails at once; nothing is queued. */
static void test_publish_while_disconnected(void **state)
{
	struct fixture *f = *state;
	struct mc_error err = {0};
	int64_t t0;
	int port;

	/* A port where a broker was and is no more. */
	broker_start(f, 0, NULL);
	port = f->port;
	broker_stop(f);
	cfg_init(f, "pi-5", port);
	link_start(f, 1);
	usleep(300000);
	assert_false(mc_link_connected(f->link));
	assert_int_equal(mc_link_publish(f->link, "health", "{}", 2, 0, false),
	                 MC_ERR_IO);
	assert_int_equal(mc_link_reconnects(f->link), 0);
	t0 = mc_mono_ms();
	mc_link_stop(f->link);
	f->link = NULL;
	assert_true(mc_mono_ms() - t0 < 2000);
	mc_link_stop(NULL);

	/* No broker at all is a configuration error. */
	f->cfg.n_brokers = 0;
	assert_null(mc_link_start(&f->cfg, f->q, "{}", "{}", &err));
	assert_int_equal(err.code, MC_ERR_INVAL);
	assert_non_null(strstr(err.msg, "broker"));
}

/* The broker goes away and comes back on the same port. */
static void test_reconnect(void **state)
{
	struct fixture *f = *state;
	const char *topic = "minecast/v1/node/pi-6/state";
	struct mc_event *ev;
	struct obs *o;
	int from = 0, port;

	broker_start(f, 0, NULL);
	port = f->port;
	cfg_init(f, "pi-6", port);
	link_start(f, 5);
	expect_event(f, MC_EV_LINK_UP);
	assert_int_equal(mc_link_reconnects(f->link), 0);

	broker_stop(f);
	ev = wait_event(f, MC_EV_LINK_DOWN);
	assert_non_null(ev->text);
	mc_event_free(ev);
	assert_false(mc_link_connected(f->link));
	assert_int_equal(mc_link_publish(f->link, "pop", "[]", 2, 1, false),
	                 MC_ERR_IO);

	/* Without persistence the new broker has no retained state: the
	 * birth seen below is the one the link published again. */
	sleep(1);
	broker_start(f, port, NULL);
	assert_int_equal(f->port, port);
	expect_event(f, MC_EV_LINK_UP);
	assert_true(mc_link_connected(f->link));
	assert_int_equal(mc_link_reconnects(f->link), 1);
	o = obs_new(f, topic, NULL, NULL);
	assert_true(obs_wait(o, &from, topic, "\"online\":true", 1));
	assert_int_equal(mc_link_publish(f->link, "pop", "[]", 2, 1, false),
	                 MC_OK);
}

/*
 * Password authentication and the fleet ACL of firmware-notes: a wrong
 * password is refused, logged and retried; the right one connects, and
 * the ACL lets the node read its commands and the controller its state.
 */
static void test_auth_and_acl(void **state)
{
	struct fixture *f = *state;
	const char *topic = "minecast/v1/node/pi-7/state";
	const char *cmdt = "minecast/v1/node/pi-7/cmd";
	char passwd[512], acl[512], log[512], cmd[1200];
	char l_pw[600], l_acl[600];
	const char *extra[] = {"allow_anonymous false", l_pw, l_acl, NULL};
	struct mc_event *ev;
	int64_t deadline;
	struct obs *o;
	int from = 0;

	snprintf(passwd, sizeof(passwd), "%s/passwd", f->dir);
	snprintf(acl, sizeof(acl), "%s/firmware-notes/mosquitto/acl.example",
	         MC_SOURCE_DIR);
	snprintf(log, sizeof(log), "%s/player.log", f->dir);
	snprintf(cmd, sizeof(cmd),
	         "mosquitto_passwd -c -b '%s' pi-7 right-secret && "
	         "mosquitto_passwd -b '%s' controller ctl-secret",
	         passwd, passwd);
	assert_int_equal(system(cmd), 0);
	snprintf(l_pw, sizeof(l_pw), "password_file %s", passwd);
	snprintf(l_acl, sizeof(l_acl), "acl_file %s", acl);
	broker_start(f, 0, extra);

	cfg_init(f, "pi-7", f->port);
	f->cfg.password = "wrong";
	f->cfg.reconnect_max_ms = 300;
	stderr_capture(f, log);
	link_start(f, 1);
	deadline = mc_mono_ms() + WAIT_MS;
	while (count_in_file(log, "refused node pi-7") < 2 &&
	       mc_mono_ms() < deadline)
		usleep(50000);
	assert_false(mc_link_connected(f->link));
	mc_link_stop(f->link);
	f->link = NULL;
	stderr_restore(f);
	if (count_in_file(log, "refused node pi-7") < 2)
		fail_msg("no repeated refusal in %s", log);
	assert_true(count_in_file(log, "user name or password") +
	                    count_in_file(log, "authori") >=
	            2);

	/* The right password, under the example ACL. */
	f->cfg.password = "right-secret";
	snprintf(log, sizeof(log), "%s/player-ok.log", f->dir);
	stderr_capture(f, log);
	link_start(f, 2);
	expect_event(f, MC_EV_LINK_UP);
	o = obs_new(f, "minecast/v1/node/+/#", "controller", "ctl-secret");
	assert_true(obs_wait(o, &from, topic, "\"online\":true", -1));
	obs_publish(o, cmdt, "command-7", 9, false);
	ev = wait_event(f, MC_EV_MESSAGE);
	assert_string_equal(ev->topic, cmdt);
	assert_string_equal(ev->payload, "command-7");
	mc_event_free(ev);
	mc_link_stop(f->link);
	f->link = NULL;
	stderr_restore(f);
	assert_int_equal(count_in_file(log, "refused the subscription"), 0);
}

/*
 * Brokers are tried in turn, and the transport follows each one: a
 * plain broker that is down, then a TLS broker with its own CA.
 */
static void test_tls_and_broker_rotation(void **state)
{
	struct fixture *f = *state;
	struct mc_broker brokers[2];
	struct mc_error err = {0};
	char cmd[2048], ca[512], l_cert[600], l_key[600];
	const char *extra[] = {l_cert, l_key, NULL};
	struct mc_event *ev;
	int dead;

	/* scripts/deps installs openssl: a missing one is a failure. */
	if (system("command -v openssl >/dev/null 2>&1") != 0)
		fail_msg("openssl is not installed (scripts/deps installs it)");
	snprintf(cmd, sizeof(cmd),
	         "(cd '%s' && "
	         "openssl req -x509 -newkey rsa:2048 -nodes -days 2 "
	         "-subj /CN=test-ca -keyout ca.key -out ca.crt && "
	         "openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 "
	         "-keyout broker.key -out broker.csr && "
	         "printf 'subjectAltName=IP:127.0.0.1\\n' >ext && "
	         "openssl x509 -req -in broker.csr -CA ca.crt -CAkey ca.key "
	         "-CAcreateserial -days 2 -extfile ext -out broker.crt)",
	         f->dir);
	snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd),
	         " >'%s/openssl.log' 2>&1", f->dir);
	if (system(cmd) != 0)
		fail_msg("cannot make test certificates (see %s/openssl.log)",
		         f->dir);
	snprintf(ca, sizeof(ca), "%s/ca.crt", f->dir);
	snprintf(l_cert, sizeof(l_cert), "certfile %s/broker.crt", f->dir);
	snprintf(l_key, sizeof(l_key), "keyfile %s/broker.key", f->dir);

	/* A port where a broker was and is no more. */
	broker_start(f, 0, NULL);
	dead = f->port;
	broker_stop(f);
	broker_start(f, 0, extra);

	cfg_init(f, "pi-8", dead);
	brokers[0] = f->broker;
	brokers[1] = f->broker;
	brokers[1].port = f->port;
	brokers[1].tls = true;
	f->cfg.brokers = brokers;
	f->cfg.n_brokers = 2;

	/* A CA file that does not exist is a setup error, found at once. */
	f->cfg.ca_file = "/nonexistent/ca.crt";
	f->q = mc_evq_new();
	assert_null(mc_link_start(&f->cfg, f->q, "{}", "{}", &err));
	assert_non_null(strstr(err.msg, "TLS"));

	f->cfg.ca_file = ca;
	link_start(f, 1);
	ev = wait_event(f, MC_EV_LINK_UP);
	assert_non_null(ev->text);
	assert_non_null(strstr(ev->text, "TLS"));
	mc_event_free(ev);
	assert_int_equal(mc_link_reconnects(f->link), 0);
	assert_int_equal(mc_link_publish(f->link, "health", "{}", 2, 0, false),
	                 MC_OK);
	mc_link_stop(f->link);
	f->link = NULL;
}

/*
 * A loopback port that never answers: a listener with a backlog of 0 and
 * its queue filled, so that the kernel drops every further SYN, as a host
 * behind a cut link would.  fds[] receives the sockets to close (the
 * listener first); returns the port.
 */
static int black_hole(int fds[4])
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int n = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fds[0] >= 0);
	assert_int_equal(bind(fds[0], (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fds[0], 0), 0);
	assert_int_equal(getsockname(fds[0], (struct sockaddr *)&a, &len), 0);
	/* Fill the accept queue: connect until one is left hanging. */
	for (; n < 4; n++) {
		struct pollfd p = {.events = POLLOUT};

		p.fd = fds[n] = socket(
		        AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		assert_true(p.fd >= 0);
		if (connect(p.fd, (struct sockaddr *)&a, sizeof(a)) != 0)
			assert_int_equal(errno, EINPROGRESS);
		if (poll(&p, 1, 300) == 0)
			break; /* this one hangs: the queue is full */
	}
	assert_true(n < 4);
	return ntohs(a.sin_port);
}

/*
 * A broker whose packets are dropped is given up after the connect time
 * (the keepalive, 5 s here) and the next broker tried, instead of after
 * the kernel's two minutes of SYN retries; a stop while a connection hangs
 * returns at once.
 */
static void test_unresponsive_broker(void **state)
{
	struct fixture *f = *state;
	struct mc_broker brokers[2];
	struct mc_event *ev;
	char log[512];
	int fds[4] = {-1, -1, -1, -1}, hole;
	int64_t t0;

	hole = black_hole(fds);
	broker_start(f, 0, NULL);
	cfg_init(f, "pi-9", hole);
	brokers[0] = f->broker;
	brokers[1] = f->broker;
	brokers[1].port = f->port;
	f->cfg.brokers = brokers;
	f->cfg.n_brokers = 2;
	snprintf(log, sizeof(log), "%s/link.log", f->dir);
	stderr_capture(f, log);
	link_start(f, 1);
	ev = wait_event(f, MC_EV_LINK_UP); /* within WAIT_MS = 15 s */
	mc_event_free(ev);
	stderr_restore(f);
	assert_int_equal(count_in_file(log, "no answer within 5 s"), 1);
	mc_link_stop(f->link);
	f->link = NULL;

	/* Only the black hole: stop while its connection hangs. */
	f->cfg.n_brokers = 1;
	f->cfg.keepalive_s = 60; /* connect time 10 s */
	link_start(f, 2);
	usleep(500 * 1000);
	t0 = mc_mono_ms();
	mc_link_stop(f->link);
	f->link = NULL;
	/* Far below the 10 s the connection would otherwise be given. */
	assert_true(mc_mono_ms() - t0 < 5000);
	for (int i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_birth_and_clean_stop,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_will_on_kill, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_messages_routed, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_publish_while_disconnected,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_reconnect, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_auth_and_acl, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_unresponsive_broker, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_tls_and_broker_rotation,
	                                        setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
