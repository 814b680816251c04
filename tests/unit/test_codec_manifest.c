/*
 * Campaign and manifest codec (codec.h): parsing the documented format,
 * defaults, resolved references, round trips, and every rejection with
 * its error code and the field its message names.
 *
 * Rejections are table-driven: each case takes a valid fixture, changes
 * or deletes one field by a dotted path ("entries.0.priority"), and says
 * which code and which field path the error must carry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "mc_test.h"
#include "minecast/codec.h"
#include "minecast/model.h"

/* A campaign with every field the format has, in Vietnamese. */
static const char campaign[] =
        "{\"format\":\"minecast-campaign/1\","
        "\"name\":\"Tuyên truyền tháng 11/2023\","
        "\"timezone\":\"Asia/Ho_Chi_Minh\","
        "\"content\":["
        "{\"id\":\"slogan-87-nam\",\"type\":\"slogan\",\"name\":\"Kỷ niệm 87 "
        "năm\","
        "\"text\":\"Kỷ niệm {years} năm Ngày Truyền thống công nhân Vùng mỏ "
        "({since}–2023)\","
        "\"style\":{\"font\":\"Noto "
        "Sans\",\"fg\":\"#FFD700\",\"bg\":\"#b71c1c\","
        "\"align\":\"center\",\"effect\":\"outline\",\"bg_image\":\"pano-vung-"
        "mo\","
        "\"ticker\":false}},"
        "{\"id\":\"pano-vung-mo\",\"type\":\"image\",\"name\":\"Pano Vùng mỏ\","
        "\"fit\":\"cover\",\"src\":\"assets/pano-vung-mo.png\"},"
        "{\"id\":\"ban-tin-0600\",\"type\":\"audio\",\"name\":\"Bản tin 6 "
        "giờ\","
        "\"src\":\"assets/ban-tin-0600.ogg\",\"text\":\"Bản tin giao ca sáng\","
        "\"duration_ms\":42000,\"gain_db\":-2.5},"
        "{\"id\":\"loa-canh-bao\",\"type\":\"speech\","
        "\"text\":\"Chú ý: giữ kỷ luật an toàn\",\"duration_ms\":8000},"
        "{\"id\":\"slogan-ky-luat\",\"type\":\"slogan\","
        "\"text\":\"Kỷ luật và Đồng tâm - Chúng ta nhất định thắng!\"}],"
        "\"playlists\":["
        "{\"id\":\"pl-12-11\",\"name\":\"Ngày 12/11\",\"items\":["
        "{\"content\":\"slogan-87-nam\",\"duration_s\":20,"
        "\"transition\":\"crossfade\",\"volume\":80},"
        "{\"content\":\"pano-vung-mo\"}]},"
        "{\"id\":\"pl-loa\",\"items\":[{\"content\":\"ban-tin-0600\","
        "\"duration_s\":5},"
        "{\"content\":\"loa-canh-bao\",\"volume\":90}]},"
        "{\"id\":\"pl-standing\",\"items\":[{\"content\":\"slogan-ky-luat\","
        "\"duration_s\":15}]}],"
        "\"entries\":["
        "{\"id\":\"e-12-11\",\"name\":\"Kỷ niệm "
        "12/11\",\"playlist\":\"pl-12-11\","
        "\"channel\":\"screen\",\"priority\":60,\"layer\":\"interrupt\","
        "\"mode\":\"loop\",\"dtstart\":\"20231112T000000\",\"duration\":"
        "\"P1D\","
        "\"tzid\":\"Asia/Ho_Chi_Minh\","
        "\"rrule\":\"FREQ=YEARLY;BYMONTH=11;BYMONTHDAY=12\",\"rdate\":[],"
        "\"exdate\":[\"20241112T000000\"],\"founded\":1936,"
        "\"targets\":{\"sites\":[\"cua-lo\"],\"tags\":[\"nha-an\"],\"nodes\":[]"
        "}},"
        "{\"id\":\"e-loa-0600\",\"playlist\":\"pl-loa\",\"channel\":"
        "\"speaker\","
        "\"mode\":\"once\",\"dtstart\":\"20231101T060000\",\"rrule\":\"FREQ="
        "DAILY\"},"
        "{\"id\":\"e-standing\",\"playlist\":\"pl-standing\",\"channel\":"
        "\"screen\","
        "\"priority\":10,\"layer\":\"fill\"}],"
        "\"fallback\":{\"screen\":\"slogan-ky-luat\",\"speaker\":null}}";

#define SHA_A "3f2a9c0d1e4b5a6978877665544332211009f8e7d6c5b4a39281706f5e4d3c2b"
#define SHA_B "0000000000000000000000000000000000000000000000000000000000abcdef"

