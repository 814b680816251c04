/* minecast — model lifetime, look-ups, targeting and enum names. */
#include <stdlib.h>
#include <string.h>

#include "minecast/model.h"
#include "minecast/util.h"

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void content_free(struct mc_content *c)
{
	free(c->id);
	free(c->name);
	free(c->text);
	free(c->style.font);
	free(c->style.bg_image);
	free(c->asset.src);
	free(c->asset.url);
	free(c->asset.mime);
}

static void entry_free(struct mc_entry *e)
{
	free(e->id);
	free(e->name);
	free(e->playlist_id);
	free(e->dtstart);
	free(e->dtend);
	free(e->duration);
	free(e->tzid);
	free(e->rrule);
	free_strv(e->rdates, e->n_rdates);
	free_strv(e->exdates, e->n_exdates);
	free_strv(e->targets.sites, e->targets.n_sites);
	free_strv(e->targets.tags, e->targets.n_tags);
	free_strv(e->targets.nodes, e->targets.n_nodes);
}

void mc_manifest_free(struct mc_manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_content; i++)
		content_free(&m->content[i]);
	free(m->content);
	for (size_t i = 0; i < m->n_playlists; i++) {
		struct mc_playlist *p = &m->playlists[i];

		for (size_t k = 0; k < p->n_items; k++)
			free(p->items[k].content_id);
		free(p->items);
		free(p->id);
		free(p->name);
	}
	free(m->playlists);
	for (size_t i = 0; i < m->n_entries; i++)
		entry_free(&m->entries[i]);
	free(m->entries);
	for (int ch = 0; ch < MC_CH_COUNT; ch++)
		free(m->fallback_id[ch]);
	free(m->name);
	free(m->timezone);
	free(m->node);
	free(m);
}

const struct mc_content *mc_manifest_content(const struct mc_manifest *m,
                                             const char *id)
{
	for (size_t i = 0; id && i < m->n_content; i++)
		if (strcmp(m->content[i].id, id) == 0)
			return &m->content[i];
	return NULL;
}

const struct mc_playlist *mc_manifest_playlist(const struct mc_manifest *m,
                                               const char *id)
{
	for (size_t i = 0; id && i < m->n_playlists; i++)
		if (strcmp(m->playlists[i].id, id) == 0)
			return &m->playlists[i];
	return NULL;
}

static bool strv_has(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

bool mc_targets_match(const struct mc_targets *t, const struct mc_who *who)
{
	if (t->n_sites == 0 && t->n_tags == 0 && t->n_nodes == 0)
		return true;
	if (strv_has(t->nodes, t->n_nodes, who->node))
		return true;
	if (strv_has(t->sites, t->n_sites, who->site))
		return true;
	for (size_t i = 0; i < who->n_tags; i++)
		if (strv_has(t->tags, t->n_tags, who->tags[i]))
			return true;
	return false;
}

/* Name tables, indexed by the enum value. */
static const char *const channel_names[] = {"screen", "speaker"};
static const char *const type_names[] = {"slogan", "image", "audio", "speech"};
static const char *const layer_names[] = {"fill", "interrupt"};
static const char *const mode_names[] = {"loop", "once"};
static const char *const transition_names[] = {"cut", "crossfade"};
static const char *const fit_names[] = {"contain", "cover", "stretch"};

static int name_parse(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

#define NAME_FUNCS(kind, enumtype, table)                                      \
	const char *mc_##kind##_name(enum enumtype v)                          \
	{                                                                      \
		return (size_t)v < MC_ARRAY_LEN(table) ? table[v] : "?";       \
	}                                                                      \
	int mc_##kind##_parse(const char *s)                                   \
	{                                                                      \
		return name_parse(table, MC_ARRAY_LEN(table), s);              \
	}

NAME_FUNCS(channel, mc_channel, channel_names)
NAME_FUNCS(content_type, mc_content_type, type_names)
NAME_FUNCS(layer, mc_layer, layer_names)
NAME_FUNCS(mode, mc_mode, mode_names)
NAME_FUNCS(transition, mc_transition, transition_names)
NAME_FUNCS(fit, mc_fit, fit_names)
