/*
 * Message codecs (codec.h, messages.h) and topic names (topics.h): round
 * trips of every message, the "v" rule, the unknown-field rule, limits,
 * and every rejection with its error code and the field it names.
 *
 * Rejections are table-driven as in test_codec_manifest.c: a valid
 * fixture per message, one field changed or deleted by a dotted path.
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
#include "minecast/messages.h"
#include "minecast/topics.h"

#define SHA "3f2a9c0d1e4b5a6978877665544332211009f8e7d6c5b4a39281706f5e4d3c2b"
#define T0  "1699747200000" /* 2023-11-12T00:00:00Z */

/* ---- fixtures, one per message ---- */

static const char pointer_json[] =
        "{\"v\":1,\"node\":\"pi-cua-lo-01\",\"version\":42,"
        "\"manifest_sha256\":\"" SHA "\",\"manifest_size\":18342,"
        "\"manifest_url\":\"/v1/manifests/" SHA "\","
        "\"issued_ms\":" T0 ",\"expires_ms\":1702339200000}";

static const char alert_json[] =
        "{\"v\":1,\"id\":\"so-tan-lo-3\",\"seq\":3,\"clear\":false,"
        "\"level\":\"evacuate\","
        "\"text\":\"Sơ tán khẩn cấp khỏi lò số 3! Tập trung tại cửa lò.\","
        "\"tone\":\"siren\",\"repeat\":3,\"start_at_ms\":1699747200500,"
        "\"issued_ms\":" T0 ",\"expires_ms\":1699750800000,"
        "\"targets\":{\"sites\":[\"cua-lo\"],\"tags\":[],"
        "\"nodes\":[\"pi-cua-lo-01\"]}}";

static const char alert_ack_json[] =
        "{\"v\":1,\"node\":\"pi-cua-lo-01\",\"alert\":\"so-tan-lo-3\",\"seq\":"
        "3,"
        "\"status\":\"rejected\",\"start_ms\":1699747200500,"
        "\"reason\":\"đã hết hạn\",\"at_ms\":1699747200510}";

static const char state_json[] =
        "{\"v\":1,\"node\":\"pi-cua-lo-01\",\"online\":true,\"boot\":17,"
        "\"applied_version\":42,\"sync\":\"syncing\",\"items_outstanding\":2,"
        "\"bytes_outstanding\":1048576,\"at_ms\":" T0 ","
        "\"software\":\"minecast-player 0.1.0\"}";

static const char health_json[] =
        "{\"v\":1,\"node\":\"pi-cua-lo-01\",\"at_ms\":" T0
        ",\"uptime_s\":86400,"
        "\"load1\":0.42,\"mem_total_kb\":1000000,\"mem_avail_kb\":600000,"
        "\"disk_total_bytes\":31000000000,\"disk_free_bytes\":20000000000,"
        "\"cache_bytes\":500000000,\"cpu_temp_c\":58.5,\"throttled\":0,"
        "\"clock_synced\":true,\"clock_offset_ms\":-0.75,"
        "\"applied_version\":42,\"items_outstanding\":0,"
        "\"bytes_outstanding\":0,"
        "\"playing\":{\"screen\":{\"content\":\"slogan-87-nam\","
        "\"entry\":\"e-12-11\",\"reason\":\"scheduled\"},"
        "\"speaker\":{\"reason\":\"idle\"}},"
        "\"errors\":[\"tải về thất bại: pano-vung-mo\"],\"reconnects\":1,"
        "\"pop_summarised\":0}";

static const char pop_json[] =
        "{\"v\":1,\"node\":\"pi-cua-lo-01\",\"batch\":\"b-17-0005\","
        "\"records\":["
        "{\"id\":\"pi-cua-lo-01-17-101\",\"content\":\"pano-vung-mo\","
        "\"sha256\":\"" SHA "\",\"entry\":\"e-12-11\",\"channel\":\"screen\","
        "\"start_ms\":" T0 ",\"end_ms\":1699747220000,\"completed\":true,"
        "\"count\":1},"
        "{\"id\":\"pi-cua-lo-01-17-102\",\"content\":\"slogan-87-nam\","
        "\"channel\":\"screen\",\"start_ms\":1699747220000,"
        "\"end_ms\":1699747230000,\"completed\":false}]}";

static const char pop_ack_json[] =
        "{\"v\":1,\"node\":\"pi-cua-lo-01\",\"batch\":\"b-17-0005\","
        "\"ids\":[\"pi-cua-lo-01-17-101\",\"pi-cua-lo-01-17-102\"]}";

static const char command_json[] =
        "{\"v\":1,\"id\":\"cmd-0001\",\"node\":\"pi-cua-lo-01\","
        "\"action\":\"volume\",\"volume\":70,\"issued_ms\":" T0 ","
        "\"expires_ms\":1699747260000}";