/* The compiled form for one node. */
static const char manifest[] =
        "{\"format\":\"minecast-manifest/1\",\"name\":\"Tháng 11/2023 — Cửa "
        "Lò\","
        "\"node\":\"pi-cua-lo-01\",\"generated\":\"2023-11-01T07:00:00.250+07:"
        "00\","
        "\"content\":["
        "{\"id\":\"pano-vung-mo\",\"type\":\"image\",\"sha256\":\"" SHA_A "\","
        "\"size\":123456,\"url\":\"/v1/content/" SHA_A
        "\",\"mime\":\"image/png\"},"
        "{\"id\":\"ban-tin-0600\",\"type\":\"audio\",\"sha256\":\"" SHA_B "\","
        "\"size\":654321,\"duration_ms\":42000},"
        "{\"id\":\"slogan-ky-luat\",\"type\":\"slogan\","
        "\"text\":\"Kỷ luật và Đồng tâm\"}],"
        "\"playlists\":[{\"id\":\"pl-a\",\"items\":[{\"content\":\"pano-vung-"
        "mo\"},"
        "{\"content\":\"slogan-ky-luat\"}]},"
        "{\"id\":\"pl-b\",\"items\":[{\"content\":\"ban-tin-0600\"}]}],"
        "\"entries\":[{\"id\":\"e-a\",\"playlist\":\"pl-a\",\"channel\":"
        "\"screen\"},"
        "{\"id\":\"e-b\",\"playlist\":\"pl-b\",\"channel\":\"speaker\","
        "\"dtstart\":\"20231101\",\"dtend\":\"20231102\"}],"
        "\"fallback\":{\"screen\":\"pano-vung-mo\",\"speaker\":\"ban-tin-"
        "0600\"}}";

/* ---- helpers ---- */

static struct mc_manifest *parse_ok(const char *json, enum mc_doc_kind kind)
{
	struct mc_manifest *m = NULL;
	struct mc_error e = {0};
	enum mc_err rc = mc_manifest_parse(json, strlen(json), kind, &m, &e);

	if (rc != MC_OK)
		fail_msg("parse failed: %d %s", rc, e.msg);
	return m;
}

/* One rejection: change path to value (NULL deletes), expect code/field. */
struct reject {
	const char *path;
	const char *value;
	enum mc_err code;
	const char *field;
};

static void run_rejects(const char *base, enum mc_doc_kind kind,
                        const struct reject *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *json = mc_test_patch(base, cases[i].path, cases[i].value);
		struct mc_manifest *m = (struct mc_manifest *)1;
		struct mc_error e = {0};
		char what[200];
		enum mc_err rc;

		snprintf(what, sizeof(what), "%s = %s", cases[i].path,
		         cases[i].value ? cases[i].value : "(deleted)");
		rc = mc_manifest_parse(json, strlen(json), kind, &m, &e);
		mc_test_expect_error(rc, &e, cases[i].code, cases[i].field,
		                     what);
		assert_null(m);
		free(json);
	}
}

/* ---- parsing and defaults ---- */

