/* minecast-player — the event queue: a mutex, a list and an eventfd. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "evq.h"

struct mc_evq {
	pthread_mutex_t lock;  /* guards head and tail */
	struct mc_event *head; /* oldest waiting event */
	struct mc_event *tail; /* newest, where pushes go */
	int fd;                /* eventfd: readable while events wait */
};

struct mc_evq *mc_evq_new(void)
{
	struct mc_evq *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->fd < 0) {
		free(q);
		return NULL;
	}
	pthread_mutex_init(&q->lock, NULL);
	return q;
}

void mc_evq_free(struct mc_evq *q)
{
	struct mc_event *ev;

	if (!q)
		return;
	ev = mc_evq_take(q);
	while (ev) {
		struct mc_event *next = ev->next;

		mc_event_free(ev);
		ev = next;
	}
	close(q->fd);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

int mc_evq_fd(const struct mc_evq *q)
{
	return q->fd;
}

void mc_evq_push(struct mc_evq *q, struct mc_event *ev)
{
	uint64_t one = 1;

	ev->next = NULL;
	pthread_mutex_lock(&q->lock);
	if (q->tail)
		q->tail->next = ev;
	else
		q->head = ev;
	q->tail = ev;
	pthread_mutex_unlock(&q->lock);
	/* The counter only saturates after 2^64 - 2 pushes; EAGAIN then is
	 * harmless since the fd is already readable. */
	while (write(q->fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

struct mc_event *mc_evq_take(struct mc_evq *q)
{
	struct mc_event *list;
	uint64_t n;

	pthread_mutex_lock(&q->lock);
	list = q->head;
	q->head = q->tail = NULL;
	/* Drain the counter under the lock, so that a push racing with us
	 * leaves the fd readable for its own event. */
	while (read(q->fd, &n, sizeof(n)) < 0 && errno == EINTR)
		;
	pthread_mutex_unlock(&q->lock);
	return list;
}

struct mc_event *mc_event_new(enum mc_event_type type)
{
	struct mc_event *ev = calloc(1, sizeof(*ev));

	if (ev)
		ev->type = type;
	return ev;
}

void mc_event_free(struct mc_event *ev)
{
	if (!ev)
		return;
	free(ev->topic);
	free(ev->payload);
	free(ev->tag);
	free(ev->text);
	free(ev);
}
