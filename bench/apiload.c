/*
 * mc-apiload — a small HTTP load client for bench/ctl_api.py.
 *
 * C clients, each its own keep-alive connection (libcurl multi, one
 * thread, so the client costs little CPU beside the server it measures),
 * send requests in turn from a mix file until each has sent R or S
 * seconds have passed.  Client i uses the i-th token of the token file
 * (wrapping).  Prints one JSON object: every request's latency in
 * milliseconds with its mix line, and the failures.
 *
 *   mc-apiload --url BASE --mix FILE --tokens FILE [--clients C]
 *              [--requests R] [--seconds S]
 *
 * Mix file lines: "METHOD PATH [JSON BODY]"; "{user}" in PATH or BODY is
 * replaced by the client's user name, the token file's lines being
 * "NAME TOKEN".  Not a test: it asserts nothing.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

struct mix_line {
	char method[8];
	char *path; /* with {user} */
	char *body; /* NULL or with {user} */
};

struct client {
	CURL *h;
	struct curl_slist *hdrs;
	const char *user;
	int sent;   /* requests started */
	int line;   /* mix line of the request in flight */
	char *url;  /* of the request in flight */
	char *body; /* of the request in flight */
};

struct sample {
	double ms;
	int line;
	long status;
};

/* Requests started and not yet done. */
static int in_flight;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* s with every "{user}" replaced by user; a new string. */
static char *subst(const char *s, const char *user)
{
	size_t n = strlen(s) + 1, ul = strlen(user);
	char *out, *o;

	for (const char *p = strstr(s, "{user}"); p;
	     p = strstr(p + 6, "{user}"))
		n += ul;
	out = malloc(n);
	if (!out)
		return NULL;
	o = out;
	while (*s) {
		if (strncmp(s, "{user}", 6) == 0) {
			memcpy(o, user, ul);
			o += ul;
			s += 6;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static char *chomp_line(FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len = getline(&line, &cap, f);

	if (len < 0) {
		free(line);
		return NULL;
	}
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	return line;
}

static int load_mix(const char *path, struct mix_line **out, int *n)
{
	FILE *f = fopen(path, "r");
	char *line;

	if (!f)
		return -1;
	*out = NULL;
	*n = 0;
	while ((line = chomp_line(f))) {
		char *sp = strchr(line, ' '), *sp2;
		struct mix_line *m;

		if (!sp || line[0] == '#') {
			free(line);
			continue;
		}
		*out = realloc(*out, (size_t)(*n + 1) * sizeof(**out));
		m = &(*out)[(*n)++];
		*sp = '\0';
		snprintf(m->method, sizeof(m->method), "%s", line);
		sp2 = strchr(sp + 1, ' ');
		if (sp2)
			*sp2 = '\0';
		m->path = strdup(sp + 1);
		m->body = sp2 ? strdup(sp2 + 1) : NULL;
		free(line);
	}
	fclose(f);
	return *n > 0 ? 0 : -1;
}

static void start(CURLM *multi, struct client *cl, const char *base,
                  const struct mix_line *mix, int n_mix, int idx)
{
	const struct mix_line *m;
	char *path;

	cl->line = (cl->sent + idx) % n_mix;
	m = &mix[cl->line];
	free(cl->url);
	free(cl->body);
	path = subst(m->path, cl->user);
	cl->url = malloc(strlen(base) + strlen(path) + 1);
	strcpy(cl->url, base);
	strcat(cl->url, path);
	free(path);
	cl->body = m->body ? subst(m->body, cl->user) : NULL;
	curl_easy_setopt(cl->h, CURLOPT_URL, cl->url);
	curl_easy_setopt(cl->h, CURLOPT_CUSTOMREQUEST, m->method);
	curl_easy_setopt(cl->h, CURLOPT_NOBODY,
	                 strcmp(m->method, "HEAD") == 0 ? 1L : 0L);
	if (cl->body) {
		curl_easy_setopt(cl->h, CURLOPT_POSTFIELDS, cl->body);
		curl_easy_setopt(cl->h, CURLOPT_POSTFIELDSIZE,
		                 (long)strlen(cl->body));
	} else {
		curl_easy_setopt(cl->h, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(cl->h, CURLOPT_CUSTOMREQUEST, m->method);
	}
	cl->sent++;
	in_flight++;
	curl_multi_add_handle(multi, cl->h);
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {
	        {"url", required_argument, NULL, 'u'},
	        {"mix", required_argument, NULL, 'm'},
	        {"tokens", required_argument, NULL, 't'},
	        {"clients", required_argument, NULL, 'c'},
	        {"requests", required_argument, NULL, 'r'},
	        {"seconds", required_argument, NULL, 's'},
	        {NULL, 0, NULL, 0},
	};
	const char *base = NULL, *mix_path = NULL, *tok_path = NULL;
	int clients = 50, requests = 200, n_mix = 0, n_tok = 0, ch;
	double seconds = 60, t_end;
	struct mix_line *mix = NULL;
	char **names = NULL, **tokens = NULL;
	struct client *cl;
	struct sample *samples;
	size_t n_samples = 0, failed = 0;
	CURLM *multi;
	FILE *f;
	char *line;
	int running = 0;

	while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (ch) {
		case 'u': base = optarg; break;
		case 'm': mix_path = optarg; break;
		case 't': tok_path = optarg; break;
		case 'c': clients = atoi(optarg); break;
		case 'r': requests = atoi(optarg); break;
		case 's': seconds = atof(optarg); break;
		default: return 2;
		}
	}
	if (!base || !mix_path || !tok_path || clients < 1 || requests < 1) {
		fprintf(stderr, "usage: mc-apiload --url BASE --mix FILE "
		                "--tokens FILE [--clients C] [--requests R] "
		                "[--seconds S]\n");
		return 2;
	}
	if (load_mix(mix_path, &mix, &n_mix) != 0) {
		fprintf(stderr, "mc-apiload: %s: no mix lines\n", mix_path);
		return 1;
	}
	f = fopen(tok_path, "r");
	if (!f) {
		perror(tok_path);
		return 1;
	}
	while ((line = chomp_line(f))) {
		char *sp = strchr(line, ' ');

		if (sp) {
			*sp = '\0';
			names = realloc(names,
			                (size_t)(n_tok + 1) * sizeof(*names));
			tokens = realloc(tokens,
			                 (size_t)(n_tok + 1) * sizeof(*tokens));
			names[n_tok] = strdup(line);
			tokens[n_tok++] = strdup(sp + 1);
		}
		free(line);
	}
	fclose(f);
	if (n_tok == 0) {
		fprintf(stderr, "mc-apiload: %s: no tokens\n", tok_path);
		return 1;
	}

	curl_global_init(CURL_GLOBAL_DEFAULT);
	multi = curl_multi_init();
	curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)clients);
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)clients);
	cl = calloc((size_t)clients, sizeof(*cl));
	samples = calloc((size_t)clients * (size_t)requests, sizeof(*samples));
	for (int i = 0; i < clients; i++) {
		char auth[512];

		cl[i].h = curl_easy_init();
		cl[i].user = names[i % n_tok];
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
		         tokens[i % n_tok]);
		cl[i].hdrs = curl_slist_append(NULL, auth);
		cl[i].hdrs = curl_slist_append(
		        cl[i].hdrs, "Content-Type: application/json");
		curl_easy_setopt(cl[i].h, CURLOPT_HTTPHEADER, cl[i].hdrs);
		curl_easy_setopt(cl[i].h, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(cl[i].h, CURLOPT_PRIVATE, &cl[i]);
		curl_easy_setopt(cl[i].h, CURLOPT_TIMEOUT, 30L);
		curl_easy_setopt(cl[i].h, CURLOPT_TCP_NODELAY, 1L);
	}
	t_end = now_s() + seconds;
	for (int i = 0; i < clients; i++)
		start(multi, &cl[i], base, mix, n_mix, i);
	do {
		CURLMsg *msg;
		int left;

		curl_multi_perform(multi, &running);
		while ((msg = curl_multi_info_read(multi, &left))) {
			struct client *c;
			curl_off_t us = 0;
			long status = 0;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			                  (char **)&c);
			curl_easy_getinfo(msg->easy_handle,
			                  CURLINFO_TOTAL_TIME_T, &us);
			curl_easy_getinfo(msg->easy_handle,
			                  CURLINFO_RESPONSE_CODE, &status);
			curl_multi_remove_handle(multi, c->h);
			in_flight--;
			if (msg->data.result == CURLE_OK && status >= 200 &&
			    status < 300)
				samples[n_samples++] = (struct sample){
				        (double)us / 1000.0, c->line, status};
			else
				failed++;
			if (c->sent < requests && now_s() < t_end)
				start(multi, c, base, mix, n_mix,
				      (int)(c - cl));
		}
		if (in_flight)
			curl_multi_poll(multi, NULL, 0, 100, NULL);
	} while (in_flight > 0);

	printf("{\"failed\": %zu, \"samples\": [", failed);
	for (size_t i = 0; i < n_samples; i++)
		printf("%s[%.3f, %d]", i ? ", " : "", samples[i].ms,
		       samples[i].line);
	printf("], \"mix\": [");
	for (int i = 0; i < n_mix; i++)
		printf("%s\"%s %s\"", i ? ", " : "", mix[i].method,
		       mix[i].path);
	printf("]}\n");

	for (int i = 0; i < clients; i++) {
		curl_easy_cleanup(cl[i].h);
		curl_slist_free_all(cl[i].hdrs);
		free(cl[i].url);
		free(cl[i].body);
	}
	curl_multi_cleanup(multi);
	curl_global_cleanup();
	free(cl);
	free(samples);
	for (int i = 0; i < n_mix; i++) {
		free(mix[i].path);
		free(mix[i].body);
	}
	free(mix);
	for (int i = 0; i < n_tok; i++) {
		free(names[i]);
		free(tokens[i]);
	}
	free(names);
	free(tokens);
	return 0;
}
