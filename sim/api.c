/*
 * minecast-sim — registering and provisioning nodes through the API
 * (docs/api.md, "Organisation" and "Provisioning").
 *
 * --register makes the sites and nodes the simulation needs: what exists
 * is left alone (a node whose site or tags differ is corrected with
 * PATCH, so that the controller's targets and the node's own agree).
 * --provision also makes each node's broker password (POST
 * /v1/nodes/{id}/provision); the controller runs mosquitto_passwd and
 * reloads the broker once per node, so it suits tens of nodes, not
 * thousands (docs/sim.md).
 *
 * Requests run before the event loop starts, several at once on
 * keep-alive connections (a small libcurl multi window).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "minecast/log.h"
#include "minecast/util.h"

#include "sim.h"

/* Requests in flight at once. */
#define API_PARALLEL 8

/* One API request and its answer. */
struct req {
	const char *method;        /* GET, POST, PATCH */
	char *path;                /* "/v1/nodes" */
	char *body;                /* JSON, or NULL */
	int node;                  /* node index it is about, or -1 */
	long status;               /* HTTP status; 0 = transport failure */
	char *resp;                /* answer body (NUL-terminated) */
	size_t resp_len;           /* its length */
	char err[CURL_ERROR_SIZE]; /* libcurl's message */
};

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct req *r = userdata;
	size_t n = size * nmemb;
	char *b;

	if (r->resp_len + n > 64 * 1024 * 1024)
		return 0;
	b = realloc(r->resp, r->resp_len + n + 1);
	if (!b)
		return 0;
	memcpy(b + r->resp_len, ptr, n);
	r->resp = b;
	r->resp_len += n;
	r->resp[r->resp_len] = '\0';
	return n;
}

static void setup(struct sim *s, CURL *e, struct curl_slist *hdrs,
                  struct req *r)
{
	char *url = mc_printf("%s%s", s->o.controller, r->path);

	curl_easy_reset(e);
	curl_easy_setopt(e, CURLOPT_URL, url ? url : "");
	free(url); /* libcurl copies it */
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->err);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "minecast-sim");
	if (r->body) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE,
		                 (long)strlen(r->body));
	} else if (strcmp(r->method, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
	}
}

/* Run n requests, API_PARALLEL at a time.  -1 if libcurl fails. */
static int run(struct sim *s, struct req *reqs, size_t n)
{
	CURLM *multi = curl_multi_init();
	CURL *easy[API_PARALLEL] = {0};
	struct curl_slist *hdrs = NULL;
	char *auth = mc_printf("Authorization: Bearer %s",
	                       s->o.token ? s->o.token : "");
	size_t next = 0, done = 0;
	int ret = -1, running = 0;

	if (!multi || !auth)
		goto out;
	hdrs = curl_slist_append(hdrs, auth);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (!hdrs)
		goto out;
	curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
	                  (long)API_PARALLEL);
	for (int i = 0; i < API_PARALLEL; i++) {
		easy[i] = curl_easy_init();
		if (!easy[i])
			goto out;
		if (next < n) {
			setup(s, easy[i], hdrs, &reqs[next++]);
			curl_multi_add_handle(multi, easy[i]);
		}
	}
	while (done < n) {
		CURLMsg *msg;
		int left;

		if (curl_multi_perform(multi, &running) != CURLM_OK)
			goto out;
		while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
			struct req *r = NULL;
			CURL *e = msg->easy_handle;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
			if (msg->data.result == CURLE_OK)
				curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE,
				                  &r->status);
			else if (!r->err[0])
				snprintf(r->err, sizeof(r->err), "%s",
				         curl_easy_strerror(msg->data.result));
			curl_multi_remove_handle(multi, e);
			done++;
			if (next < n) {
				setup(s, e, hdrs, &reqs[next++]);
				curl_multi_add_handle(multi, e);
			}
		}
		if (done < n &&
		    curl_multi_poll(multi, NULL, 0, 1000, NULL) != CURLM_OK)
			goto out;
	}
	ret = 0;
out:
	for (int i = 0; i < API_PARALLEL; i++)
		if (easy[i]) {
			curl_multi_remove_handle(multi, easy[i]);
			curl_easy_cleanup(easy[i]);
		}
	if (multi)
		curl_multi_cleanup(multi);
	curl_slist_free_all(hdrs);
	free(auth);
	return ret;
}

static void reqs_free(struct req *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(reqs[i].path);
		free(reqs[i].body);
		free(reqs[i].resp);
	}
	free(reqs);
}

