/*
 * minecast-player — downloads (libcurl multi, one worker thread).
 *
 * Wanted files are fetched into the cache's tmp/ part files, resumed with
 * a Range request after any interruption, verified against their sha256
 * and committed (cache.h).  At most download_parallel transfers run at
 * once; the one needed soonest goes first; an optional bandwidth cap is
 * shared by all transfers; outside the configured download window only
 * files needed within the next hour start.  Each outcome is one
 * MC_EV_FETCH_DONE event on the queue.
 */
#ifndef MC_PLAYER_FETCH_H
#define MC_PLAYER_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "config.h"
#include "evq.h"

struct mc_fetcher;

struct mc_fetch_progress {
	int64_t items;  /* files wanted and not yet in the cache */
	int64_t bytes;  /* bytes of those still to download */
	int64_t active; /* transfers running now */
};

struct mc_fetcher *mc_fetcher_start(const struct mc_player_config *cfg,
                                    struct mc_cache *cache, struct mc_evq *q,
                                    struct mc_error *err);

/*
 * Want a file.  url is absolute or relative to cfg->http_base.  need_by_ms
 * orders the queue (smaller first; 0 = now).  A file already in the cache
 * produces its MC_EV_FETCH_DONE at once; wanting a file twice is one
 * download.  Thread-safe.
 */
void mc_fetcher_want(struct mc_fetcher *f, const char *sha256, int64_t size,
                     const char *url, int64_t need_by_ms);

/*
 * Forget queued files not in keep (a new manifest replaced the old);
 * running transfers of dropped files are stopped, their part files kept
 * for a later resume.
 */
void mc_fetcher_retain(struct mc_fetcher *f, const char *const *keep, size_t n);

/*
 * Upload data (copied) with HTTP POST to url (absolute or relative to
 * http_base), with Content-Type ctype and the node's credentials;
 * produces one MC_EV_UPLOAD_DONE carrying tag.
 */
void mc_fetcher_upload(struct mc_fetcher *f, const char *url, const void *data,
                       size_t len, const char *ctype, const char *tag);

void mc_fetcher_progress(struct mc_fetcher *f, struct mc_fetch_progress *p);

/* Stop transfers (part files stay for resume), join, free. */
void mc_fetcher_stop(struct mc_fetcher *f);

#endif
