/*
 * minecast — JSON codecs (jansson) for the model and the messages.
 *
 * Every parser takes the raw bytes and their length, refuses input larger
 * than the message's limit (messages.h) before parsing, requires valid
 * UTF-8, NFC-normalises every text field, checks types and ranges, and on
 * failure fills err with a message that names the field and the reason
 * ("entries[2].priority: must be an integer 0..100") and leaves *out
 * cleared.  Unknown fields are ignored, so that newer senders can add
 * fields (docs/protocol.md, versioning).
 *
 * Dumpers return a NUL-terminated compact JSON string with keys in sorted
 * order, owned by the caller (free()), or NULL on allocation failure.
 */
#ifndef MINECAST_CODEC_H
#define MINECAST_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minecast/error.h"
#include "minecast/messages.h"
#include "minecast/model.h"

/*
 * Parse a campaign (expect MC_DOC_CAMPAIGN) or a manifest (MC_DOC_MANIFEST)
 * and resolve its references.  *out is allocated; free with
 * mc_manifest_free().
 */
enum mc_err mc_manifest_parse(const char *buf, size_t len,
                              enum mc_doc_kind expect, struct mc_manifest **out,
                              struct mc_error *err);

/* Read path (at most MC_MAX_MANIFEST_BYTES) and parse it. */
enum mc_err mc_manifest_load(const char *path, enum mc_doc_kind expect,
                             struct mc_manifest **out, struct mc_error *err);

char *mc_manifest_dump(const struct mc_manifest *m);

enum mc_err mc_pointer_parse(const char *buf, size_t len,
                             struct mc_pointer *out, struct mc_error *err);
char *mc_pointer_dump(const struct mc_pointer *p);
void mc_pointer_clear(struct mc_pointer *p);

enum mc_err mc_alert_parse(const char *buf, size_t len, struct mc_alert *out,
                           struct mc_error *err);
char *mc_alert_dump(const struct mc_alert *a);
void mc_alert_clear(struct mc_alert *a);

enum mc_err mc_alert_ack_parse(const char *buf, size_t len,
                               struct mc_alert_ack *out, struct mc_error *err);
char *mc_alert_ack_dump(const struct mc_alert_ack *a);
void mc_alert_ack_clear(struct mc_alert_ack *a);

enum mc_err mc_state_parse(const char *buf, size_t len, struct mc_state *out,
                           struct mc_error *err);
char *mc_state_dump(const struct mc_state *s);
void mc_state_clear(struct mc_state *s);

enum mc_err mc_health_parse(const char *buf, size_t len, struct mc_health *out,
                            struct mc_error *err);
char *mc_health_dump(const struct mc_health *h);
void mc_health_clear(struct mc_health *h);

enum mc_err mc_pop_batch_parse(const char *buf, size_t len,
                               struct mc_pop_batch *out, struct mc_error *err);
char *mc_pop_batch_dump(const struct mc_pop_batch *b);
void mc_pop_batch_clear(struct mc_pop_batch *b);

enum mc_err mc_pop_ack_parse(const char *buf, size_t len,
                             struct mc_pop_ack *out, struct mc_error *err);
char *mc_pop_ack_dump(const struct mc_pop_ack *a);
void mc_pop_ack_clear(struct mc_pop_ack *a);

enum mc_err mc_command_parse(const char *buf, size_t len,
                             struct mc_command *out, struct mc_error *err);
char *mc_command_dump(const struct mc_command *c);
void mc_command_clear(struct mc_command *c);

enum mc_err mc_command_result_parse(const char *buf, size_t len,
                                    struct mc_command_result *out,
                                    struct mc_error *err);
char *mc_command_result_dump(const struct mc_command_result *r);
void mc_command_result_clear(struct mc_command_result *r);

/*
 * "YYYY-MM-DDTHH:MM:SS[.fff...](Z|+HH:MM|-HH:MM)" to milliseconds since the
 * epoch (digits past milliseconds are dropped).  Returns false when the
 * text is not RFC 3339 with an offset, or lies before 1970.
 */
bool mc_rfc3339_parse(const char *s, int64_t *out);

const char *mc_alert_level_name(enum mc_alert_level level);
int mc_alert_level_parse(const char *s);
const char *mc_command_action_name(enum mc_command_action action);
int mc_command_action_parse(const char *s);

#endif