static void test_campaign_fields(void **state)
{
	struct mc_manifest *m = parse_ok(campaign, MC_DOC_CAMPAIGN);
	const struct mc_content *slogan, *audio, *pano;
	const struct mc_entry *e;

	(void)state;
	assert_int_equal(m->kind, MC_DOC_CAMPAIGN);
	assert_string_equal(m->name, "Tuyên truyền tháng 11/2023");
	assert_string_equal(m->timezone, "Asia/Ho_Chi_Minh");
	assert_null(m->node);
	assert_int_equal(m->n_content, 5);
	assert_int_equal(m->n_playlists, 3);
	assert_int_equal(m->n_entries, 3);

	slogan = mc_manifest_content(m, "slogan-87-nam");
	assert_non_null(slogan);
	assert_int_equal(slogan->type, MC_CONTENT_SLOGAN);
	assert_int_equal(slogan->style.fg, 0xFFD700);
	assert_int_equal(slogan->style.bg, 0xB71C1C);
	assert_int_equal(slogan->style.effect, MC_EFFECT_OUTLINE);
	assert_string_equal(slogan->style.bg_image, "pano-vung-mo");
	assert_string_equal(slogan->style.font, "Noto Sans");
	assert_false(slogan->has_asset);

	pano = mc_manifest_content(m, "pano-vung-mo");
	assert_int_equal(pano->fit, MC_FIT_COVER);
	assert_true(pano->has_asset);
	assert_string_equal(pano->asset.src, "assets/pano-vung-mo.png");
	assert_string_equal(pano->asset.sha256, "");
	assert_null(pano->text);

	audio = mc_manifest_content(m, "ban-tin-0600");
	assert_int_equal(audio->duration_ms, 42000);
	assert_true(audio->gain_db == -2.5);
	assert_string_equal(audio->text, "Bản tin giao ca sáng");

	/* References are resolved to pointers into the same document. */
	assert_ptr_equal(m->playlists[0].items[0].content, slogan);
	assert_int_equal(m->playlists[0].items[0].duration_ms, 20000);
	assert_int_equal(m->playlists[0].items[0].transition,
	                 MC_TRANSITION_CROSSFADE);
	assert_int_equal(m->playlists[0].items[0].volume, 80);
	/* Defaults: 10 s, cut, channel volume. */
	assert_int_equal(m->playlists[0].items[1].duration_ms, 10000);
	assert_int_equal(m->playlists[0].items[1].transition,
	                 MC_TRANSITION_CUT);
	assert_int_equal(m->playlists[0].items[1].volume, -1);
	/* Sound plays for its own length, whatever duration_s says. */
	assert_int_equal(m->playlists[1].items[0].duration_ms, 42000);
	assert_int_equal(m->playlists[1].items[1].duration_ms, 8000);

	e = &m->entries[0];
	assert_ptr_equal(e->playlist, &m->playlists[0]);
	assert_int_equal(e->channel, MC_CH_SCREEN);
	assert_int_equal(e->priority, 60);
	assert_int_equal(e->layer, MC_LAYER_INTERRUPT);
	assert_string_equal(e->dtstart, "20231112T000000");
	assert_string_equal(e->duration, "P1D");
	assert_null(e->dtend);
	assert_string_equal(e->rrule, "FREQ=YEARLY;BYMONTH=11;BYMONTHDAY=12");
	assert_int_equal(e->n_rdates, 0);
	assert_int_equal(e->n_exdates, 1);
	assert_int_equal(e->founded, 1936);
	assert_int_equal(e->targets.n_sites, 1);
	assert_string_equal(e->targets.sites[0], "cua-lo");
	assert_string_equal(e->targets.tags[0], "nha-an");
	assert_int_equal(e->targets.n_nodes, 0);

	/* mode once defaults to the interrupt layer; priority to 50. */
	e = &m->entries[1];
	assert_int_equal(e->mode, MC_MODE_ONCE);
	assert_int_equal(e->layer, MC_LAYER_INTERRUPT);
	assert_int_equal(e->priority, 50);
	assert_null(e->tzid);

	e = &m->entries[2];
	assert_null(e->dtstart);
	assert_int_equal(e->layer, MC_LAYER_FILL);
	assert_int_equal(e->mode, MC_MODE_LOOP);

	assert_string_equal(m->fallback_id[MC_CH_SCREEN], "slogan-ky-luat");
	assert_ptr_equal(m->fallback[MC_CH_SCREEN],
	                 mc_manifest_content(m, "slogan-ky-luat"));
	assert_null(m->fallback_id[MC_CH_SPEAKER]);
	assert_null(m->fallback[MC_CH_SPEAKER]);
	mc_manifest_free(m);
}

static void test_manifest_fields(void **state)
{
	struct mc_manifest *m = parse_ok(manifest, MC_DOC_MANIFEST);
	const struct mc_content *pano;

	(void)state;
	assert_int_equal(m->kind, MC_DOC_MANIFEST);
	assert_string_equal(m->node, "pi-cua-lo-01");
	/* 2023-11-01T00:00:00.250Z */
	assert_int_equal(m->generated_ms, 1698796800250LL);
	/* No timezone given: the documented default. */
	assert_string_equal(m->timezone, "Asia/Ho_Chi_Minh");
	pano = mc_manifest_content(m, "pano-vung-mo");
	assert_string_equal(pano->asset.sha256, SHA_A);
	assert_int_equal(pano->asset.size, 123456);
	assert_string_equal(pano->asset.mime, "image/png");
	assert_null(pano->asset.src);
	assert_int_equal(pano->fit, MC_FIT_CONTAIN);
	assert_string_equal(m->entries[1].dtend, "20231102");
	assert_ptr_equal(m->fallback[MC_CH_SPEAKER],
	                 mc_manifest_content(m, "ban-tin-0600"));
	mc_manifest_free(m);
}

static void test_minimal_campaign_defaults(void **state)
{
	const char *json = "{\"format\":\"minecast-campaign/1\","
	                   "\"content\":[{\"id\":\"s\",\"type\":\"slogan\","
	                   "\"text\":\"Chào mừng\"}]}";
	struct mc_manifest *m = parse_ok(json, MC_DOC_CAMPAIGN);

	(void)state;
	assert_null(m->name);
	assert_int_equal(m->n_playlists, 0);
	assert_int_equal(m->n_entries, 0);
	assert_int_equal(m->content[0].style.fg, 0xFFFFFF);
	assert_int_equal(m->content[0].style.bg, 0x000000);
	assert_int_equal(m->content[0].style.align, MC_ALIGN_CENTER);
	assert_int_equal(m->content[0].style.effect, MC_EFFECT_NONE);
	assert_false(m->content[0].style.ticker);
	assert_null(m->fallback[MC_CH_SCREEN]);
	mc_manifest_free(m);
}

