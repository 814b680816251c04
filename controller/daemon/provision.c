/*
 * Provisioning a node (provision.h): a new random password, its SHA-256
 * in the nodes table, the broker's password file and ACL file brought up
 * to date, the broker told to reread them, and the player's config
 * bundle handed back.
 *
 * The broker's files are never half-written: the password file is
 * copied beside itself, changed with mosquitto_passwd (which rewrites a
 * file in place) and renamed over the original; the ACL file is written
 * whole and renamed.  One lock serialises every change of the two files,
 * so that two provisions at once cannot lose each other's entry.
 *
 * The ACL is the pattern form of docs/protocol.md §3.2: one block of
 * "pattern" lines (%u = user name = node id) confines every node, so the
 * file does not grow with the fleet; a node exists for the broker when
 * its user is in the password file.  The controller's own user gets its
 * block, and whatever is written below the "local additions" marker
 * (site bridges, monitoring users) is kept as it is.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "minecast/log.h"
#include "minecast/sign.h"
#include "minecast/text.h"
#include "minecast/util.h"

#include "audit.h"
#include "db.h"
#include "http.h"
#include "mcc.h"
#include "org.h"
#include "org_internal.h"
#include "provision.h"

extern char **environ;

/* A helper command (mosquitto_passwd, the reload) still running after
 * this long is killed. */
#define CMD_TIMEOUT_MS 10000
/* Output of a helper command kept for the log. */
#define CMD_OUTPUT_MAX 2048
/* Largest password file read (10,000 nodes take about 1.3 MB). */
#define PASSWD_MAX (64 * 1024 * 1024)
/* Largest ACL file read (for its kept part). */
#define ACL_MAX (4 * 1024 * 1024)
/* Random bytes of a node password. */
#define SECRET_BYTES 32

/* The line that separates the generated ACL from the kept part. */
#define ACL_MARKER                                                             \
	"# --- local additions: minecast-controller keeps everything below "   \
	"this line ---"

/* A string setting, NULL when unset or empty. */
static const char *opt(const char *s)
{
	return s && *s ? s : NULL;
}

/* Every change of the password and ACL files, one at a time. */
static pthread_mutex_t files_lock = PTHREAD_MUTEX_INITIALIZER;

/* ------------------------------------------------------------------ */
/* Running helper commands */

/*
 * Run argv (PATH searched) with stdin from /dev/null and stdout+stderr
 * captured into out (NUL-terminated, truncated to outlen - 1), in its
 * own process group, killed after CMD_TIMEOUT_MS.  Returns the exit
 * status, 128 + signal, or -1 when it could not be started (errno kept
 * in *why).
 */
static int run_cmd(char *const argv[], char *out, size_t outlen,
                   const char **why)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int fds[2] = {-1, -1}, status = 0, rc = -1;
	size_t used = 0;
	int64_t deadline = mc_mono_ms() + CMD_TIMEOUT_MS;
	bool killed = false;
	sigset_t none, dfl;
	pid_t pid;

	out[0] = '\0';
	*why = NULL;
	if (pipe2(fds, O_CLOEXEC) != 0) {
		*why = strerror(errno);
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGCHLD);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGINT);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
	                                        POSIX_SPAWN_SETSIGMASK |
	                                        POSIX_SPAWN_SETSIGDEF);
	errno = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(fds[1]);
	if (errno != 0) {
		*why = strerror(errno);
		close(fds[0]);
		return -1;
	}
	for (;;) {
		struct pollfd p = {.fd = fds[0], .events = POLLIN};
		int64_t left = deadline - mc_mono_ms();
		char buf[512];
		ssize_t got;

		if (left <= 0) {
			kill(-pid, SIGKILL);
			killed = true;
			break;
		}
		if (poll(&p, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		got = read(fds[0], buf, sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		if (used + 1 < outlen) {
			size_t n = (size_t)got;

			if (n > outlen - 1 - used)
				n = outlen - 1 - used;
			memcpy(out + used, buf, n);
			used += n;
			out[used] = '\0';
		}
	}
	close(fds[0]);
	/* The output closed: the command is ending, or was killed. */
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			*why = strerror(errno);
			return -1;
		}
	}
	if (killed) {
		*why = "timed out";
		return -1;
	}
	if (WIFEXITED(status))
		rc = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		rc = 128 + WTERMSIG(status);
	return rc;
}

