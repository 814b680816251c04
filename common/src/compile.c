/* minecast — compiling a campaign into a node's manifest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "minecast/compile.h"
#include "minecast/sign.h"
#include "minecast/text.h"
#include "minecast/util.h"

/* Extensions of the formats the players decode. */
static const struct {
	const char *ext;
	const char *mime;
} mimes[] = {
        {".png", "image/png"},   {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"}, {".webp", "image/webp"},
        {".wav", "audio/wav"},   {".flac", "audio/flac"},
        {".ogg", "audio/ogg"},   {".oga", "audio/ogg"},
        {".opus", "audio/ogg"},  {".mp3", "audio/mpeg"},
};

const char *mc_mime_of(const char *name)
{
	const char *dot = name ? strrchr(name, '.') : NULL;

	for (size_t i = 0; dot && i < MC_ARRAY_LEN(mimes); i++)
		if (strcasecmp(dot, mimes[i].ext) == 0)
			return mimes[i].mime;
	return NULL;
}

enum mc_err mc_campaign_compile(struct mc_manifest *m, const char *base_dir,
                                const char *node, struct mc_error *err)
{
	if (!mc_id_valid(node))
		return mc_error_set(err, MC_ERR_INVAL,
		                    "node: '%.64s' is not a node id", node);
	for (size_t i = 0; i < m->n_content; i++) {
		struct mc_content *c = &m->content[i];
		char *path;
		enum mc_err rc;

		if (!c->has_asset || !c->asset.src)
			continue;
		path = mc_printf("%s/%s", base_dir, c->asset.src);
		if (!path)
			return mc_error_set(err, MC_ERR_NOMEM, "out of memory");
		rc = mc_sha256_file(path, c->asset.sha256, &c->asset.size, err);
		if (rc != MC_OK) {
			char msg[MC_ERROR_MSG_MAX];

			snprintf(msg, sizeof(msg), "%s", err ? err->msg : "");
			free(path);
			return mc_error_set(err, rc, "content %s: %s", c->id,
			                    msg);
		}
		free(c->asset.url);
		c->asset.url = mc_printf("/v1/content/%s", c->asset.sha256);
		if (!c->asset.mime && mc_mime_of(path))
			c->asset.mime = strdup(mc_mime_of(path));
		free(path);
		MC_FREE(c->asset.src);
		if (!c->asset.url)
			return mc_error_set(err, MC_ERR_NOMEM, "out of memory");
	}
	free(m->node);
	m->node = strdup(node);
	if (!m->node)
		return mc_error_set(err, MC_ERR_NOMEM, "out of memory");
	m->kind = MC_DOC_MANIFEST;
	return MC_OK;
}
