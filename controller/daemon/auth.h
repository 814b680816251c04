/*
 * People, roles and credentials.
 *
 * Roles are bits; a user holds any set of them.  admin passes every role
 * check.  Passwords are hashed with argon2id (crypto_pwhash_str, libsodium
 * "interactive" limits).  Browsers log in for a session cookie
 * (mc_session, HttpOnly, SameSite=Strict) plus a CSRF token that every
 * mutation must echo in X-CSRF-Token; minecastctl uses API tokens
 * (Authorization: Bearer mc_<random>), stored as their SHA-256.  Nodes
 * authenticate with HTTP basic auth: node id and their MQTT password,
 * stored as its SHA-256 (the password is 32 random bytes, not a word).
 */
#ifndef MCC_AUTH_H
#define MCC_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "minecast/error.h"

#include "route.h"

struct mcc;

#define MCC_ROLE_EDITOR     0x01u
#define MCC_ROLE_APPROVER   0x02u
#define MCC_ROLE_TECHNICIAN 0x04u
#define MCC_ROLE_ADMIN      0x08u
#define MCC_ROLE_NODE       0x10u /* a player node with basic auth */
#define MCC_ROLE_ANY_USER   0x0fu /* any signed-in person */

struct mcc_principal {
	int64_t user_id; /* users.id; 0 = not a person */
	char name[65];   /* user name, or node id for a node */
	unsigned roles;  /* MCC_ROLE_* bits; 0 = anonymous */
	bool via_cookie; /* a browser session: mutations need CSRF */
	char csrf[65];   /* the session's CSRF token (via_cookie) */
};

/* Role bits from "editor,approver" (names: editor, approver, technician,
 * admin); -1 on an unknown name. */
long mcc_roles_parse(const char *list);
/* "editor,approver" into buf. */
void mcc_roles_format(unsigned roles, char *buf, size_t len);

/*
 * Who is calling: Bearer token, else session cookie, else basic auth of
 * a node.  Anonymous (roles 0) when none is given; MC_ERR_AUTH when
 * credentials are given but wrong or expired (the caller answers 401).
 */
enum mc_err mcc_auth_identify(struct mcc *c, const char *authorization,
                              const char *cookie, struct mcc_principal *who);

/* Create a user; MC_ERR_EXISTS if the name is taken.  Audited by caller. */
enum mc_err mcc_user_create(struct mcc *c, const char *name,
                            const char *password, unsigned roles, int64_t *id,
                            struct mc_error *err);

/*
 * Create an API token for user_id named name: "mc_" + base64url of 32
 * random bytes, written into out (at least MCC_TOKEN_SIZE bytes); only
 * its SHA-256 is stored.  No transaction of its own; audited by caller.
 */
#define MCC_TOKEN_SIZE 64
enum mc_err mcc_token_create(struct mcc *c, int64_t user_id, const char *name,
                             int64_t expires_ms, char out[MCC_TOKEN_SIZE],
                             int64_t *id, struct mc_error *err);

/* users.id of name; 0 when there is no such user. */
int64_t mcc_user_id(struct mcc *c, const char *name);

/* Number of users (first run: 0). */
int64_t mcc_user_count(struct mcc *c);

/* Routes: /v1/auth/login, /v1/auth/logout, /v1/auth/me, /v1/users,
 * /v1/tokens (routes.c). */
extern const struct mcc_route mcc_auth_routes[];

#endif
