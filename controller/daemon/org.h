/*
 * The organisation: group → company → site → node, plus free tags on
 * nodes.  Targets in the controller (entries, alerts) may name groups and
 * companies besides sites, tags and nodes:
 *   {"groups":[], "companies":[], "sites":[], "tags":[], "nodes":[]}
 * all empty = every node; otherwise a node is selected when any list
 * names it, its site, its site's company, that company's group, or one of
 * its tags.  On the wire (alerts) groups and companies are expanded to
 * sites, since nodes know only their site and tags.
 */
#ifndef MCC_ORG_H
#define MCC_ORG_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <sqlite3.h>

#include "minecast/error.h"
#include "minecast/model.h"

#include "route.h"

struct mcc;

/* Where a node sits.  Strings are owned; clear with mcc_place_clear(). */
struct mcc_place {
	char *node; /* NULL for a site-wide question */
	char *site;
	char *company; /* NULL when the site has none */
	char *group;   /* NULL when the company has none */
	char **tags;
	size_t n_tags;
};

enum mc_err mcc_org_node_place(sqlite3 *db, const char *node,
                               struct mcc_place *out, struct mc_error *err);
enum mc_err mcc_org_site_place(sqlite3 *db, const char *site,
                               struct mcc_place *out, struct mc_error *err);
void mcc_place_clear(struct mcc_place *p);

/*
 * Check a targets object (NULL = every node): known keys only, arrays of
 * ids, at most 1000 each, and every group/company/site/node named exists
 * (tags are free).  err names the field: "targets.sites[1]: no site
 * 'cua-lo'".
 */
enum mc_err mcc_targets_validate(sqlite3 *db, const json_t *targets,
                                 struct mc_error *err);

/* Does targets (NULL = all) select the place? */
bool mcc_targets_select(const json_t *targets, const struct mcc_place *p);

/* The wire form: groups and companies expanded to their sites. */
enum mc_err mcc_targets_expand(sqlite3 *db, const json_t *targets,
                               struct mc_targets *out, struct mc_error *err);

/* Ids of every node targets selects (sorted), for delivery tracking.
 * *ids is a malloc'd array of malloc'd strings. */
enum mc_err mcc_targets_nodes(sqlite3 *db, const json_t *targets, char ***ids,
                              size_t *n, struct mc_error *err);

/* Routes: /v1/groups, /v1/companies, /v1/sites, /v1/nodes (CRUD). */
extern const struct mcc_route mcc_org_routes[];

#endif
