/*
 * minecast — text templates ({years}, {since}, {date}); see template.h and
 * docs/schedule.md rule 9.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minecast/template.h"

/* A growing output buffer. */
struct buf {
	char *p;    /* the bytes so far, NUL-terminated when not NULL */
	size_t len; /* bytes used, without the NUL */
	size_t cap; /* bytes allocated */
	int oom;    /* an allocation failed; give up at the end */
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *p = realloc(b->p, cap);

		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/*
 * The value of placeholder name (length n) into val, or 0 when it is not
 * one we resolve in this context (it is then copied as written).
 */
static int lookup(const char *name, size_t n, const struct mc_template_ctx *c,
                  char *val, size_t cap)
{
	if (n == 5 && memcmp(name, "years", 5) == 0 && c->founded) {
		snprintf(val, cap, "%d", c->year - c->founded);
		return 1;
	}
	if (n == 5 && memcmp(name, "since", 5) == 0 && c->founded) {
		snprintf(val, cap, "%d", c->founded);
		return 1;
	}
	if (n == 4 && memcmp(name, "date", 4) == 0) {
		snprintf(val, cap, "%02d/%02d/%04d", c->day, c->month, c->year);
		return 1;
	}
	return 0;
}

char *mc_template_resolve(const char *text, const struct mc_template_ctx *ctx)
{
	struct buf b = {0};
	const char *p = text;

	if (!text)
		return NULL;
	put(&b, "", 0); /* an empty text still yields "" */
	while (*p) {
		const char *open = strchr(p, '{');
		const char *close;
		char val[48];

		if (!open) {
			put(&b, p, strlen(p));
			break;
		}
		put(&b, p, (size_t)(open - p));
		close = strchr(open + 1, '}');
		/* A '{' inside the name means this brace opens nothing. */
		if (close && memchr(open + 1, '{', (size_t)(close - open - 1)))
			close = NULL;
		if (close && lookup(open + 1, (size_t)(close - open - 1), ctx,
		                    val, sizeof(val))) {
			put(&b, val, strlen(val));
			p = close + 1;
		} else {
			put(&b, open, 1);
			p = open + 1;
		}
	}
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}
