/*
 * The content library: slogans (text + style), images, audio, and speech
 * bulletins generated from Vietnamese text.
 *
 *   POST /v1/content            JSON: slogan, or speech {"generate": true}
 *   POST /v1/content/upload?id=&type=image|audio&name=   raw body (spooled)
 *   GET  /v1/content, /v1/content/{id}, PUT /v1/content/{id}, DELETE
 *   GET  /v1/content/{id}/preview.png   rendered by minecast-player render
 *
 * Uploads are decoded and probed (media.h) before anything is stored;
 * a refused file leaves nothing behind.  Every edit goes through
 * workflow.h.
 */
#ifndef MCC_CONTENT_H
#define MCC_CONTENT_H

#include "route.h"

extern const struct mcc_route mcc_content_routes[];

#endif