static void test_nfc_in_documents(void **state)
{
	/* "KỶ NIỆM" with Ệ as E + U+0323 + U+0302, in a name and a text. */
	const char *json = "{\"format\":\"minecast-campaign/1\","
	                   "\"name\":\"KI\\u1ec6M\","
	                   "\"content\":[{\"id\":\"s\",\"type\":\"slogan\","
	                   "\"text\":\"K\xe1\xbb\xb6 NI"
	                   "E\xcc\xa3\xcc\x82"
	                   "M\"}]}";
	struct mc_manifest *m = parse_ok(json, MC_DOC_CAMPAIGN);

	(void)state;
	assert_string_equal(m->content[0].text,
	                    "K\xe1\xbb\xb6 NI\xe1\xbb\x86M");
	assert_string_equal(m->name, "KI\xe1\xbb\x86M");
	mc_manifest_free(m);
}

/* ---- round trips ---- */

static void round_trip(const char *json, enum mc_doc_kind kind)
{
	struct mc_manifest *m = parse_ok(json, kind), *m2;
	char *d1 = mc_manifest_dump(m), *d2;

	assert_non_null(d1);
	m2 = parse_ok(d1, kind);
	d2 = mc_manifest_dump(m2);
	assert_non_null(d2);
	/* Sorted keys make the dump canonical: equal dumps, equal models. */
	assert_string_equal(d1, d2);
	assert_int_equal(m2->n_content, m->n_content);
	assert_int_equal(m2->n_playlists, m->n_playlists);
	assert_int_equal(m2->n_entries, m->n_entries);
	assert_int_equal(m2->generated_ms, m->generated_ms);
	for (size_t i = 0; i < m->n_playlists; i++)
		for (size_t k = 0; k < m->playlists[i].n_items; k++)
			assert_int_equal(m2->playlists[i].items[k].duration_ms,
			                 m->playlists[i].items[k].duration_ms);
	for (size_t i = 0; i < m->n_entries; i++) {
		assert_int_equal(m2->entries[i].layer, m->entries[i].layer);
		assert_int_equal(m2->entries[i].priority,
		                 m->entries[i].priority);
	}
	/* Keys come out sorted and compact. */
	assert_true(strncmp(d1, "{\"content\":[", 12) == 0);
	free(d1);
	free(d2);
	mc_manifest_free(m);
	mc_manifest_free(m2);
}

static void test_round_trip_campaign(void **state)
{
	(void)state;
	round_trip(campaign, MC_DOC_CAMPAIGN);
}

static void test_round_trip_manifest(void **state)
{
	(void)state;
	round_trip(manifest, MC_DOC_MANIFEST);
}

static void test_sample_campaign_loads(void **state)
{
	struct mc_manifest *m = NULL;
	struct mc_error e = {0};
	enum mc_err rc;

	(void)state;
	rc = mc_manifest_load(MC_SOURCE_DIR "/playlists/november-2023.json",
	                      MC_DOC_CAMPAIGN, &m, &e);
	if (rc != MC_OK)
		fail_msg("sample campaign: %s", e.msg);
	assert_true(m->n_entries > 0);
	mc_manifest_free(m);
}

static void test_load_errors(void **state)
{
	struct mc_manifest *m = NULL;
	struct mc_error e = {0};
	char path[] = "/tmp/mc-test-manifest-XXXXXX";
	const char *bad = "{\"format\":\"minecast-campaign/1\",\"content\":7}";
	FILE *f;
	int fd;

	(void)state;
	mc_test_expect_error(mc_manifest_load("/nonexistent/x.json",
	                                      MC_DOC_CAMPAIGN, &m, &e),
	                     &e, MC_ERR_IO, "/nonexistent/x.json",
	                     "missing file");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(bad, f);
	fclose(f);
	/* The error names the file and the field. */
	mc_test_expect_error(mc_manifest_load(path, MC_DOC_CAMPAIGN, &m, &e),
	                     &e, MC_ERR_TYPE, "content", "bad file");
	assert_non_null(strstr(e.msg, path));
	assert_null(m);
	remove(path);
}

/* ---- rejections: the input as a whole ---- */