/* The message of an error answer, for a log line. */
static const char *why(const struct req *r, char *buf, size_t len)
{
	json_t *doc, *msg;

	if (r->status == 0) {
		snprintf(buf, len, "%s", r->err[0] ? r->err : "no answer");
		return buf;
	}
	doc = r->resp ? json_loads(r->resp, 0, NULL) : NULL;
	msg = json_object_get(json_object_get(doc, "error"), "message");
	snprintf(buf, len, "HTTP %ld%s%s", r->status,
	         json_is_string(msg) ? ": " : "",
	         json_is_string(msg) ? json_string_value(msg) : "");
	json_decref(doc);
	return buf;
}

/* GET path and return its "items" (new reference), or NULL. */
static json_t *get_items(struct sim *s, const char *path)
{
	struct req *r = calloc(1, sizeof(*r));
	json_t *doc = NULL, *items = NULL;
	char b[512];

	if (!r)
		return NULL;
	r->method = "GET";
	r->path = mc_strdup(path);
	r->node = -1;
	if (!r->path || run(s, r, 1) != 0 || r->status != 200) {
		mc_log_error("sim", "GET %s: %s", path, why(r, b, sizeof(b)));
		goto out;
	}
	doc = json_loads(r->resp, 0, NULL);
	items = json_object_get(doc, "items");
	if (!json_is_array(items)) {
		mc_log_error("sim", "GET %s: no items in the answer", path);
		items = NULL;
		goto out;
	}
	json_incref(items);
out:
	json_decref(doc);
	reqs_free(r, 1);
	return items;
}

