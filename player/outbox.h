/*
 * minecast-player — the proof-of-play outbox (SQLite, synchronous=FULL).
 *
 * A record is written when an item starts and closed when it ends; only
 * closed records are sent.  A record leaves the outbox only when the
 * controller's acknowledgement names its id: a broker PUBACK is not
 * storage.  Records left open by a crash are closed as interrupted at the
 * next start.  When more than max records wait, the oldest never-sent
 * ones are folded into summary records (count > 1) per content, entry,
 * channel and day, and the summary counter in health goes up.
 */
#ifndef MC_PLAYER_OUTBOX_H
#define MC_PLAYER_OUTBOX_H

#include <stdbool.h>
#include <stdint.h>

#include "minecast/error.h"
#include "minecast/messages.h"

struct mc_outbox;

/*
 * Open or create the outbox at path.  node and boot make record ids
 * "<node>-<boot>-<n>", unique forever.  max: records kept before
 * summarising.
 */
struct mc_outbox *mc_outbox_open(const char *path, const char *node,
                                 int64_t boot, int64_t max,
                                 struct mc_error *err);
void mc_outbox_close(struct mc_outbox *ob);

/*
 * Close every record left open (by a crash or power loss) as interrupted,
 * ending at end_ms.  Returns how many through *n.
 */
enum mc_err mc_outbox_recover(struct mc_outbox *ob, int64_t end_ms, int64_t *n,
                              struct mc_error *err);

/*
 * Record that an item started; rec->id is ignored and the new id is
 * written to id_out (at least 96 bytes).
 */
enum mc_err mc_outbox_start(struct mc_outbox *ob,
                            const struct mc_pop_record *rec, char *id_out,
                            size_t id_len, struct mc_error *err);

/* Record that the item with id ended. */
enum mc_err mc_outbox_end(struct mc_outbox *ob, const char *id, int64_t end_ms,
                          bool completed, struct mc_error *err);

/*
 * Fill out with up to max closed records that were never sent or were
 * sent more than resend_ms ago (oldest first), mark them sent now, and
 * give the batch a fresh id.  An empty batch (n_records 0) means nothing
 * to send.  out is cleared first; free with mc_pop_batch_clear().
 */
enum mc_err mc_outbox_next_batch(struct mc_outbox *ob, int max, int64_t now_ms,
                                 int64_t resend_ms, struct mc_pop_batch *out,
                                 struct mc_error *err);

/* Delete the acknowledged ids; unknown ids are ignored. *n = deleted. */
enum mc_err mc_outbox_ack(struct mc_outbox *ob, const struct mc_pop_ack *ack,
                          int64_t *n, struct mc_error *err);

/* Records waiting (open or closed). */
int64_t mc_outbox_pending(struct mc_outbox *ob);

/* Records folded into summaries since the outbox was created. */
int64_t mc_outbox_summarised(struct mc_outbox *ob);

#endif