static const char result_json[] =
        "{\"v\":1,\"id\":\"cmd-0001\",\"node\":\"pi-cua-lo-01\",\"ok\":true,"
        "\"message\":\"Đã đặt âm lượng 70%\",\"at_ms\":1699747201000}";

/* ---- one table over every message type ---- */

#define ADAPT(name)                                                            \
	static enum mc_err name##_p(const char *b, size_t l, void *o,          \
	                            struct mc_error *e)                        \
	{                                                                      \
		return mc_##name##_parse(b, l, o, e);                          \
	}                                                                      \
	static char *name##_d(const void *o)                                   \
	{                                                                      \
		return mc_##name##_dump(o);                                    \
	}                                                                      \
	static void name##_c(void *o)                                          \
	{                                                                      \
		mc_##name##_clear(o);                                          \
	}

ADAPT(pointer)
ADAPT(alert)
ADAPT(alert_ack)
ADAPT(state)
ADAPT(health)
ADAPT(pop_batch)
ADAPT(pop_ack)
ADAPT(command)
ADAPT(command_result)

enum kind {
	POINTER,
	ALERT,
	ALERT_ACK,
	STATE,
	HEALTH,
	POP,
	POP_ACK,
	COMMAND,
	RESULT,
	N_KINDS
};

struct msg_kind {
	const char *name;    /* what the parser calls the document */
	const char *fixture; /* a valid message */
	size_t max;          /* its size limit */
	size_t size;         /* sizeof its struct */
	enum mc_err (*parse)(const char *b, size_t l, void *o,
	                     struct mc_error *e);
	char *(*dump)(const void *o);
	void (*clear)(void *o);
};

