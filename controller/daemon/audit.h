/*
 * The append-only audit log: who, when, what, before and after.
 *
 * The audit table refuses UPDATE and DELETE by trigger.  A mutation writes
 * its audit row inside its own transaction, so that a change without its
 * record (or a record without its change) cannot exist.
 */
#ifndef MCC_AUDIT_H
#define MCC_AUDIT_H

#include <sqlite3.h>

#include <jansson.h>

#include "minecast/error.h"

#include "auth.h"

#include "route.h"

/*
 * Append a row: action ("content.create", "entry.approve", ...), kind and
 * id of the object, before and after as JSON (either may be NULL; not
 * stolen).  Call inside the mutation's transaction.
 */
enum mc_err mcc_audit(sqlite3 *db, const struct mcc_principal *who,
                      const char *action, const char *kind,
                      const char *object_id, json_t *before, json_t *after);

/* Route: GET /v1/audit?kind=&id=&user=&since=&limit= (admin, approver). */
extern const struct mcc_route mcc_audit_routes[];

#endif
