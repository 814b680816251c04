/*
 * minecast — turning a campaign into a node's manifest.
 *
 * A campaign names its files by path (`src`); a manifest names them by
 * content (sha256, size, URL) so that nodes fetch and verify them.  The
 * controller compiles per node after resolving targets through its
 * hierarchy; `minecastctl compile` does the same offline for one node.
 */
#ifndef MINECAST_COMPILE_H
#define MINECAST_COMPILE_H

#include "minecast/error.h"
#include "minecast/model.h"

/*
 * Turn campaign m into a manifest for node, in place: every asset's
 * file (base_dir/src) is hashed and measured, and gets the URL
 * "/v1/content/<sha256>" and a MIME type from its extension; `src` is
 * dropped; kind becomes MC_DOC_MANIFEST and node is set.  Entries and
 * their targets are kept (a node filters by targets itself).  On failure
 * err names the content and the file, and m is left half-converted: the
 * caller frees it.
 */
enum mc_err mc_campaign_compile(struct mc_manifest *m, const char *base_dir,
                                const char *node, struct mc_error *err);

/* MIME type of a file name by its extension; NULL if unknown. */
const char *mc_mime_of(const char *name);

#endif