#define KIND(n, fx, lim, f)                                                    \
	{                                                                      \
		n, fx, lim, sizeof(struct mc_##f), f##_p, f##_d, f##_c         \
	}

static const struct msg_kind kinds[N_KINDS] = {
        KIND("pointer", pointer_json, MC_MAX_POINTER_BYTES, pointer),
        KIND("alert", alert_json, MC_MAX_ALERT_BYTES, alert),
        KIND("alert_ack", alert_ack_json, MC_MAX_ALERT_ACK_BYTES, alert_ack),
        KIND("state", state_json, MC_MAX_STATE_BYTES, state),
        KIND("health", health_json, MC_MAX_HEALTH_BYTES, health),
        KIND("pop", pop_json, MC_MAX_POP_BYTES, pop_batch),
        KIND("pop_ack", pop_ack_json, MC_MAX_POP_ACK_BYTES, pop_ack),
        KIND("command", command_json, MC_MAX_COMMAND_BYTES, command),
        KIND("command_result", result_json, MC_MAX_RESULT_BYTES,
             command_result),
};

/* Big enough for any message struct. */
union any_msg {
	struct mc_pointer p;
	struct mc_alert a;
	struct mc_alert_ack aa;
	struct mc_state s;
	struct mc_health h;
	struct mc_pop_batch pb;
	struct mc_pop_ack pa;
	struct mc_command c;
	struct mc_command_result r;
};

/* ---- helpers ---- */

/*
 * True if the n bytes at p are all zero: a cleared struct.  Callers fill
 * the struct with garbage first (dirty), so that this proves the parser
 * or the clear function zeroed it.
 */
static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void dirty(union any_msg *m)
{
	memset(m, 0xA5, sizeof(*m));
}

static void parse_ok(enum kind k, const char *json, union any_msg *m)
{
	struct mc_error e = {0};
	enum mc_err rc = kinds[k].parse(json, strlen(json), m, &e);

	if (rc != MC_OK)
		fail_msg("%s: %d %s", kinds[k].name, rc, e.msg);
}

/* ---- round trips ---- */

static void test_round_trip_all(void **state)
{
	(void)state;
	for (int k = 0; k < N_KINDS; k++) {
		union any_msg m, m2;
		char *d1, *d2;

		parse_ok(k, kinds[k].fixture, &m);
		d1 = kinds[k].dump(&m);
		assert_non_null(d1);
		/* Every message says its protocol version. */
		assert_non_null(strstr(d1, "\"v\":1"));
		parse_ok(k, d1, &m2);
		d2 = kinds[k].dump(&m2);
		if (strcmp(d1, d2) != 0)
			fail_msg("%s: %s != %s", kinds[k].name, d1, d2);
		/* The fixture itself reads back to the same message. */
		{
			json_t *a = json_loads(d1, 0, NULL);
			json_t *b = json_loads(kinds[k].fixture, 0, NULL);

			if (k != POP && !json_equal(a, b))
				fail_msg("%s: dump differs from fixture: %s",
				         kinds[k].name, d1);
			json_decref(a);
			json_decref(b);
		}
		free(d1);
		free(d2);
		kinds[k].clear(&m);
		kinds[k].clear(&m2);
		assert_true(all_zero(&m, kinds[k].size));
	}
}

static void test_pointer_fields(void **state)
{
	union any_msg m;

	(void)state;
	parse_ok(POINTER, pointer_json, &m);
	assert_string_equal(m.p.node, "pi-cua-lo-01");
	assert_int_equal(m.p.version, 42);
	assert_string_equal(m.p.manifest_sha256, SHA);
	assert_int_equal(m.p.manifest_size, 18342);
	assert_string_equal(m.p.manifest_url, "/v1/manifests/" SHA);
	assert_int_equal(m.p.issued_ms, 1699747200000LL);
	assert_int_equal(m.p.expires_ms, 1702339200000LL);
	mc_pointer_clear(&m.p);
}

static void test_alert_fields(void **state)
{
	const char *clear = "{\"id\":\"so-tan-lo-3\",\"seq\":4,\"clear\":true,"
	                    "\"issued_ms\":1,\"expires_ms\":2}";
	union any_msg m;

	(void)state;
	parse_ok(ALERT, alert_json, &m);
	assert_string_equal(m.a.id, "so-tan-lo-3");
	assert_int_equal(m.a.seq, 3);
	assert_false(m.a.clear);
	assert_int_equal(m.a.level, MC_ALERT_EVACUATE);
	assert_string_equal(
	        m.a.text,
	        "Sơ tán khẩn cấp khỏi lò số 3! Tập trung tại cửa lò.");
	assert_string_equal(m.a.tone, "siren");
	assert_int_equal(m.a.repeat, 3);
	assert_int_equal(m.a.start_at_ms, 1699747200500LL);
	assert_int_equal(m.a.targets.n_nodes, 1);
	assert_string_equal(m.a.targets.nodes[0], "pi-cua-lo-01");
	mc_alert_clear(&m.a);

	/* A clear needs neither level nor text; v absent means 1. */
	parse_ok(ALERT, clear, &m);
	assert_true(m.a.clear);
	assert_null(m.a.text);
	assert_int_equal(m.a.repeat, 1);
	assert_int_equal(m.a.targets.n_sites + m.a.targets.n_tags +
	                         m.a.targets.n_nodes,
	                 0);
	mc_alert_clear(&m.a);
}

static void test_other_fields(void **state)
{
	union any_msg m;

	(void)state;
	parse_ok(ALERT_ACK, alert_ack_json, &m);
	assert_string_equal(m.aa.status, "rejected");
	assert_string_equal(m.aa.reason, "đã hết hạn");
	mc_alert_ack_clear(&m.aa);

	parse_ok(STATE, state_json, &m);
	assert_true(m.s.online);
	assert_int_equal(m.s.boot, 17);
	assert_string_equal(m.s.sync, "syncing");
	mc_state_clear(&m.s);

	parse_ok(HEALTH, health_json, &m);
	assert_true(m.h.has_temp);
	assert_true(m.h.cpu_temp_c == 58.5);
	assert_true(m.h.clock_offset_ms == -0.75);
	assert_string_equal(m.h.playing[MC_CH_SCREEN].content, "slogan-87-nam");
	assert_null(m.h.playing[MC_CH_SPEAKER].content);
	assert_string_equal(m.h.playing[MC_CH_SPEAKER].reason, "idle");
	assert_int_equal(m.h.n_errors, 1);
	assert_int_equal(m.h.disk_total_bytes, 31000000000LL);
	mc_health_clear(&m.h);

	/* A board without a thermal zone: no temperature, throttled -1. */
	parse_ok(HEALTH, "{\"node\":\"pi-1\",\"at_ms\":5}", &m);
	assert_false(m.h.has_temp);
	assert_int_equal(m.h.throttled, -1);
	mc_health_clear(&m.h);

	parse_ok(POP, pop_json, &m);
	assert_int_equal(m.pb.n_records, 2);
	assert_string_equal(m.pb.records[0].sha256, SHA);
	assert_string_equal(m.pb.records[1].sha256, "");
	assert_null(m.pb.records[1].entry);
	assert_false(m.pb.records[1].completed);
	assert_int_equal(m.pb.records[1].count, 1);
	mc_pop_batch_clear(&m.pb);

	parse_ok(POP_ACK, pop_ack_json, &m);
	assert_int_equal(m.pa.n_ids, 2);
	assert_string_equal(m.pa.ids[1], "pi-cua-lo-01-17-102");
	mc_pop_ack_clear(&m.pa);

	parse_ok(COMMAND, command_json, &m);
	assert_int_equal(m.c.action, MC_CMD_VOLUME);
	assert_int_equal(m.c.volume, 70);
	mc_command_clear(&m.c);

	parse_ok(RESULT, result_json, &m);
	assert_true(m.r.ok);
	assert_string_equal(m.r.message, "Đã đặt âm lượng 70%");
	mc_command_result_clear(&m.r);
}

static void test_enum_names(void **state)
{
	(void)state;
	assert_string_equal(mc_alert_level_name(MC_ALERT_DANGER), "danger");
	assert_int_equal(mc_alert_level_parse("evacuate"), MC_ALERT_EVACUATE);
	assert_int_equal(mc_alert_level_parse("Evacuate"), -1);
	assert_int_equal(mc_alert_level_parse(NULL), -1);
	assert_string_equal(mc_command_action_name(MC_CMD_SCREEN_POWER),
	                    "screen_power");
	assert_int_equal(mc_command_action_parse("reboot"), MC_CMD_REBOOT);
	assert_int_equal(mc_command_action_parse("format"), -1);
	assert_string_equal(mc_command_action_name((enum mc_command_action)99),
	                    "?");
}

/* ---- versioning and unknown fields ---- */

static void test_version_rule(void **state)
{
	(void)state;
	for (int k = 0; k < N_KINDS; k++) {
		union any_msg m;
		struct mc_error e = {0};
		char *json;

		/* Missing v is version 1. */
		json = mc_test_patch(kinds[k].fixture, "v", NULL);
		parse_ok(k, json, &m);
		kinds[k].clear(&m);
		free(json);

		json = mc_test_patch(kinds[k].fixture, "v", "2");
		dirty(&m);
		mc_test_expect_error(kinds[k].parse(json, strlen(json), &m, &e),
		                     &e, MC_ERR_UNSUPPORTED,
		                     "v: protocol version 2", kinds[k].name);
		assert_true(all_zero(&m, kinds[k].size));
		free(json);

		json = mc_test_patch(kinds[k].fixture, "v", "\"1\"");
		mc_test_expect_error(kinds[k].parse(json, strlen(json), &m, &e),
		                     &e, MC_ERR_TYPE, "v", kinds[k].name);
		free(json);

		json = mc_test_patch(kinds[k].fixture, "v", "0");
		mc_test_expect_error(kinds[k].parse(json, strlen(json), &m, &e),
		                     &e, MC_ERR_RANGE, "v", kinds[k].name);
		free(json);
	}
}

static void test_unknown_fields_ignored(void **state)
{
	(void)state;
	for (int k = 0; k < N_KINDS; k++) {
		union any_msg m;
		char *json = mc_test_patch(kinds[k].fixture, "zz_added_later",
		                           "{\"nested\":[1,2,{\"x\":null}]}");

		parse_ok(k, json, &m);
		kinds[k].clear(&m);
		free(json);
	}
}

/* ---- rejections of the whole input ---- */

static void test_reject_input_all(void **state)
{
	(void)state;
	for (int k = 0; k < N_KINDS; k++) {
		const char *fx = kinds[k].fixture;
		struct mc_error e = {0};
		union any_msg m;
		char *big;

		/* Malformed and truncated. */
		mc_test_expect_error(kinds[k].parse("{\"v\":1,", 7, &m, &e), &e,
		                     MC_ERR_PARSE, "line 1", kinds[k].name);
		assert_non_null(strstr(e.msg, kinds[k].name));
		mc_test_expect_error(kinds[k].parse(fx, strlen(fx) / 2, &m, &e),
		                     &e, MC_ERR_PARSE, "line 1", kinds[k].name);
		mc_test_expect_error(kinds[k].parse(fx, strlen(fx) - 1, &m, &e),
		                     &e, MC_ERR_PARSE, "line 1", kinds[k].name);
		dirty(&m);
		mc_test_expect_error(kinds[k].parse("[1]", 3, &m, &e), &e,
		                     MC_ERR_TYPE, kinds[k].name, kinds[k].name);
		assert_true(all_zero(&m, kinds[k].size));

		/* One byte over the limit is refused before parsing. */
		big = malloc(kinds[k].max + 1);
		memset(big, ' ', kinds[k].max + 1);
		memcpy(big, fx, strlen(fx));
		mc_test_expect_error(
		        kinds[k].parse(big, kinds[k].max + 1, &m, &e), &e,
		        MC_ERR_TOO_LARGE, "limit", kinds[k].name);
		/* At the limit exactly, trailing white space is fine. */
		assert_int_equal(kinds[k].parse(big, kinds[k].max, &m, &e),
		                 MC_OK);
		kinds[k].clear(&m);
		free(big);
	}
}

static void test_reject_invalid_utf8_all(void **state)
{
	static const char *const seq[] = {"\xC0\xAF", "\xED\xA0\x80",
	                                  "\xE1\xBB", "\xFF"};

	(void)state;
	for (int k = 0; k < N_KINDS; k++)
		for (size_t i = 0; i < sizeof(seq) / sizeof(*seq); i++) {
			char json[64];
			struct mc_error e = {0};
			union any_msg m;

			snprintf(json, sizeof(json), "{\"node\":\"pi%s\"}",
			         seq[i]);
			mc_test_expect_error(
			        kinds[k].parse(json, strlen(json), &m, &e), &e,
			        MC_ERR_UTF8, "line 1", kinds[k].name);
		}
}

/* ---- rejections of one field ---- */

struct reject {
	enum kind kind;
	const char *path;
	const char *value; /* NULL: delete the member */
	enum mc_err code;
	const char *field; /* must appear in the message */
};

static const struct reject rejects[] = {
        /* pointer */
        {POINTER, "node", NULL, MC_ERR_MISSING, "node"},
        {POINTER, "node", "\"pi cửa lò\"", MC_ERR_RANGE, "node"},
        {POINTER, "node", "\"minecast/v1/#\"", MC_ERR_RANGE, "node"},
        {POINTER, "node", "7", MC_ERR_TYPE, "node"},
        {POINTER, "version", NULL, MC_ERR_MISSING, "version"},
        {POINTER, "version", "0", MC_ERR_RANGE, "version"},
        {POINTER, "version", "\"42\"", MC_ERR_TYPE, "version"},
        {POINTER, "manifest_sha256", NULL, MC_ERR_MISSING, "manifest_sha256"},
        {POINTER, "manifest_sha256", "\"" SHA "00\"", MC_ERR_RANGE,
         "manifest_sha256"},
        {POINTER, "manifest_sha256",
         "\"3F2A9C0D1E4B5A6978877665544332211009F8E7D6C5B4A39281706F5E4D3C2B\"",
         MC_ERR_RANGE, "manifest_sha256"},
        {POINTER, "manifest_sha256",
         "\"3f2a9c0d1e4b5a6978877665544332211009f8e7d6c5b4a39281706f5e4d3c2\"",
         MC_ERR_RANGE, "manifest_sha256"},
        {POINTER, "manifest_size", "0", MC_ERR_RANGE, "manifest_size"},
        {POINTER, "manifest_size", "4194305", MC_ERR_RANGE, "manifest_size"},
        {POINTER, "manifest_url", NULL, MC_ERR_MISSING, "manifest_url"},
        {POINTER, "manifest_url", "\"\"", MC_ERR_RANGE, "manifest_url"},
        {POINTER, "issued_ms", "-1", MC_ERR_RANGE, "issued_ms"},
        {POINTER, "issued_ms", NULL, MC_ERR_MISSING, "issued_ms"},
        {POINTER, "expires_ms", NULL, MC_ERR_MISSING, "expires_ms"},
        {POINTER, "expires_ms", T0, MC_ERR_RANGE, "expires_ms"},
        {POINTER, "expires_ms", "1.7e12", MC_ERR_TYPE, "expires_ms"},
        /* alert */
        {ALERT, "id", NULL, MC_ERR_MISSING, "id"},
        {ALERT, "id", "\"sơ tán\"", MC_ERR_RANGE, "id"},
        {ALERT, "seq", "0", MC_ERR_RANGE, "seq"},
        {ALERT, "seq", NULL, MC_ERR_MISSING, "seq"},
        {ALERT, "clear", "\"false\"", MC_ERR_TYPE, "clear"},
        {ALERT, "level", NULL, MC_ERR_MISSING, "level"},
        {ALERT, "level", "\"panic\"", MC_ERR_RANGE, "level"},
        {ALERT, "level", "3", MC_ERR_TYPE, "level"},
        {ALERT, "text", NULL, MC_ERR_MISSING, "text"},
        {ALERT, "text", "\"\"", MC_ERR_RANGE, "text"},
        {ALERT, "text", "\"Sơ tán\\u001b[2J\"", MC_ERR_RANGE, "text"},
        {ALERT, "tone", "\"còi\"", MC_ERR_RANGE, "tone"},
        {ALERT, "repeat", "0", MC_ERR_RANGE, "repeat"},
        {ALERT, "repeat", "11", MC_ERR_RANGE, "repeat"},
        {ALERT, "start_at_ms", "-5", MC_ERR_RANGE, "start_at_ms"},
        {ALERT, "expires_ms", "1699747199999", MC_ERR_RANGE, "expires_ms"},
        {ALERT, "targets", "[]", MC_ERR_TYPE, "targets"},
        {ALERT, "targets.nodes", "[\"pi/1\"]", MC_ERR_RANGE,
         "targets.nodes[0]"},
        {ALERT, "targets.sites", "[1]", MC_ERR_TYPE, "targets.sites[0]"},
        /* alert_ack */
        {ALERT_ACK, "node", NULL, MC_ERR_MISSING, "node"},
        {ALERT_ACK, "alert", NULL, MC_ERR_MISSING, "alert"},
        {ALERT_ACK, "seq", "-1", MC_ERR_RANGE, "seq"},
        {ALERT_ACK, "status", NULL, MC_ERR_MISSING, "status"},
        {ALERT_ACK, "status", "\"played\"", MC_ERR_RANGE, "status"},
        {ALERT_ACK, "start_ms", "\"now\"", MC_ERR_TYPE, "start_ms"},
        {ALERT_ACK, "reason", "[]", MC_ERR_TYPE, "reason"},
        {ALERT_ACK, "at_ms", NULL, MC_ERR_MISSING, "at_ms"},
        /* state */
        {STATE, "node", NULL, MC_ERR_MISSING, "node"},
        {STATE, "online", NULL, MC_ERR_MISSING, "online"},
        {STATE, "online", "1", MC_ERR_TYPE, "online"},
        {STATE, "boot", "-1", MC_ERR_RANGE, "boot"},
        {STATE, "applied_version", "-1", MC_ERR_RANGE, "applied_version"},
        {STATE, "sync", "\"busy\"", MC_ERR_RANGE, "sync"},
        {STATE, "items_outstanding", "-2", MC_ERR_RANGE, "items_outstanding"},
        {STATE, "bytes_outstanding", "true", MC_ERR_TYPE, "bytes_outstanding"},
        {STATE, "at_ms", NULL, MC_ERR_MISSING, "at_ms"},
        {STATE, "software", "{}", MC_ERR_TYPE, "software"},
        /* health */
        {HEALTH, "node", NULL, MC_ERR_MISSING, "node"},
        {HEALTH, "at_ms", NULL, MC_ERR_MISSING, "at_ms"},
        {HEALTH, "uptime_s", "-1", MC_ERR_RANGE, "uptime_s"},
        {HEALTH, "load1", "-0.5", MC_ERR_RANGE, "load1"},
        {HEALTH, "load1", "\"0.4\"", MC_ERR_TYPE, "load1"},
        {HEALTH, "mem_total_kb", "-1", MC_ERR_RANGE, "mem_total_kb"},
        {HEALTH, "disk_free_bytes", "1.5", MC_ERR_TYPE, "disk_free_bytes"},
        {HEALTH, "cpu_temp_c", "500", MC_ERR_RANGE, "cpu_temp_c"},
        {HEALTH, "throttled", "-2", MC_ERR_RANGE, "throttled"},
        {HEALTH, "clock_synced", "\"yes\"", MC_ERR_TYPE, "clock_synced"},
        {HEALTH, "clock_offset_ms", "1e13", MC_ERR_RANGE, "clock_offset_ms"},
        {HEALTH, "playing", "[]", MC_ERR_TYPE, "playing"},
        {HEALTH, "playing.screen", "\"slogan\"", MC_ERR_TYPE, "playing.screen"},
        {HEALTH, "playing.screen.content", "\"khẩu hiệu\"", MC_ERR_RANGE,
         "playing.screen.content"},
        {HEALTH, "playing.speaker.reason", "5", MC_ERR_TYPE,
         "playing.speaker.reason"},
        {HEALTH, "errors",
         "[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\","
         "\"11\",\"12\",\"13\",\"14\",\"15\",\"16\",\"17\"]",
         MC_ERR_TOO_LARGE, "errors"},
        {HEALTH, "errors", "[7]", MC_ERR_TYPE, "errors[0]"},
        {HEALTH, "reconnects", "-1", MC_ERR_RANGE, "reconnects"},
        /* pop batch */
        {POP, "node", NULL, MC_ERR_MISSING, "node"},
        {POP, "batch", NULL, MC_ERR_MISSING, "batch"},
        {POP, "records", NULL, MC_ERR_MISSING, "records"},
        {POP, "records", "{}", MC_ERR_TYPE, "records"},
        {POP, "records.0", "\"r\"", MC_ERR_TYPE, "records[0]"},
        {POP, "records.0.id", NULL, MC_ERR_MISSING, "records[0].id"},
        {POP, "records.0.id", "\"r 1\"", MC_ERR_RANGE, "records[0].id"},
        {POP, "records.1.content", NULL, MC_ERR_MISSING, "records[1].content"},
        {POP, "records.0.sha256", "\"abc\"", MC_ERR_RANGE, "records[0].sha256"},
        {POP, "records.0.channel", "\"radio\"", MC_ERR_RANGE,
         "records[0].channel"},
        {POP, "records.1.channel", NULL, MC_ERR_MISSING, "records[1].channel"},
        {POP, "records.0.start_ms", NULL, MC_ERR_MISSING,
         "records[0].start_ms"},
        {POP, "records.0.end_ms", "1699747199999", MC_ERR_RANGE,
         "records[0].end_ms"},
        {POP, "records.0.completed", "0", MC_ERR_TYPE, "records[0].completed"},
        {POP, "records.0.count", "0", MC_ERR_RANGE, "records[0].count"},
        /* pop ack */
        {POP_ACK, "node", NULL, MC_ERR_MISSING, "node"},
        {POP_ACK, "batch", "\"b 1\"", MC_ERR_RANGE, "batch"},
        {POP_ACK, "ids", NULL, MC_ERR_MISSING, "ids"},
        {POP_ACK, "ids", "\"pi-1\"", MC_ERR_TYPE, "ids"},
        {POP_ACK, "ids.1", "\"\"", MC_ERR_RANGE, "ids[1]"},
        /* command */
        {COMMAND, "id", NULL, MC_ERR_MISSING, "id"},
        {COMMAND, "node", "\"\"", MC_ERR_RANGE, "node"},
        {COMMAND, "action", NULL, MC_ERR_MISSING, "action"},
        {COMMAND, "action", "\"format_disk\"", MC_ERR_RANGE, "action"},
        {COMMAND, "volume", NULL, MC_ERR_MISSING, "volume"},
        {COMMAND, "volume", "101", MC_ERR_RANGE, "volume"},
        {COMMAND, "volume", "-1", MC_ERR_RANGE, "volume"},
        {COMMAND, "expires_ms", "1699747200000", MC_ERR_RANGE, "expires_ms"},
        {COMMAND, "issued_ms", NULL, MC_ERR_MISSING, "issued_ms"},
        /* command result */
        {RESULT, "id", NULL, MC_ERR_MISSING, "id"},
        {RESULT, "ok", NULL, MC_ERR_MISSING, "ok"},
        {RESULT, "ok", "\"true\"", MC_ERR_TYPE, "ok"},
        {RESULT, "message", "\"lỗi\\u0000\"", MC_ERR_PARSE, "line 1"},
        {RESULT, "at_ms", "-1", MC_ERR_RANGE, "at_ms"},
};

static void test_reject_fields(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rejects) / sizeof(*rejects); i++) {
		const struct reject *r = &rejects[i];
		char *json = mc_test_patch(kinds[r->kind].fixture, r->path,
		                           r->value);
		struct mc_error e = {0};
		union any_msg m;
		char what[160];

		snprintf(what, sizeof(what), "%s %s = %s", kinds[r->kind].name,
		         r->path, r->value ? r->value : "(deleted)");
		dirty(&m);
		mc_test_expect_error(
		        kinds[r->kind].parse(json, strlen(json), &m, &e), &e,
		        r->code, r->field, what);
		/* A failed parse leaves nothing to free. */
		assert_true(all_zero(&m, kinds[r->kind].size));
		free(json);
	}
}