static void test_reject_malformed_json(void **state)
{
	static const char *const bad[] = {
	        "{",
	        "",
	        "{\"format\": }",
	        "{\"format\":\"minecast-campaign/1\",}",
	        "{'format':1}",
	        "{\"a\":1} trailing",
	        "nul\x01",
	};
	struct mc_manifest *m = NULL;
	struct mc_error e = {0};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		mc_test_expect_error(mc_manifest_parse(bad[i], strlen(bad[i]),
		                                       MC_DOC_CAMPAIGN, &m, &e),
		                     &e, MC_ERR_PARSE, "line", bad[i]);
	/* A JSON value that is not an object. */
	mc_test_expect_error(
	        mc_manifest_parse("[]", 2, MC_DOC_CAMPAIGN, &m, &e), &e,
	        MC_ERR_TYPE, "campaign", "array root");
	/* Duplicate keys are refused, not silently merged. */
	mc_test_expect_error(
	        mc_manifest_parse("{\"name\":\"a\",\"name\":\"b\"}", 25,
	                          MC_DOC_CAMPAIGN, &m, &e),
	        &e, MC_ERR_PARSE, "duplicate", "duplicate key");
	assert_null(m);
}

static void test_reject_truncated(void **state)
{
	struct mc_manifest *m = NULL;
	struct mc_error e = {0};
	size_t len = strlen(campaign);

	(void)state;
	/* Every cut of the document is malformed somewhere. */
	for (size_t cut = 0; cut < len; cut += 37) {
		enum mc_err rc = mc_manifest_parse(campaign, cut,
		                                   MC_DOC_CAMPAIGN, &m, &e);

		if (rc != MC_ERR_PARSE && rc != MC_ERR_UTF8)
			fail_msg("cut at %zu: %d %s", cut, rc, e.msg);
		assert_non_null(strstr(e.msg, "line"));
		assert_null(m);
	}
}

static void test_reject_oversize(void **state)
{
	size_t len = MC_MAX_MANIFEST_BYTES + 1;
	char *big = malloc(len);
	struct mc_manifest *m = NULL;
	struct mc_error e = {0};

	(void)state;
	assert_non_null(big);
	memset(big, ' ', len);
	big[0] = '{';
	big[len - 1] = '}';
	mc_test_expect_error(
	        mc_manifest_parse(big, len, MC_DOC_MANIFEST, &m, &e), &e,
	        MC_ERR_TOO_LARGE, "4194304", "oversize");
	assert_non_null(strstr(e.msg, "manifest"));
	/* Exactly at the limit is still parsed. */
	mc_test_expect_error(
	        mc_manifest_parse(big, len - 1, MC_DOC_MANIFEST, &m, &e), &e,
	        MC_ERR_PARSE, "line", "at the limit");
	free(big);
}

/* A campaign whose name holds raw bytes (caller frees). */
static char *campaign_named(const char *bytes)
{
	const char *head = "{\"format\":\"minecast-campaign/1\",\"name\":\"Vi";
	char *json = malloc(strlen(head) + strlen(bytes) + 8);

	assert_non_null(json);
	sprintf(json, "%s%st\"}", head, bytes);
	return json;
}

static void test_reject_invalid_utf8(void **state)
{
	static const char *const seq[] = {
	        "\xC0\xAF",             /* overlong '/' */
	        "\xED\xA0\x80",         /* surrogate U+D800 */
	        "\xE1\xBB",             /* truncated "Ệ" */
	        "\xF8\x88\x80\x80\x80", /* 5-byte form */
	};
	struct mc_manifest *m = NULL;
	struct mc_error e = {0};

	(void)state;
	for (size_t i = 0; i < sizeof(seq) / sizeof(*seq); i++) {
		char *json = campaign_named(seq[i]);

		mc_test_expect_error(mc_manifest_parse(json, strlen(json),
		                                       MC_DOC_CAMPAIGN, &m, &e),
		                     &e, MC_ERR_UTF8, "line 1",
		                     "invalid UTF-8");
		free(json);
	}
	/* A lone surrogate written as an escape is refused too. */
	{
		const char *json = "{\"format\":\"minecast-campaign/1\","
		                   "\"name\":\"\\ud800\"}";

		mc_test_expect_error(mc_manifest_parse(json, strlen(json),
		                                       MC_DOC_CAMPAIGN, &m, &e),
		                     &e, MC_ERR_PARSE, "line 1",
		                     "escaped surrogate");
	}
}

/* ---- rejections: one field at a time ---- */