/* Is id among the "id" members of items? (items sorted by id) */
static json_t *find_id(json_t *items, const char *id)
{
	size_t lo = 0, hi = json_array_size(items);

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		json_t *it = json_array_get(items, mid);
		const char *v = json_string_value(json_object_get(it, "id"));
		int c = v ? strcmp(v, id) : -1;

		if (c == 0)
			return it;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Do a node's tags in the controller equal ours? */
static bool same_tags(json_t *have, const struct sim_node *n)
{
	if (json_array_size(have) != n->n_tags)
		return false;
	for (size_t i = 0; i < n->n_tags; i++) {
		bool found = false;

		for (size_t k = 0; k < json_array_size(have); k++) {
			const char *t =
			        json_string_value(json_array_get(have, k));

			if (t && strcmp(t, n->tags[i]) == 0)
				found = true;
		}
		if (!found)
			return false;
	}
	return true;
}

static char *node_body(const struct sim_node *n, bool create)
{
	json_t *o = json_object(), *tags = json_array();
	char *out;

	for (size_t i = 0; i < n->n_tags; i++)
		json_array_append_new(tags, json_string(n->tags[i]));
	if (create) {
		json_object_set_new(o, "id", json_string(n->id));
		json_object_set_new(o, "name",
		                    json_sprintf("Nút mô phỏng %s", n->id));
	}
	json_object_set_new(o, "site", json_string(n->site));
	json_object_set_new(o, "tags", tags);
	out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return out;
}

/* Run reqs; count failures (409 on create = exists: fine). */
static int run_checked(struct sim *s, struct req *reqs, size_t n,
                       const char *what)
{
	size_t bad = 0;
	char b[512];

	if (n == 0)
		return 0;
	if (run(s, reqs, n) != 0) {
		mc_log_error("sim", "%s: HTTP client failed", what);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		long st = reqs[i].status;

		if (st == 200 || st == 201 ||
		    (st == 409 && strcmp(reqs[i].method, "POST") == 0))
			continue;
		if (bad++ < 5)
			mc_log_error("sim", "%s %s: %s", reqs[i].method,
			             reqs[i].path, why(&reqs[i], b, sizeof(b)));
	}
	if (bad) {
		mc_log_error("sim", "%s: %zu of %zu requests failed", what, bad,
		             n);
		return -1;
	}
	return 0;
}

int sim_api_register(struct sim *s)
{
	json_t *sites = NULL, *nodes = NULL;
	struct req *reqs = NULL;
	size_t n = 0, created = 0, patched = 0;
	int64_t t0 = mc_mono_ms();
	int ret = -1;

	sites = get_items(s, "/v1/sites");
	if (!sites)
		goto out;
	reqs = calloc((size_t)s->o.sites + (size_t)s->o.nodes, sizeof(*reqs));
	if (!reqs)
		goto out;
	for (int i = 0; i < s->o.sites; i++) {
		json_t *o;

		if (find_id(sites, s->site_ids[i]))
			continue;
		o = json_pack("{s:s, s:s+}", "id", s->site_ids[i], "name",
		              "Công trường mô phỏng ", s->site_ids[i]);
		reqs[n].method = "POST";
		reqs[n].path = mc_strdup("/v1/sites");
		reqs[n].body = o ? json_dumps(o, JSON_COMPACT) : NULL;
		reqs[n].node = -1;
		json_decref(o);
		n++;
	}
	if (run_checked(s, reqs, n, "creating sites") != 0)
		goto out;
	if (n)
		mc_log_info("sim", "%zu site%s created", n, n == 1 ? "" : "s");
	reqs_free(reqs, n);
	reqs = calloc((size_t)s->o.nodes, sizeof(*reqs));
	n = 0;
	nodes = get_items(s, "/v1/nodes");
	if (!nodes || !reqs)
		goto out;
	for (int i = 0; i < s->o.nodes; i++) {
		struct sim_node *nd = &s->nodes[i];
		json_t *have = find_id(nodes, nd->id);
		const char *site;

		if (!have) {
			reqs[n].method = "POST";
			reqs[n].path = mc_strdup("/v1/nodes");
			reqs[n].body = node_body(nd, true);
			created++;
		} else {
			site = json_string_value(json_object_get(have, "site"));
			if (site && strcmp(site, nd->site) == 0 &&
			    same_tags(json_object_get(have, "tags"), nd))
				continue;
			reqs[n].method = "PATCH";
			reqs[n].path = mc_printf("/v1/nodes/%s", nd->id);
			reqs[n].body = node_body(nd, false);
			patched++;
		}
		reqs[n].node = i;
		n++;
	}
	if (run_checked(s, reqs, n, "registering nodes") != 0)
		goto out;
	mc_log_info("sim",
	            "registered: %zu node%s created, %zu moved or retagged, "
	            "%zu already there, in %.1f s",
	            created, created == 1 ? "" : "s", patched,
	            (size_t)s->o.nodes - created - patched,
	            (double)(mc_mono_ms() - t0) / 1000.0);
	ret = 0;
out:
	if (reqs)
		reqs_free(reqs, n);
	json_decref(sites);
	json_decref(nodes);
	return ret;
}

/* The [mqtt] password of a player.conf text (quotes removed). */
static char *conf_password(const char *conf)
{
	const char *p = conf;
	bool in_mqtt = false;

	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		char line[1024];
		char *k, *v, *e;

		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		p = eol ? eol + 1 : NULL;
		k = line + strspn(line, " \t");
		if (*k == '[') {
			in_mqtt = strncmp(k, "[mqtt]", 6) == 0;
			continue;
		}
		if (!in_mqtt || strncmp(k, "password", 8) != 0)
			continue;
		v = k + 8 + strspn(k + 8, " \t");
		if (*v != '=')
			continue;
		v++;
		v += strspn(v, " \t");
		e = v + strlen(v);
		while (e > v &&
		       (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			*--e = '\0';
		if (e - v >= 2 && *v == '"' && e[-1] == '"') {
			e[-1] = '\0';
			v++;
		}
		return mc_strdup(v);
	}
	return NULL;
}

int sim_api_provision(struct sim *s)
{
	struct req *reqs = calloc((size_t)s->o.nodes, sizeof(*reqs));
	int64_t t0 = mc_mono_ms();
	int ret = -1;

	if (!reqs)
		return -1;
	for (int i = 0; i < s->o.nodes; i++) {
		reqs[i].method = "POST";
		reqs[i].path =
		        mc_printf("/v1/nodes/%s/provision", s->nodes[i].id);
		reqs[i].node = i;
	}
	if (run_checked(s, reqs, (size_t)s->o.nodes, "provisioning") != 0)
		goto out;
	for (int i = 0; i < s->o.nodes; i++) {
		json_t *doc =
		        json_loads(reqs[i].resp ? reqs[i].resp : "", 0, NULL);
		const char *conf = json_string_value(json_object_get(
		        json_object_get(doc, "files"), "player.conf"));
		char *pw = conf ? conf_password(conf) : NULL;

		json_decref(doc);
		if (!pw) {
			mc_log_error("sim",
			             "provision %s: no [mqtt] password "
			             "in the bundle",
			             s->nodes[i].id);
			goto out;
		}
		free(s->nodes[i].password);
		s->nodes[i].password = pw;
	}
	mc_log_info("sim", "%d node%s provisioned in %.1f s", s->o.nodes,
	            s->o.nodes == 1 ? "" : "s",
	            (double)(mc_mono_ms() - t0) / 1000.0);
	ret = 0;
out:
	reqs_free(reqs, (size_t)s->o.nodes);
	return ret;
}
