/*
 * minecast-player — the event queue from worker threads to the main loop.
 *
 * The main thread owns all player state.  The MQTT link thread, the
 * download thread and hook runners never touch it: they push events here,
 * and the main loop, woken through an eventfd in its poll(), takes them.
 */
#ifndef MC_PLAYER_EVQ_H
#define MC_PLAYER_EVQ_H

#include <stddef.h>
#include <stdint.h>

#include "minecast/error.h"

enum mc_event_type {
	MC_EV_LINK_UP,     /* connected (and subscribed) to a broker */
	MC_EV_LINK_DOWN,   /* lost the broker; text = reason */
	MC_EV_MESSAGE,     /* topic + payload received */
	MC_EV_FETCH_DONE,  /* a download finished: sha256 + rc + text */
	MC_EV_UPLOAD_DONE, /* an upload finished: tag + rc + text */
	MC_EV_HOOK_DONE    /* a hook finished: tag + rc + text */
};

/* One event.  Strings and payload are owned by the event. */
struct mc_event {
	enum mc_event_type type;
	char *topic;           /* MC_EV_MESSAGE: full topic */
	char *payload;         /* MC_EV_MESSAGE: bytes, NUL-terminated */
	size_t len;            /* payload length without the NUL */
	char sha256[65];       /* MC_EV_FETCH_DONE: what was fetched */
	char *tag;             /* UPLOAD/HOOK_DONE: the caller's tag
	                        * (a command correlation id) */
	enum mc_err rc;        /* FETCH/UPLOAD/HOOK_DONE: outcome */
	char *text;            /* human-readable detail or error */
	struct mc_event *next; /* queue link */
};

struct mc_evq;

/* Returns NULL on failure (errno set). */
struct mc_evq *mc_evq_new(void);
void mc_evq_free(struct mc_evq *q);

/* The fd to poll for POLLIN; readable while events wait. */
int mc_evq_fd(const struct mc_evq *q);

/*
 * Push an event (thread-safe).  The queue takes ownership of ev, which
 * must come from mc_event_new().
 */
void mc_evq_push(struct mc_evq *q, struct mc_event *ev);

/*
 * Take every waiting event, oldest first, as a list linked by next; the
 * caller frees each with mc_event_free().  NULL if none.
 */
struct mc_event *mc_evq_take(struct mc_evq *q);

/* A zeroed event of type; NULL on allocation failure. */
struct mc_event *mc_event_new(enum mc_event_type type);
void mc_event_free(struct mc_event *ev);

#endif