/* Output as one log line: newlines become " | ", the end trimmed. */
static void one_line(char *s)
{
	size_t n = strlen(s);

	while (n > 0 &&
	       (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		s[--n] = '\0';
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
}

/* ------------------------------------------------------------------ */
/* The password file */

/* Is user in the password file text ("user:hash" lines)? */
static bool passwd_has(const char *text, const char *user)
{
	size_t ul = strlen(user);

	for (const char *line = text; line && *line;) {
		if (strncmp(line, user, ul) == 0 && line[ul] == ':')
			return true;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return false;
}

/* fsync the directory holding path, so that a rename survives a crash. */
static void sync_dir_of(const char *path)
{
	char *dir = strdup(path), *slash;
	int fd;

	if (!dir)
		return;
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

/* Run mosquitto_passwd with args on file; MC_ERR_IO with its output. */
static enum mc_err passwd_run(const char *what, char *const argv[],
                              const char *user, struct mc_error *err)
{
	char out[CMD_OUTPUT_MAX];
	const char *why;
	int rc = run_cmd(argv, out, sizeof(out), &why);

	one_line(out);
	if (rc == 0)
		return MC_OK;
	mc_log_error("provision", "mosquitto_passwd %s %s: %s%s%s", what, user,
	             why ? why : "failed", *out ? ": " : "", out);
	return mc_error_set(err, MC_ERR_IO,
	                    "provision: mosquitto_passwd không chạy được / "
	                    "failed (%s); see the controller's log",
	                    why ? why : "exit status");
}

/*
 * Bring the password file up to date: set user's password (user may be
 * NULL), remove del (may be NULL), and add the controller's own user
 * when it is configured and missing.  The file is changed on a copy
 * that is renamed over it; when nothing changes it is left alone.
 * *changed tells whether it was replaced.
 */
static enum mc_err passwd_update(struct mcc *c, const char *user,
                                 const char *password, const char *del,
                                 bool *changed, struct mc_error *err)
{
	const char *path = opt(c->cfg.mosquitto_passwd);
	const char *cuser = opt(c->cfg.mqtt_user),
	           *cpass = opt(c->cfg.mqtt_password);
	char *text = NULL, *tmp = NULL;
	mode_t mode = 0640;
	enum mc_err rc = MC_OK;
	bool add_ctl, drop;
	struct mc_error e;
	struct stat st;
	size_t len = 0;
	int fd = -1;

	*changed = false;
	if (stat(path, &st) == 0) {
		mode = st.st_mode & 0777;
		rc = mc_read_file(path, PASSWD_MAX, &text, &len, &e);
		if (rc != MC_OK) {
			mc_log_error("provision", "%s", e.msg);
			rc = mc_error_set(
			        err, MC_ERR_IO,
			        "provision: không đọc được tệp mật khẩu "
			        "/ cannot read the password file %.120s",
			        path);
			goto out;
		}
	} else if (errno != ENOENT) {
		rc = mc_error_set(err, MC_ERR_IO, "provision: %.120s: %s", path,
		                  strerror(errno));
		goto out;
	}
	add_ctl = cuser && cpass && (!user || strcmp(user, cuser) != 0) &&
	          !passwd_has(text ? text : "", cuser);
	drop = del && passwd_has(text ? text : "", del);
	if (!user && !add_ctl && !drop)
		goto out; /* nothing to do */

	tmp = mc_printf("%s.XXXXXX", path);
	if (!tmp) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "out of memory");
		goto out;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = mc_error_set(err, MC_ERR_IO, "provision: %.120s: %s", tmp,
		                  strerror(errno));
		MC_FREE(tmp);
		goto out;
	}
	for (size_t done = 0; done < len;) {
		ssize_t w = write(fd, text + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = mc_error_set(err, MC_ERR_IO,
			                  "provision: %.120s: %s", tmp,
			                  strerror(errno));
			goto out;
		}
		done += (size_t)w;
	}
	close(fd);
	fd = -1;
	if (user) {
		char *argv[] = {"mosquitto_passwd", "-b", tmp, (char *)user,
		                (char *)password,   NULL};

		rc = passwd_run("-b", argv, user, err);
		if (rc != MC_OK)
			goto out;
	}
	if (add_ctl) {
		char *argv[] = {"mosquitto_passwd", "-b",          tmp,
		                (char *)cuser,      (char *)cpass, NULL};

		rc = passwd_run("-b", argv, cuser, err);
		if (rc != MC_OK)
			goto out;
		mc_log_info("provision", "added the controller's user %s to %s",
		            cuser, path);
	}
	if (drop) {
		char *argv[] = {"mosquitto_passwd", "-D", tmp, (char *)del,
		                NULL};

		rc = passwd_run("-D", argv, del, err);
		if (rc != MC_OK)
			goto out;
	}
	/* mosquitto_passwd rewrote the copy in place: sync it, then swap. */
	fd = open(tmp, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fchmod(fd, mode) != 0 || fsync(fd) != 0 ||
	    rename(tmp, path) != 0) {
		rc = mc_error_set(err, MC_ERR_IO, "provision: %.120s: %s", path,
		                  strerror(errno));
		goto out;
	}
	MC_FREE(tmp);
	sync_dir_of(path);
	*changed = true;
out:
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	free(text);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The ACL file */

static const char acl_head[] =
        "# minecast — mosquitto ACL (docs/protocol.md §3.2).\n"
        "#\n"
        "# Written by minecast-controller whenever a node is provisioned "
        "or\n"
        "# deleted ([provision] mosquitto_acl).  Do not edit above the "
        "marker\n"
        "# line near the end: it is rewritten.  Below the marker "
        "everything is\n"
        "# kept as it is (site bridges, monitoring users).\n"
        "#\n"
        "# Every node connects with user name = client id = its node id, "
        "so one\n"
        "# block of patterns (%u = the user name) confines every node to "
        "its own\n"
        "# topics; a node exists for the broker when its user is in the "
        "password\n"
        "# file.  mosquitto warns that the alert pattern holds no %u or "
        "%c:\n"
        "# expected (every node reads every alert and checks its targets "
        "itself).\n"
        "\n"
        "# --- every node ---\n"
        "pattern read  minecast/v1/node/%u/desired\n"
        "pattern read  minecast/v1/node/%u/cmd\n"
        "pattern read  minecast/v1/node/%u/pop/ack\n"
        "pattern read  minecast/v1/alert/#\n"
        "pattern write minecast/v1/node/%u/state\n"
        "pattern write minecast/v1/node/%u/health\n"
        "pattern write minecast/v1/node/%u/pop\n"
        "pattern write minecast/v1/node/%u/cmd/result\n"
        "pattern write minecast/v1/node/%u/alert/ack\n"
        "\n";

static const char acl_controller[] =
        "topic read      minecast/v1/node/+/#\n"
        "topic write     minecast/v1/node/+/desired\n"
        "topic write     minecast/v1/node/+/cmd\n"
        "topic write     minecast/v1/node/+/pop/ack\n"
        "topic readwrite minecast/v1/alert/#\n"
        "topic readwrite minecast/v1/controller/state\n"
        "topic read      $SYS/broker/connection/+/state\n";

/* The ACL text for c, with kept (the part below the marker) appended. */
static char *acl_text(struct mcc *c, const char *kept, bool first)
{
	const char *user = opt(c->cfg.mqtt_user);
	char *ctl, *all;

	if (user)
		ctl = mc_printf("# --- the controller (its [mqtt] user) ---\n"
		                "user %s\n%s\n",
		                user, acl_controller);
	else
		ctl = mc_printf("# --- the controller ---\n"
		                "# The controller connects without a user name "
		                "([mqtt] user is not set),\n"
		                "# so it has no block here: give it a user in "
		                "controller.conf.\n\n");
	if (!ctl)
		return NULL;
	all = mc_printf("%s%s%s\n%s%s%s", acl_head, ctl, ACL_MARKER,
	                first && *kept ? "# (the file as it was before "
	                                 "minecast-controller kept it)\n"
	                               : "",
	                kept,
	                *kept && kept[strlen(kept) - 1] != '\n' ? "\n" : "");
	free(ctl);
	return all;
}

/* Rewrite the ACL file unless it already says the same. */
static enum mc_err acl_update(struct mcc *c, bool *changed,
                              struct mc_error *err)
{
	const char *path = opt(c->cfg.mosquitto_acl);
	char *old = NULL, *text = NULL;
	const char *kept = "";
	mode_t mode = 0640;
	enum mc_err rc = MC_OK;
	bool first = false;
	struct mc_error e;
	struct stat st;
	size_t len = 0;

	*changed = false;
	if (stat(path, &st) == 0) {
		char *m;

		mode = st.st_mode & 0777;
		if (mc_read_file(path, ACL_MAX, &old, &len, &e) != MC_OK) {
			mc_log_error("provision", "%s", e.msg);
			return mc_error_set(
			        err, MC_ERR_IO,
			        "provision: không đọc được tệp ACL / "
			        "cannot read the ACL file %.120s",
			        path);
		}
		m = strstr(old, ACL_MARKER "\n");
		if (m) {
			kept = m + strlen(ACL_MARKER) + 1;
		} else {
			/* Not written by us yet: keep all of it. */
			kept = old;
			first = true;
		}
	} else if (errno != ENOENT) {
		return mc_error_set(err, MC_ERR_IO, "provision: %.120s: %s",
		                    path, strerror(errno));
	}
	text = acl_text(c, kept, first);
	if (!text) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (old && strcmp(old, text) == 0)
		goto out;
	rc = mc_write_file_atomic(path, text, strlen(text), mode, &e);
	if (rc != MC_OK) {
		mc_log_error("provision", "%s", e.msg);
		rc = mc_error_set(err, MC_ERR_IO,
		                  "provision: không ghi được tệp ACL / cannot "
		                  "write the ACL file %.120s",
		                  path);
		goto out;
	}
	*changed = true;
out:
	free(old);
	free(text);
	return rc;
}

enum mc_err mcc_provision_write_acl(struct mcc *c, struct mc_error *err)
{
	enum mc_err rc = MC_OK;
	bool changed;

	if (!opt(c->cfg.mosquitto_acl))
		return MC_OK;
	pthread_mutex_lock(&files_lock);
	rc = acl_update(c, &changed, err);
	pthread_mutex_unlock(&files_lock);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Reloading the broker */

/* Run [provision] mosquitto_reload; "ok", "failed" or "none". */
static const char *broker_reload(struct mcc *c)
{
	char out[CMD_OUTPUT_MAX];
	const char *why;
	int rc;

	if (!c->cfg.mosquitto_reload || !*c->cfg.mosquitto_reload)
		return "none";
	{
		char *argv[] = {"/bin/sh", "-c", c->cfg.mosquitto_reload, NULL};

		rc = run_cmd(argv, out, sizeof(out), &why);
	}
	one_line(out);
	if (rc == 0) {
		mc_log_info("provision", "broker reloaded (%s)%s%s",
		            c->cfg.mosquitto_reload, *out ? ": " : "", out);
		return "ok";
	}
	if (rc < 0)
		mc_log_error("provision", "broker reload (%s): %s",
		             c->cfg.mosquitto_reload, why);
	else
		mc_log_error("provision",
		             "broker reload (%s) failed, exit status %d%s%s",
		             c->cfg.mosquitto_reload, rc, *out ? ": " : "",
		             out);
	return "failed";
}

enum mc_err mcc_provision_sync(struct mcc *c, struct mc_error *err)
{
	bool p_changed = false, a_changed = false;
	enum mc_err rc = MC_OK;

	pthread_mutex_lock(&files_lock);
	if (opt(c->cfg.mosquitto_passwd))
		rc = passwd_update(c, NULL, NULL, NULL, &p_changed, err);
	if (rc == MC_OK && opt(c->cfg.mosquitto_acl))
		rc = acl_update(c, &a_changed, err);
	if (rc == MC_OK && (p_changed || a_changed))
		broker_reload(c);
	pthread_mutex_unlock(&files_lock);
	return rc;
}

enum mc_err mcc_provision_forget(struct mcc *c, const char *node,
                                 struct mc_error *err)
{
	enum mc_err rc = MC_OK;
	bool changed = false;

	if (!opt(c->cfg.mosquitto_passwd))
		return MC_OK;
	pthread_mutex_lock(&files_lock);
	rc = passwd_update(c, NULL, NULL, node, &changed, err);
	if (rc == MC_OK && changed) {
		mc_log_info("provision", "removed node %s from %s", node,
		            opt(c->cfg.mosquitto_passwd));
		broker_reload(c);
	}
	pthread_mutex_unlock(&files_lock);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The bundle */

/* What the request may ask of the bundle (all optional). */
struct bundle_opts {
	const char *cache_dir;      /* [cache] dir */
	const char *state_dir;      /* [cache] state_dir */
	int screen, speaker;        /* [channels]: 1 yes, 0 no */
	const char *screen_output;  /* [channels] screen_output */
	const char *speaker_output; /* [channels] speaker_output */
};

/* A path safe to write unquoted into player.conf. */
static bool safe_path(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n > 1024 || s[0] != '/')
		return false;
	for (const char *p = s; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX"
		            "YZ"
		            "0123456789/._-+",
		            *p))
			return false;
	return true;
}

static enum mc_err read_opts(json_t *body, struct bundle_opts *o,
                             struct mc_error *err)
{
	static const char *const keys[] = {"cache_dir",     "state_dir",
	                                   "screen",        "speaker",
	                                   "screen_output", "speaker_output"};
	const char *key;
	json_t *v;

	o->screen = o->speaker = 1;
	json_object_foreach(body, key, v)
	{
		size_t i;

		for (i = 0; i < MC_ARRAY_LEN(keys); i++)
			if (strcmp(keys[i], key) == 0)
				break;
		if (i == MC_ARRAY_LEN(keys))
			return mc_error_set(
			        err, MC_ERR_RANGE,
			        "%.64s: trường không biết / unknown "
			        "field",
			        mc_id_valid(key) ? key : "body");
		if (i < 2) {
			if (!json_is_string(v))
				return mc_error_set(
				        err, MC_ERR_TYPE,
				        "%s: phải là chuỗi / must be "
				        "a string",
				        key);
			if (!safe_path(json_string_value(v)))
				return mc_error_set(
				        err, MC_ERR_RANGE,
				        "%s: đường dẫn tuyệt đối / an absolute "
				        "path of letters, digits and /._-+",
				        key);
			*(i == 0 ? &o->cache_dir : &o->state_dir) =
			        json_string_value(v);
		} else if (i < 4) {
			if (!json_is_boolean(v))
				return mc_error_set(err, MC_ERR_TYPE,
				                    "%s: phải là true/false / "
				                    "must be a boolean",
				                    key);
			*(i == 2 ? &o->screen : &o->speaker) =
			        json_is_true(v) ? 1 : 0;
		} else {
			if (!json_is_string(v))
				return mc_error_set(
				        err, MC_ERR_TYPE,
				        "%s: phải là chuỗi / must be "
				        "a string",
				        key);
			if (!mc_id_valid(json_string_value(v)) ||
			    json_string_length(v) > 32)
				return mc_error_set(
				        err, MC_ERR_RANGE,
				        "%s: tên đầu ra / an output "
				        "name such as sdl, gstreamer, "
				        "log",
				        key);
			*(i == 4 ? &o->screen_output : &o->speaker_output) =
			        json_string_value(v);
		}
	}
	if (!o->screen && !o->speaker)
		return mc_error_set(err, MC_ERR_RANGE,
		                    "screen: cần màn hình hoặc loa / at least "
		                    "one of screen and speaker");
	return MC_OK;
}

/* The broker URL written into bundles. */
static char *broker_url(struct mcc *c)
{
	const char *host = c->cfg.node_mqtt_host;
	int port = c->cfg.node_mqtt_port;
	bool tls;

	if (!host || !*host)
		host = c->cfg.mqtt_host && *c->cfg.mqtt_host ? c->cfg.mqtt_host
		                                             : "127.0.0.1";
	if (strstr(host, "://"))
		return strdup(host); /* given as a whole URL */
	if (port <= 0)
		port = c->cfg.mqtt_port > 0 ? c->cfg.mqtt_port : 1883;
	/* TLS on the port the controller itself reaches with TLS, and on
	 * MQTT's TLS port. */
	tls = port == 8883 ||
	      (opt(c->cfg.mqtt_cafile) && port == c->cfg.mqtt_port);
	return mc_printf("%s://%s%s%s:%d", tls ? "mqtts" : "mqtt",
	                 strchr(host, ':') ? "[" : "", host,
	                 strchr(host, ':') ? "]" : "", port);
}

/*
 * ca.pem of a bundle whose broker is mqtts://: the CA bundle the
 * controller itself trusts the broker by ([mqtt] cafile).  NULL with
 * err->code 0 when there is none to give (the node then uses the
 * system's CAs); NULL with err set when the file cannot be read.
 */
static char *ca_text(struct mcc *c, const char *broker, struct mc_error *err)
{
	struct mc_error e;
	char *text = NULL;
	size_t len;

	if (strncmp(broker, "mqtts://", 8) != 0 || !opt(c->cfg.mqtt_cafile))
		return NULL;
	if (mc_read_file(c->cfg.mqtt_cafile, 1024 * 1024, &text, &len, &e) !=
	            MC_OK ||
	    !strstr(text, "-----BEGIN CERTIFICATE-----")) {
		mc_log_error("provision", "[mqtt] cafile %s: %s",
		             c->cfg.mqtt_cafile,
		             text ? "no PEM certificate in it" : e.msg);
		free(text);
		mc_error_set(err, MC_ERR_IO,
		             "provision: không đọc được [mqtt] cafile / cannot "
		             "read [mqtt] cafile for the node's bundle: %.120s",
		             c->cfg.mqtt_cafile);
		return NULL;
	}
	return text;
}

/* The HTTP base written into bundles; NULL when none can be said. */
static char *http_base(struct mcc *c)
{
	const char *b = c->cfg.node_http_base;
	const char *listen = c->cfg.listen;
	const char *colon;
	char host[128];
	size_t hl;
	int port;

	if (!b || !*b)
		b = c->cfg.public_url;
	if (b && *b) {
		char *s = strdup(b);
		size_t n = s ? strlen(s) : 0;

		while (n > 0 && s[n - 1] == '/')
			s[--n] = '\0';
		return s;
	}
	/* Else the address the API listens on, when it is one. */
	if (!listen || !(colon = strrchr(listen, ':')))
		return NULL;
	hl = (size_t)(colon - listen);
	if (hl == 0 || hl >= sizeof(host))
		return NULL;
	memcpy(host, listen, hl);
	host[hl] = '\0';
	if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "[::]") == 0 ||
	    strcmp(host, "*") == 0)
		return NULL;
	port = c->http ? mcc_http_port(c) : atoi(colon + 1);
	return mc_printf("http://%s:%d", host, port);
}

/*
 * trusted.pub: cfg.trusted_keys as it is (checked to hold public keys),
 * else the public line of the signing key.
 */
static char *trusted_text(struct mcc *c, struct mc_error *err)
{
	struct mc_keyring kr;
	struct mc_error e;
	char *text = NULL;
	size_t len;

	if (c->cfg.trusted_keys &&
	    mc_read_file(c->cfg.trusted_keys, MC_MAX_KEYFILE_BYTES, &text, &len,
	                 &e) == MC_OK) {
		mc_keyring_init(&kr);
		if (mc_keyring_parse(&kr, text, len, c->cfg.trusted_keys, &e) ==
		            MC_OK &&
		    kr.n_keys > 0) {
			mc_keyring_clear(&kr);
			return text;
		}
		mc_keyring_clear(&kr);
		mc_log_error("provision", "%s", e.msg);
		free(text);
		mc_error_set(err, MC_ERR_KEY,
		             "provision: tệp khóa công khai hỏng / the trusted "
		             "keys file is not valid: %.120s",
		             c->cfg.trusted_keys);
		return NULL;
	}
	if (c->have_key) {
		char line[MC_PUBLINE_SIZE];

		mc_public_key_line(c->key.pk, line);
		return mc_printf("# minecast controller signing key %s\n%s\n",
		                 c->key.kid, line);
	}
	mc_error_set(err, MC_ERR_CONFLICT,
	             "provision: chưa có khóa ký / the controller has no "
	             "signing key, so a node could trust nothing");
	return NULL;
}

/* player.conf of the node at place p. */
static char *player_conf(const struct mcc_place *p, const char *name,
                         const char *password, const char *broker, bool ca,
                         const char *base, const struct bundle_opts *o,
                         int64_t now_ms)
{
	char when[32], *tags = NULL, *conf;
	time_t t = (time_t)(now_ms / 1000);
	size_t tl = 1;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	for (size_t i = 0; i < p->n_tags; i++)
		tl += strlen(p->tags[i]) + 2;
	tags = calloc(1, tl);
	if (!tags)
		return NULL;
	for (size_t i = 0; i < p->n_tags; i++) {
		if (i)
			strcat(tags, ", ");
		strcat(tags, p->tags[i]);
	}
	conf = mc_printf(
	        "# minecast-player configuration of node %s%s%s%s\n"
	        "# Written by minecast-controller at %s "
	        "(POST /v1/nodes/%s/provision).\n"
	        "#\n"
	        "# It holds the node's broker password: install it mode 0600 "
	        "(or 0640,\n"
	        "# group minecast), never readable by every user.  "
	        "Provisioning the node\n"
	        "# again makes a new password, and this file stops working.  "
	        "Check it with\n"
	        "#   minecast-player --check-config player.conf\n"
	        "# docs/player.md describes every key; "
	        "firmware-notes/player.conf.example\n"
	        "# shows the optional ones (hooks, audio, screen, bandwidth).\n"
	        "\n"
	        "[node]\n"
	        "id = %s\n"
	        "site = %s\n"
	        "%s%s%s"
	        "\n"
	        "[mqtt]\n"
	        "broker = %s\n"
	        "username = %s\n"
	        "password = %s\n"
	        "%s"
	        "\n"
	        "[http]\n"
	        "base = %s\n"
	        "\n"
	        "[cache]\n"
	        "dir = %s\n"
	        "state_dir = %s\n"
	        "\n"
	        "[channels]\n"
	        "screen = %s\n"
	        "speaker = %s\n"
	        "%s%s%s"
	        "%s%s%s"
	        "\n"
	        "[keys]\n"
	        "# The controller's public key(s), beside this file.\n"
	        "trusted = trusted.pub\n",
	        p->node, *name ? " (" : "", name, *name ? ")" : "", when,
	        p->node, p->node, p->site, p->n_tags ? "tags = " : "", tags,
	        p->n_tags ? "\n" : "", broker, p->node, password,
	        ca ? "# The CA that signed the broker's certificate, beside "
	             "this file.\nca_file = ca.pem\n"
	           : "",
	        base, o->cache_dir ? o->cache_dir : "/var/cache/minecast",
	        o->state_dir ? o->state_dir : "/var/lib/minecast",
	        o->screen ? "yes" : "no", o->speaker ? "yes" : "no",
	        o->screen_output ? "screen_output = " : "",
	        o->screen_output ? o->screen_output : "",
	        o->screen_output ? "\n" : "",
	        o->speaker_output ? "speaker_output = " : "",
	        o->speaker_output ? o->speaker_output : "",
	        o->speaker_output ? "\n" : "");
	free(tags);
	return conf;
}

/* ------------------------------------------------------------------ */
/* POST /v1/nodes/{id}/provision */

static void provision(struct mcc_req *rq, struct mcc_resp *rs)
{
	struct mcc *c = rq->c;
	struct bundle_opts opts = {0};
	struct mcc_place place = {0};
	struct mc_error err;
	unsigned char secret[SECRET_BYTES];
	char password[sodium_base64_ENCODED_LEN(
	        SECRET_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
	char sha[MC_SHA256_HEX_SIZE];
	char *broker = NULL, *base = NULL, *trusted = NULL, *conf = NULL;
	char *ca = NULL;
	char *name = NULL;
	json_t *body = NULL, *before = NULL, *after = NULL, *doc;
	bool in_tx = false, locked = false, rotated;
	bool p_changed = false, a_changed = false;
	const char *reload = "none";
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	int64_t now;
	const char *id;

	mc_error_clear(&err);
	id = rq->n_params > 0 ? rq->params[0] : NULL;
	if (!id || !mc_id_valid(id)) {
		mc_error_set(&err, MC_ERR_RANGE,
		             "id: mã không hợp lệ / not an id ([A-Za-z0-9._-], "
		             "1 to 64)");
		goto bad;
	}
	if (rq->body && rq->body_len > 0) {
		body = mcc_req_json(rq, rs);
		if (!body)
			return;
		if (read_opts(body, &opts, &err) != MC_OK)
			goto bad;
	} else {
		opts.screen = opts.speaker = 1;
	}
	/* What the bundle needs besides the password, before any change. */
	broker = broker_url(c);
	base = http_base(c);
	if (!broker || !base) {
		mc_error_set(
		        &err, MC_ERR_CONFLICT,
		        "provision: chưa đặt [provision] node_http_base / "
		        "set [provision] node_http_base (the address nodes "
		        "reach the controller at)");
		goto bad;
	}
	trusted = trusted_text(c, &err);
	if (!trusted)
		goto bad;
	ca = ca_text(c, broker, &err);
	if (!ca && err.code)
		goto bad;

	randombytes_buf(secret, sizeof(secret));
	sodium_bin2base64(password, sizeof(password), secret, sizeof(secret),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(secret, sizeof(secret));
	mc_sha256_hex(password, strlen(password), sha);
	now = mc_now_ms();

	/* The database's write lock first, then the files' lock: the order
	 * every path takes them in (deleting a node too). */
	db = mcc_db(c);
	if (!db || mcc_db_begin(db) != MC_OK)
		goto dberr;
	in_tx = true;
	pthread_mutex_lock(&files_lock);
	locked = true;
	if (mcc_org_node_place(db, id, &place, &err) != MC_OK) {
		if (err.code == MC_ERR_NOTFOUND)
			mc_error_set(
			        &err, MC_ERR_NOTFOUND,
			        "id: không có thiết bị '%s' / no node '%s'", id,
			        id);
		goto bad;
	}
	st = mcc_db_prepare(db, "SELECT name, provisioned_ms FROM nodes "
	                        "WHERE id = ?1");
	if (!st)
		goto dberr;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_ROW) {
		mcc_db_done(st);
		goto dberr;
	}
	name = mc_strdup((const char *)sqlite3_column_text(st, 0));
	rotated = sqlite3_column_type(st, 1) != SQLITE_NULL;
	before = rotated ? json_pack("{s:I}", "provisioned_ms",
	                             (json_int_t)sqlite3_column_int64(st, 1))
	                 : json_pack("{s:n}", "provisioned_ms");
	mcc_db_done(st);
	st = mcc_db_prepare(db, "UPDATE nodes SET secret_sha256 = ?2, "
	                        "provisioned_ms = ?3 WHERE id = ?1");
	if (!st)
		goto dberr;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, sha, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, now);
	if (sqlite3_step(st) != SQLITE_DONE) {
		mcc_db_done(st);
		goto dberr;
	}
	mcc_db_done(st);
	/* The audit row says that credentials were made, never what. */
	after = json_pack("{s:I, s:b, s:b, s:b}", "provisioned_ms",
	                  (json_int_t)now, "rotated", rotated, "password_file",
	                  opt(c->cfg.mosquitto_passwd) != NULL, "acl_file",
	                  opt(c->cfg.mosquitto_acl) != NULL);
	if (mcc_audit(db, &rq->who, "node.provision", "node", id, before,
	              after) != MC_OK)
		goto dberr;
	/* The broker's files, before the commit: a failure changes nothing
	 * in the database. */
	if (opt(c->cfg.mosquitto_passwd) &&
	    passwd_update(c, id, password, NULL, &p_changed, &err) != MC_OK)
		goto bad;
	if (opt(c->cfg.mosquitto_acl) &&
	    acl_update(c, &a_changed, &err) != MC_OK)
		goto bad;
	if (mcc_db_commit(db) != MC_OK)
		goto dberr;
	in_tx = false;
	if (p_changed || a_changed)
		reload = broker_reload(c);
	pthread_mutex_unlock(&files_lock);
	locked = false;
	mc_log_info("provision",
	            "%s %s node %s (password file: %s, ACL: %s, "
	            "reload: %s)",
	            rq->who.name, rotated ? "re-provisioned" : "provisioned",
	            id, p_changed ? "updated" : "not configured",
	            a_changed ? "updated"
	                      : (opt(c->cfg.mosquitto_acl) ? "unchanged"
	                                                   : "not configured"),
	            reload);

	conf = player_conf(&place, name ? name : "", password, broker,
	                   ca != NULL, base, &opts, now);
	if (!conf) {
		mc_error_set(&err, MC_ERR_NOMEM, "out of memory");
		goto bad;
	}
	doc = json_pack("{s:s, s:I, s:b, s:{s:b, s:b, s:s}, s:{s:s, s:s}}",
	                "node", id, "provisioned_ms", (json_int_t)now,
	                "rotated", rotated, "broker", "password_file",
	                p_changed, "acl_file",
	                opt(c->cfg.mosquitto_acl) != NULL, "reload", reload,
	                "files", "player.conf", conf, "trusted.pub", trusted);
	if (doc && ca &&
	    json_object_set_new(json_object_get(doc, "files"), "ca.pem",
	                        json_string(ca)) != 0) {
		json_decref(doc);
		doc = NULL;
	}
	if (!doc) {
		mc_error_set(&err, MC_ERR_NOMEM, "out of memory");
		goto bad;
	}
	mcc_resp_json(rs, 200, doc);
	goto out;
dberr:
	mc_error_set(&err, MC_ERR_IO,
	             "cơ sở dữ liệu lỗi / database error; see the controller's "
	             "log");
bad:
	mcc_resp_mc_error(rs, &err);
out:
	if (in_tx)
		mcc_db_rollback(db);
	if (locked)
		pthread_mutex_unlock(&files_lock);
	sodium_memzero(password, sizeof(password));
	if (conf)
		sodium_memzero(conf, strlen(conf));
	mcc_place_clear(&place);
	json_decref(body);
	json_decref(before);
	json_decref(after);
	free(broker);
	free(base);
	free(trusted);
	free(ca);
	free(conf);
	free(name);
}

const struct mcc_route mcc_provision_routes[] = {
        {"POST", "/v1/nodes/{}/provision", MCC_ROLE_TECHNICIAN, 64 * 1024, 0,
         provision},
        {NULL, NULL, 0, 0, 0, NULL},
};