static void test_screen_power_needs_argument(void **state)
{
	const char *json = "{\"v\":1,\"id\":\"c2\",\"node\":\"pi-1\","
	                   "\"action\":\"screen_power\",\"issued_ms\":1,"
	                   "\"expires_ms\":2}";
	struct mc_command c;
	struct mc_error e = {0};

	(void)state;
	mc_test_expect_error(mc_command_parse(json, strlen(json), &c, &e), &e,
	                     MC_ERR_MISSING, "power_on", "screen_power");
}

static void test_pop_batch_limit(void **state)
{
	json_t *root = json_loads(pop_json, 0, NULL);
	json_t *recs = json_object_get(root, "records");
	json_t *rec = json_array_get(recs, 1);
	struct mc_pop_batch b;
	struct mc_error e = {0};
	char *json;

	(void)state;
	/* 1000 records are a batch; 1001 are not. */
	json_incref(rec);
	json_array_clear(recs);
	for (int i = 0; i < 1000; i++)
		json_array_append(recs, rec);
	json = json_dumps(root, JSON_COMPACT);
	assert_true(strlen(json) <= MC_MAX_POP_BYTES);
	assert_int_equal(mc_pop_batch_parse(json, strlen(json), &b, &e), MC_OK);
	assert_int_equal(b.n_records, 1000);
	mc_pop_batch_clear(&b);
	free(json);
	json_array_append(recs, rec);
	json = json_dumps(root, JSON_COMPACT);
	mc_test_expect_error(mc_pop_batch_parse(json, strlen(json), &b, &e), &e,
	                     MC_ERR_TOO_LARGE, "records", "1001 records");
	free(json);
	json_decref(rec);
	json_decref(root);
}

