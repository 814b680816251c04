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
	char **tags;   /* sorted, distinct */
	size_t n_tags;
};

/*
 * Where node sits: its site, company, group and tags.  MC_ERR_NOTFOUND
 * (message "node: ...") when there is no such node, MC_ERR_IO on a
 * database error.  out is filled only on success; clear it with
 * mcc_place_clear().
 */
enum mc_err mcc_org_node_place(sqlite3 *db, const char *node,
                               struct mcc_place *out, struct mc_error *err);
/* The same for a site (node NULL, no tags). */
enum mc_err mcc_org_site_place(sqlite3 *db, const char *site,
                               struct mcc_place *out, struct mc_error *err);
void mcc_place_clear(struct mcc_place *p);

/*
 * Every node's place, sorted by node id, in two queries (publishing
 * compiles for the whole fleet at once).  *out is a malloc'd array of *n
 * places (NULL when there is no node); free it with mcc_places_free().
 */
enum mc_err mcc_org_all_places(sqlite3 *db, struct mcc_place **out, size_t *n,
                               struct mc_error *err);
void mcc_places_free(struct mcc_place *places, size_t n);

/* Most ids one targets list may hold. */
#define MCC_TARGETS_MAX 1000

/*
 * Check a targets object (NULL or JSON null = every node): known keys
 * only, arrays of ids, at most MCC_TARGETS_MAX each, and every group/
 * company/site/node named exists (tags are free).  err names the field:
 * "targets.sites[1]: không có công trường 'cua-lo' / no site 'cua-lo'"
 * (MC_ERR_TYPE, MC_ERR_RANGE, MC_ERR_REF; MC_ERR_IO on a database error).
 */
enum mc_err mcc_targets_validate(sqlite3 *db, const json_t *targets,
                                 struct mc_error *err);

/*
 * Does targets (NULL = all) select the place?  Lists that are missing or
 * not arrays count as empty; all empty selects everything.  Pure: no
 * database, safe to call for every node of a publish.
 */
bool mcc_targets_select(const json_t *targets, const struct mcc_place *p);

/*
 * The wire form: groups and companies expanded to their sites (sorted,
 * distinct, merged with the sites named), tags and nodes copied.  out is
 * zeroed first; free it with mcc_targets_clear().  Targets that name
 * something, but whose groups and companies hold no site and that name
 * no site, tag or node, would become the empty targets of the whole
 * fleet: that is refused with MC_ERR_RANGE ("targets: ...").
 */
enum mc_err mcc_targets_expand(sqlite3 *db, const json_t *targets,
                               struct mc_targets *out, struct mc_error *err);
void mcc_targets_clear(struct mc_targets *t);

/* Ids of every node targets selects (sorted), for delivery tracking.
 * *ids is a malloc'd array of malloc'd strings (NULL when none); free
 * with mcc_ids_free(). */
enum mc_err mcc_targets_nodes(sqlite3 *db, const json_t *targets, char ***ids,
                              size_t *n, struct mc_error *err);
void mcc_ids_free(char **ids, size_t n);

/* Routes: /v1/groups, /v1/companies, /v1/sites, /v1/nodes (CRUD). */
extern const struct mcc_route mcc_org_routes[];

#endif
