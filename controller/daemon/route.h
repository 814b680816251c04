/*
 * A route: method and path pattern, who may call it, the body limit and
 * the handler.  Every module's header declares its NULL-terminated table
 * (routes.c lists them); http.h says how requests are handled.
 */
#ifndef MCC_ROUTE_H
#define MCC_ROUTE_H

#include <stddef.h>

struct mcc_req;
struct mcc_resp;

typedef void (*mcc_handler)(struct mcc_req *rq, struct mcc_resp *rs);

/* Route flags. */
#define MCC_SPOOL 1u /* body goes to a temp file (uploads) */
#define MCC_NO_CSRF                                                            \
	2u /* a mutation a browser may make without the header (login) */

#define MCC_HEX64                                                              \
	4u /* the route matches only when every {} is 64 lower-case hex        \
	      digits, so /v1/content/<sha256> (blob.c) and                     \
	      /v1/content/<id> (content.c) live side by side */

struct mcc_route {
	const char *method; /* "GET", "POST", "PUT", "PATCH", "DELETE"; NULL
	                       ends a table */
	const char
	        *pattern; /* "/v1/content/{}/approve": {} matches one segment */
	unsigned roles;  /* MCC_ROLE_* bits allowed; admin always; 0 = public */
	size_t max_body; /* bytes; 0 = 1 MiB; spooled routes: 0 =
	                    cfg.max_upload_bytes */
	unsigned flags;  /* MCC_SPOOL, MCC_NO_CSRF, MCC_HEX64 */
	mcc_handler fn;
};

#endif