/* ---- topics ---- */

static void test_topics_build(void **state)
{
	char buf[MC_TOPIC_MAX];

	(void)state;
	assert_int_equal(mc_topic_node(buf, sizeof(buf), "pi-cua-lo-01",
	                               MC_TOPIC_DESIRED),
	                 MC_OK);
	assert_string_equal(buf, "minecast/v1/node/pi-cua-lo-01/desired");
	assert_int_equal(
	        mc_topic_node(buf, sizeof(buf), "pi-1", MC_TOPIC_CMD_RESULT),
	        MC_OK);
	assert_string_equal(buf, "minecast/v1/node/pi-1/cmd/result");
	assert_int_equal(mc_topic_node(buf, sizeof(buf), "+", MC_TOPIC_STATE),
	                 MC_OK);
	assert_string_equal(buf, "minecast/v1/node/+/state");
	assert_int_equal(mc_topic_alert(buf, sizeof(buf), "so-tan-lo-3"),
	                 MC_OK);
	assert_string_equal(buf, "minecast/v1/alert/so-tan-lo-3");
	assert_string_equal(MC_TOPIC_CONTROLLER_STATE,
	                    "minecast/v1/controller/state");

	assert_int_equal(mc_topic_node(buf, sizeof(buf), "pi/1", "state"),
	                 MC_ERR_INVAL);
	assert_int_equal(mc_topic_node(buf, sizeof(buf), "#", "state"),
	                 MC_ERR_INVAL);
	assert_int_equal(mc_topic_node(buf, sizeof(buf), NULL, "state"),
	                 MC_ERR_INVAL);
	assert_int_equal(mc_topic_node(buf, sizeof(buf), "pi-1", "status"),
	                 MC_ERR_INVAL);
	assert_int_equal(mc_topic_node(buf, sizeof(buf), "pi-1", NULL),
	                 MC_ERR_INVAL);
	assert_int_equal(mc_topic_node(buf, 20, "pi-1", "state"),
	                 MC_ERR_TOO_LARGE);
	assert_string_equal(buf, "");
	assert_int_equal(mc_topic_alert(buf, sizeof(buf), "a+b"), MC_ERR_INVAL);
	assert_int_equal(mc_topic_alert(buf, 10, "so-tan"), MC_ERR_TOO_LARGE);
}