static const struct reject campaign_rejects[] = {
        /* format */
        {"format", NULL, MC_ERR_MISSING, "format"},
        {"format", "\"minecast-campaign/2\"", MC_ERR_UNSUPPORTED, "format"},
        {"format", "\"minecast-manifest/1\"", MC_ERR_RANGE, "format"},
        {"format", "1", MC_ERR_TYPE, "format"},
        /* header */
        {"name", "5", MC_ERR_TYPE, "name"},
        {"name", "\"Tên\\u0007\"", MC_ERR_RANGE, "name"},
        {"timezone", "\"Asia Ho Chi Minh\"", MC_ERR_RANGE, "timezone"},
        {"content", "{}", MC_ERR_TYPE, "content"},
        {"playlists", "\"pl\"", MC_ERR_TYPE, "playlists"},
        {"entries", "true", MC_ERR_TYPE, "entries"},
        {"fallback", "[]", MC_ERR_TYPE, "fallback"},
        /* content */
        {"content.0", "42", MC_ERR_TYPE, "content[0]"},
        {"content.0.id", NULL, MC_ERR_MISSING, "content[0].id"},
        {"content.0.id", "\"khẩu hiệu\"", MC_ERR_RANGE, "content[0].id"},
        {"content.0.id",
         "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "\"",
         MC_ERR_RANGE, "content[0].id"},
        {"content.0.type", NULL, MC_ERR_MISSING, "content[0].type"},
        {"content.0.type", "\"video\"", MC_ERR_RANGE, "content[0].type"},
        {"content.0.type", "3", MC_ERR_TYPE, "content[0].type"},
        {"content.0.text", NULL, MC_ERR_MISSING, "content[0].text"},
        {"content.0.text", "\"\"", MC_ERR_RANGE, "content[0].text"},
        {"content.0.text", "[\"Kỷ niệm\"]", MC_ERR_TYPE, "content[0].text"},
        {"content.0.style", "\"đỏ\"", MC_ERR_TYPE, "content[0].style"},
        {"content.0.style.fg", "\"#FFF\"", MC_ERR_RANGE, "content[0].style.fg"},
        {"content.0.style.fg", "\"FFD700\"", MC_ERR_RANGE,
         "content[0].style.fg"},
        {"content.0.style.bg", "\"#GG0000\"", MC_ERR_RANGE,
         "content[0].style.bg"},
        {"content.0.style.bg", "16711680", MC_ERR_TYPE, "content[0].style.bg"},
        {"content.0.style.align", "\"justify\"", MC_ERR_RANGE,
         "content[0].style.align"},
        {"content.0.style.effect", "\"glow\"", MC_ERR_RANGE,
         "content[0].style.effect"},
        {"content.0.style.ticker", "1", MC_ERR_TYPE, "content[0].style.ticker"},
        {"content.0.style.bg_image", "\"khong-co\"", MC_ERR_REF,
         "content[0].style.bg_image"},
        {"content.0.style.bg_image", "\"slogan-ky-luat\"", MC_ERR_RANGE,
         "content[0].style.bg_image"},
        {"content.1.src", NULL, MC_ERR_MISSING, "content[1].src"},
        {"content.1.src", "\"/etc/passwd\"", MC_ERR_RANGE, "content[1].src"},
        {"content.1.src", "\"assets/../../x.png\"", MC_ERR_RANGE,
         "content[1].src"},
        {"content.1.fit", "\"zoom\"", MC_ERR_RANGE, "content[1].fit"},
        {"content.1.sha256", "\"ABC\"", MC_ERR_RANGE, "content[1].sha256"},
        {"content.1.size", "100", MC_ERR_MISSING, "content[1].size"},
        {"content.2.duration_ms", NULL, MC_ERR_MISSING,
         "content[2].duration_ms"},
        {"content.2.duration_ms", "0", MC_ERR_RANGE, "content[2].duration_ms"},
        {"content.2.duration_ms", "4.2e4", MC_ERR_TYPE,
         "content[2].duration_ms"},
        {"content.2.gain_db", "100", MC_ERR_RANGE, "content[2].gain_db"},
        {"content.2.gain_db", "\"-2\"", MC_ERR_TYPE, "content[2].gain_db"},
        {"content.3.text", NULL, MC_ERR_MISSING, "content[3].text"},
        {"content.4.text", "\"Kỷ luật\\r\\nĐồng tâm\"", MC_ERR_RANGE,
         "content[4].text"},
        /* duplicate ids */
        {"content.1.id", "\"slogan-87-nam\"", MC_ERR_RANGE, "content[1].id"},
        {"playlists.2.id", "\"pl-12-11\"", MC_ERR_RANGE, "playlists[2].id"},
        {"entries.1.id", "\"e-12-11\"", MC_ERR_RANGE, "entries[1].id"},
        /* playlists */
        {"playlists.0.id", NULL, MC_ERR_MISSING, "playlists[0].id"},
        {"playlists.0.items", NULL, MC_ERR_MISSING, "playlists[0].items"},
        {"playlists.0.items", "[]", MC_ERR_RANGE, "playlists[0].items"},
        {"playlists.0.items", "{}", MC_ERR_TYPE, "playlists[0].items"},
        {"playlists.0.items.0", "\"slogan-87-nam\"", MC_ERR_TYPE,
         "playlists[0].items[0]"},
        {"playlists.0.items.0.content", NULL, MC_ERR_MISSING,
         "playlists[0].items[0].content"},
        {"playlists.0.items.0.content", "\"khong-co\"", MC_ERR_REF,
         "playlists[0].items[0].content"},
        {"playlists.0.items.0.duration_s", "0", MC_ERR_RANGE,
         "playlists[0].items[0].duration_s"},
        {"playlists.0.items.0.duration_s", "86401", MC_ERR_RANGE,
         "playlists[0].items[0].duration_s"},
        {"playlists.0.items.0.duration_s", "\"20\"", MC_ERR_TYPE,
         "playlists[0].items[0].duration_s"},
        {"playlists.0.items.0.volume", "101", MC_ERR_RANGE,
         "playlists[0].items[0].volume"},
        {"playlists.0.items.0.volume", "-1", MC_ERR_RANGE,
         "playlists[0].items[0].volume"},
        {"playlists.0.items.0.transition", "\"wipe\"", MC_ERR_RANGE,
         "playlists[0].items[0].transition"},
        /* entries */
        {"entries.0", "null", MC_ERR_TYPE, "entries[0]"},
        {"entries.0.playlist", NULL, MC_ERR_MISSING, "entries[0].playlist"},
        {"entries.0.playlist", "\"pl-khong-co\"", MC_ERR_REF,
         "entries[0].playlist"},
        {"entries.0.channel", NULL, MC_ERR_MISSING, "entries[0].channel"},
        {"entries.0.channel", "\"radio\"", MC_ERR_RANGE, "entries[0].channel"},
        {"entries.0.priority", "101", MC_ERR_RANGE, "entries[0].priority"},
        {"entries.0.priority", "-1", MC_ERR_RANGE, "entries[0].priority"},
        {"entries.0.priority", "\"60\"", MC_ERR_TYPE, "entries[0].priority"},
        {"entries.0.priority", "60.5", MC_ERR_TYPE, "entries[0].priority"},
        {"entries.0.layer", "\"top\"", MC_ERR_RANGE, "entries[0].layer"},
        {"entries.0.mode", "\"twice\"", MC_ERR_RANGE, "entries[0].mode"},
        {"entries.0.founded", "999", MC_ERR_RANGE, "entries[0].founded"},
        {"entries.0.founded", "10000", MC_ERR_RANGE, "entries[0].founded"},
        {"entries.0.dtstart", "\"2023-11-12\"", MC_ERR_PARSE,
         "entries[0].dtstart"},
        {"entries.0.dtstart", "\"20231131T000000\"", MC_ERR_PARSE,
         "entries[0].dtstart"},
        {"entries.0.dtstart", "\"20231112T250000\"", MC_ERR_PARSE,
         "entries[0].dtstart"},
        {"entries.0.dtstart", "\"20231112T000000+0700\"", MC_ERR_PARSE,
         "entries[0].dtstart"},
        {"entries.0.dtstart", "\"20231112Z\"", MC_ERR_PARSE,
         "entries[0].dtstart"},
        {"entries.0.dtstart", "\"18991231T000000\"", MC_ERR_PARSE,
         "entries[0].dtstart"},
        {"entries.0.dtstart", "\"22000101T000000\"", MC_ERR_PARSE,
         "entries[0].dtstart"},
        {"entries.0.dtstart", "\"20231112T235960\"", MC_ERR_PARSE,
         "entries[0].dtstart"},
        {"entries.0.dtstart", "20231112", MC_ERR_TYPE, "entries[0].dtstart"},
        {"entries.0.dtend", "\"20231113T000000\"", MC_ERR_RANGE,
         "entries[0].dtend"},
        {"entries.0.duration", "\"\"", MC_ERR_RANGE, "entries[0].duration"},
        {"entries.0.rrule", "\"\"", MC_ERR_RANGE, "entries[0].rrule"},
        {"entries.0.tzid", "\"Giờ Hà Nội\"", MC_ERR_RANGE, "entries[0].tzid"},
        {"entries.0.rdate", "[\"12/11/2023\"]", MC_ERR_PARSE,
         "entries[0].rdate[0]"},
        {"entries.0.exdate", "\"20241112T000000\"", MC_ERR_TYPE,
         "entries[0].exdate"},
        {"entries.0.exdate", "[20241112]", MC_ERR_TYPE, "entries[0].exdate[0]"},
        {"entries.0.targets", "[\"cua-lo\"]", MC_ERR_TYPE,
         "entries[0].targets"},
        {"entries.0.targets.sites", "\"cua-lo\"", MC_ERR_TYPE,
         "entries[0].targets.sites"},
        {"entries.0.targets.tags", "[\"nhà ăn\"]", MC_ERR_RANGE,
         "entries[0].targets.tags[0]"},
        {"entries.2.rrule", "\"FREQ=DAILY\"", MC_ERR_MISSING,
         "entries[2].rrule"},
        {"entries.2.duration", "\"PT1H\"", MC_ERR_MISSING,
         "entries[2].duration"},
        /* channel and content type */
        {"entries.0.channel", "\"speaker\"", MC_ERR_RANGE,
         "entries[0].playlist"},
        {"entries.1.channel", "\"screen\"", MC_ERR_RANGE,
         "entries[1].playlist"},
        /* fallback */
        {"fallback.screen", "\"khong-co\"", MC_ERR_REF, "fallback.screen"},
        {"fallback.screen", "\"ban-tin-0600\"", MC_ERR_RANGE,
         "fallback.screen"},
        {"fallback.speaker", "\"slogan-ky-luat\"", MC_ERR_RANGE,
         "fallback.speaker"},
        {"fallback.speaker", "7", MC_ERR_TYPE, "fallback.speaker"},
};

