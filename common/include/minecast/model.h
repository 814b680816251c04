/*
 * minecast — the content and schedule model shared by controller and player.
 *
 * A campaign file (a .json file in playlists/, authored) and a manifest
 * (compiled by the controller for one node, content-addressed) have the same
 * shape: the content library, playlists of content, schedule entries that put
 * playlists on a channel at times given as RFC 5545 events, and a fallback
 * per channel.  They differ only in how assets are referenced: a campaign
 * names a file beside it (`src`), a manifest names a sha256, a size and a
 * URL.  docs/schedule.md gives the meaning of every field; codec.h reads
 * and writes them.
 *
 * Every string in these structs is owned by the struct mc_manifest that
 * holds it and is freed by mc_manifest_free().  Cross references (an item's
 * content, an entry's playlist) are resolved once at parse time into
 * borrowed pointers into the same manifest.
 */
#ifndef MINECAST_MODEL_H
#define MINECAST_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mc_content_type {
	MC_CONTENT_SLOGAN = 0, /* styled text drawn on a screen */
	MC_CONTENT_IMAGE,      /* a pano or photo: PNG, JPEG, WebP */
	MC_CONTENT_AUDIO,      /* an audio bulletin file */
	MC_CONTENT_SPEECH      /* text spoken by the node's own voice */
};

enum mc_channel { MC_CH_SCREEN = 0, MC_CH_SPEAKER, MC_CH_COUNT };

enum mc_layer {
	MC_LAYER_FILL = 0, /* shares the channel with entries of its priority */
	MC_LAYER_INTERRUPT /* takes the channel over every fill entry */
};

enum mc_mode {
	MC_MODE_LOOP = 0, /* cycle the playlist through the whole window */
	MC_MODE_ONCE      /* play the playlist once from the instant */
};

enum mc_transition { MC_TRANSITION_CUT = 0, MC_TRANSITION_CROSSFADE };

enum mc_fit {
	MC_FIT_CONTAIN = 0, /* whole image visible, letterboxed ("fit") */
	MC_FIT_COVER,       /* fills the screen, cropped ("fill") */
	MC_FIT_STRETCH      /* fills the screen, aspect not kept */
};

enum mc_align { MC_ALIGN_CENTER = 0, MC_ALIGN_LEFT, MC_ALIGN_RIGHT };

enum mc_effect {
	MC_EFFECT_NONE = 0,
	MC_EFFECT_OUTLINE, /* dark outline around glyphs, for pano backgrounds
	                    */
	MC_EFFECT_SHADOW
};

/* How a slogan is drawn. */
struct mc_style {
	char *font;          /* font family or file; NULL = Noto Sans */
	uint32_t fg;         /* text colour, 0xRRGGBB */
	uint32_t bg;         /* background colour, 0xRRGGBB */
	char *bg_image;      /* id of an image content drawn behind, or NULL */
	enum mc_align align; /* horizontal alignment of wrapped lines */
	enum mc_effect effect; /* legibility effect on busy backgrounds */
	bool ticker; /* scrolled along the bottom instead of a slide */
};

/* A file a content item needs on the node. */
struct mc_asset {
	char *src;       /* campaign only: path relative to the campaign file */
	char sha256[65]; /* lower-case hex; empty in a campaign before import */
	int64_t size;    /* bytes; 0 if unknown (campaign) */
	char *url;       /* manifest only: where to fetch it, or NULL */
	char *mime;      /* "image/png", "audio/ogg", ...; NULL if unknown */
};

/* One thing that can be shown or played. */
struct mc_content {
	char *id;   /* unique within the document */
	char *name; /* human name, for consoles and reports */
	enum mc_content_type type;
	char *text;            /* slogan or speech text, audio transcript;
	                        * may hold {years} {since} {date}; NULL
	                        * for images */
	struct mc_style style; /* slogans only */
	bool has_asset;        /* image and audio: true */
	struct mc_asset asset; /* valid when has_asset */
	enum mc_fit fit;       /* images only */
	int64_t duration_ms;   /* audio/speech: natural length; else 0 */
	double gain_db;        /* audio: loudness normalisation gain */
};