static void test_topics_parse(void **state)
{
	static const char *const bad[] = {
	        "minecast/v1/node/pi-1",
	        "minecast/v1/node/pi-1/",
	        "minecast/v1/node//state",
	        "minecast/v1/node/+/state",
	        "minecast/v1/node/pi-1/state/extra",
	        "minecast/v2/node/pi-1/state",
	        "minecast/v1/node/pi 1/state",
	        "minecast/v1/node/pi-1/#",
	        "minecast/v1/alert/x",
	        "",
	        ("minecast/v1/node/"
	         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	         "aaaaaaaaaaaaaaaaaaaa/state"), /* a 65-byte id */
	};
	char id[65];
	const char *sfx;

	(void)state;
	assert_int_equal(
	        mc_topic_parse_node("minecast/v1/node/pi-1/pop/ack", id, &sfx),
	        MC_OK);
	assert_string_equal(id, "pi-1");
	assert_string_equal(sfx, MC_TOPIC_POP_ACK);
	assert_int_equal(mc_topic_parse_node("minecast/v1/node/pi-1/alert/ack",
	                                     id, &sfx),
	                 MC_OK);
	assert_string_equal(sfx, "alert/ack");
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		if (mc_topic_parse_node(bad[i], id, &sfx) != MC_ERR_INVAL)
			fail_msg("accepted %s", bad[i]);
		assert_null(sfx);
		assert_string_equal(id, "");
	}
	assert_int_equal(mc_topic_parse_node(NULL, id, &sfx), MC_ERR_INVAL);

	assert_int_equal(
	        mc_topic_parse_alert("minecast/v1/alert/so-tan-lo-3", id),
	        MC_OK);
	assert_string_equal(id, "so-tan-lo-3");
	assert_int_equal(mc_topic_parse_alert("minecast/v1/alert/", id),
	                 MC_ERR_INVAL);
	assert_int_equal(mc_topic_parse_alert("minecast/v1/alert/a/b", id),
	                 MC_ERR_INVAL);
	assert_int_equal(mc_topic_parse_alert("minecast/v1/alert/#", id),
	                 MC_ERR_INVAL);
	assert_int_equal(mc_topic_parse_alert("minecast/v1/node/x/state", id),
	                 MC_ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_round_trip_all),
	        cmocka_unit_test(test_pointer_fields),
	        cmocka_unit_test(test_alert_fields),
	        cmocka_unit_test(test_other_fields),
	        cmocka_unit_test(test_enum_names),
	        cmocka_unit_test(test_version_rule),
	        cmocka_unit_test(test_unknown_fields_ignored),
	        cmocka_unit_test(test_reject_input_all),
	        cmocka_unit_test(test_reject_invalid_utf8_all),
	        cmocka_unit_test(test_reject_fields),
	        cmocka_unit_test(test_screen_power_needs_argument),
	        cmocka_unit_test(test_pop_batch_limit),
	        cmocka_unit_test(test_topics_build),
	        cmocka_unit_test(test_topics_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