static void test_reject_campaign_fields(void **state)
{
	(void)state;
	run_rejects(campaign, MC_DOC_CAMPAIGN, campaign_rejects,
	            sizeof(campaign_rejects) / sizeof(*campaign_rejects));
}

static const struct reject manifest_rejects[] = {
        {"format", "\"minecast-campaign/1\"", MC_ERR_RANGE, "format"},
        {"node", "\"pi cửa lò\"", MC_ERR_RANGE, "node"},
        {"generated", "\"hôm qua\"", MC_ERR_PARSE, "generated"},
        {"generated", "\"2023-11-01 07:00:00Z\"", MC_ERR_PARSE, "generated"},
        {"generated", "\"2023-02-30T00:00:00Z\"", MC_ERR_PARSE, "generated"},
        {"generated", "\"1969-12-31T23:59:59Z\"", MC_ERR_PARSE, "generated"},
        {"content.0.sha256", NULL, MC_ERR_MISSING, "content[0].sha256"},
        {"content.0.sha256", "\"" SHA_A "0\"", MC_ERR_RANGE,
         "content[0].sha256"},
        {"content.0.sha256",
         "\"3F2A9C0D1E4B5A6978877665544332211009F8E7D6C5B4A39281706F5E4D3C2B\"",
         MC_ERR_RANGE, "content[0].sha256"},
        {"content.0.size", NULL, MC_ERR_MISSING, "content[0].size"},
        {"content.0.size", "0", MC_ERR_RANGE, "content[0].size"},
        {"content.0.size", "\"123456\"", MC_ERR_TYPE, "content[0].size"},
        {"content.0.url", "\"\"", MC_ERR_RANGE, "content[0].url"},
        {"content.1.sha256", "\"\"", MC_ERR_RANGE, "content[1].sha256"},
        {"entries.1.duration", "\"P1D\"", MC_ERR_RANGE, "entries[1].dtend"},
        {"fallback.speaker", "\"pano-vung-mo\"", MC_ERR_RANGE,
         "fallback.speaker"},
};

