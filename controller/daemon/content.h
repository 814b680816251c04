/*
 * The content library: slogans (text + style), images, audio, and speech
 * bulletins generated from Vietnamese text.
 *
 *   POST /v1/content            JSON: slogan, speech, or audio with
 *                               {"generate": true, "text": ...}
 *   POST /v1/content/upload?id=&type=image|audio&name=&fit=&replace=1
 *                               the file as the body (spooled)
 *   POST /v1/blobs?type=image|audio   a checked file into the blob store
 *                               (campaign import)
 *   GET  /v1/content?type=&status=&q=&limit=&offset=
 *   GET  /v1/content/{id}, PUT /v1/content/{id}, DELETE /v1/content/{id}
 *   GET  /v1/content/{id}/preview.png?size=WxH   drawn by
 *                               `minecast-player render` (cfg.render_cmd)
 *
 * Uploads are decoded and probed (media.h) before anything is stored; a
 * refused file leaves nothing behind.  Items are checked by the manifest
 * codec and stored in manifest form; every edit goes through workflow.h.
 * docs/api.md documents every endpoint.
 */
#ifndef MCC_CONTENT_H
#define MCC_CONTENT_H

#include <jansson.h>
#include <sqlite3.h>

#include "minecast/error.h"

#include "route.h"

/*
 * Every item of content (documents with "id" and "sha256", just saved in
 * the caller's transaction) gets the meta its blob was measured with at
 * upload (POST /v1/blobs), as a direct upload would have; items whose
 * blob has none keep theirs.  MC_ERR_IO on a database error.
 */
enum mc_err mcc_content_meta_from_blobs(sqlite3 *db, json_t *content);

/* GET /v1/content/{sha256} (64 lower-case hex) is the blob store's
 * (blob.h); content ids that look like one are refused. */
extern const struct mcc_route mcc_content_routes[];

#endif