/* One step of a playlist. */
struct mc_item {
	char *content_id;                 /* id in the same document */
	const struct mc_content *content; /* resolved; borrowed */
	int64_t duration_ms;              /* on-screen time; for audio and
	                                   * speech the content's length */
	enum mc_transition transition;    /* into this item */
	int volume;                       /* percent 0..100, -1 = channel's */
};

struct mc_playlist {
	char *id;
	char *name;
	struct mc_item *items;
	size_t n_items;
};

/* Who an entry is for.  All three empty means every node. */
struct mc_targets {
	char **sites;
	size_t n_sites;
	char **tags;
	size_t n_tags;
	char **nodes;
	size_t n_nodes;
};

/*
 * A schedule entry: a playlist on a channel at the times of an RFC 5545
 * event.  Date-times are kept as written ("20231112T060000" or with a
 * trailing Z); sched.h compiles them with libical.  An entry with no
 * dtstart is standing: it is on at all times, clock or no clock.
 */
struct mc_entry {
	char *id;
	char *name;
	char *playlist_id;
	const struct mc_playlist *playlist; /* resolved; borrowed */
	enum mc_channel channel;
	int priority; /* 0..100, higher wins */
	enum mc_layer layer;
	enum mc_mode mode;
	char *dtstart;  /* NULL = standing */
	char *dtend;    /* NULL, or end of the first occurrence */
	char *duration; /* NULL, or an RFC 5545 duration "PT8H" */
	char *tzid;     /* NULL = the document's timezone */
	char *rrule;    /* NULL, or "FREQ=YEARLY;BYMONTH=11;..." */
	char **rdates;  /* extra occurrence starts */
	size_t n_rdates;
	char **exdates; /* excluded occurrence starts */
	size_t n_exdates;
	int founded; /* founding year for {years}; 0 = none */
	struct mc_targets targets;
};

enum mc_doc_kind {
	MC_DOC_CAMPAIGN = 0, /* "format": "minecast-campaign/1" */
	MC_DOC_MANIFEST      /* "format": "minecast-manifest/1" */
};

struct mc_manifest {
	enum mc_doc_kind kind;
	char *name;           /* campaign or manifest title */
	char *timezone;       /* default zone; "Asia/Ho_Chi_Minh" */
	char *node;           /* manifest: the node compiled for */
	int64_t generated_ms; /* manifest: compile time; 0 if absent */
	struct mc_content *content;
	size_t n_content;
	struct mc_playlist *playlists;
	size_t n_playlists;
	struct mc_entry *entries;
	size_t n_entries;
	char *fallback_id[MC_CH_COUNT];                 /* NULL = none */
	const struct mc_content *fallback[MC_CH_COUNT]; /* resolved */
};

/* The node a timeline is computed for. */
struct mc_who {
	const char *node;        /* NULL matches no node target */
	const char *site;        /* NULL matches no site target */
	const char *const *tags; /* may be NULL when n_tags is 0 */
	size_t n_tags;
};

/* Free a manifest and everything it owns.  NULL is allowed. */
void mc_manifest_free(struct mc_manifest *m);

/* Look up by id; NULL if absent.  Linear; documents are small. */
const struct mc_content *mc_manifest_content(const struct mc_manifest *m,
                                             const char *id);
const struct mc_playlist *mc_manifest_playlist(const struct mc_manifest *m,
                                               const char *id);

/* True if the entry's targets select this node (empty targets: all). */
bool mc_targets_match(const struct mc_targets *t, const struct mc_who *who);

/* Names used in JSON and logs: "screen", "speaker", "fill", "loop", ... */
const char *mc_channel_name(enum mc_channel ch);
const char *mc_content_type_name(enum mc_content_type type);
const char *mc_layer_name(enum mc_layer layer);
const char *mc_mode_name(enum mc_mode mode);
const char *mc_transition_name(enum mc_transition tr);
const char *mc_fit_name(enum mc_fit fit);

/* Parse the same names; return -1 when unknown. */
int mc_channel_parse(const char *s);
int mc_content_type_parse(const char *s);
int mc_layer_parse(const char *s);
int mc_mode_parse(const char *s);
int mc_transition_parse(const char *s);
int mc_fit_parse(const char *s);

#endif