static void test_reject_manifest_fields(void **state)
{
	(void)state;
	run_rejects(manifest, MC_DOC_MANIFEST, manifest_rejects,
	            sizeof(manifest_rejects) / sizeof(*manifest_rejects));
}

static void test_reject_long_text(void **state)
{
	char *text = malloc(4002 + 2), *value, *json;
	struct mc_manifest *m = NULL;
	struct mc_error e = {0};

	(void)state;
	/* 4000 bytes are accepted, 4001 are not. */
	for (int extra = 0; extra < 2; extra++) {
		text[0] = '"';
		memset(text + 1, 'a', 4000 + extra);
		strcpy(text + 1 + 4000 + extra, "\"");
		value = text;
		json = mc_test_patch(campaign, "content.4.text", value);
		if (extra == 0) {
			assert_int_equal(mc_manifest_parse(json, strlen(json),
			                                   MC_DOC_CAMPAIGN, &m,
			                                   &e),
			                 MC_OK);
			mc_manifest_free(m);
		} else {
			mc_test_expect_error(
			        mc_manifest_parse(json, strlen(json),
			                          MC_DOC_CAMPAIGN, &m, &e),
			        &e, MC_ERR_TOO_LARGE, "content[4].text",
			        "4001 bytes");
		}
		free(json);
	}
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_campaign_fields),
	        cmocka_unit_test(test_manifest_fields),
	        cmocka_unit_test(test_minimal_campaign_defaults),
	        cmocka_unit_test(test_nfc_in_documents),
	        cmocka_unit_test(test_round_trip_campaign),
	        cmocka_unit_test(test_round_trip_manifest),
	        cmocka_unit_test(test_sample_campaign_loads),
	        cmocka_unit_test(test_load_errors),
	        cmocka_unit_test(test_reject_malformed_json),
	        cmocka_unit_test(test_reject_truncated),
	        cmocka_unit_test(test_reject_oversize),
	        cmocka_unit_test(test_reject_invalid_utf8),
	        cmocka_unit_test(test_reject_campaign_fields),
	        cmocka_unit_test(test_reject_manifest_fields),
	        cmocka_unit_test(test_reject_long_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
