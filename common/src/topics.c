/* minecast — building and splitting MQTT topic names (topics.h). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "minecast/messages.h"
#include "minecast/text.h"
#include "minecast/topics.h"

#define NODE_PREFIX  MC_TOPIC_ROOT "node/"
#define ALERT_PREFIX MC_TOPIC_ROOT "alert/"

/* The only suffixes a node topic may carry. */
static const char *const suffixes[] = {
        MC_TOPIC_DESIRED,    MC_TOPIC_STATE,     MC_TOPIC_HEALTH,
        MC_TOPIC_POP,        MC_TOPIC_POP_ACK,   MC_TOPIC_CMD,
        MC_TOPIC_CMD_RESULT, MC_TOPIC_ALERT_ACK,
};

static const char *find_suffix(const char *s)
{
	for (size_t i = 0; s && i < sizeof(suffixes) / sizeof(*suffixes); i++)
		if (strcmp(suffixes[i], s) == 0)
			return suffixes[i];
	return NULL;
}

/* snprintf into buf, mapping truncation to MC_ERR_TOO_LARGE. */
static enum mc_err put(char *buf, size_t len, const char *a, const char *b,
                       const char *c)
{
	int n;

	if (!buf || len == 0)
		return MC_ERR_INVAL;
	n = snprintf(buf, len, "%s%s%s", a, b, c);
	if (n < 0 || (size_t)n >= len) {
		buf[0] = '\0';
		return MC_ERR_TOO_LARGE;
	}
	return MC_OK;
}

enum mc_err mc_topic_node(char *buf, size_t len, const char *node,
                          const char *suffix)
{
	const char *sfx = find_suffix(suffix);
	bool wildcard = node && strcmp(node, "+") == 0;
	enum mc_err rc;

	if (!sfx || (!wildcard && !mc_id_valid(node))) {
		if (buf && len)
			buf[0] = '\0';
		return MC_ERR_INVAL;
	}
	rc = put(buf, len, NODE_PREFIX, node, "/");
	if (rc != MC_OK)
		return rc;
	if (strlen(buf) + strlen(sfx) + 1 > len) {
		buf[0] = '\0';
		return MC_ERR_TOO_LARGE;
	}
	strcat(buf, sfx);
	return MC_OK;
}

enum mc_err mc_topic_alert(char *buf, size_t len, const char *alert_id)
{
	if (!mc_id_valid(alert_id)) {
		if (buf && len)
			buf[0] = '\0';
		return MC_ERR_INVAL;
	}
	return put(buf, len, ALERT_PREFIX, alert_id, "");
}

/*
 * Copy the id that starts at s and ends before stop into id, if it is a
 * valid id.  stop may be NULL: the id runs to the end of s.
 */
static bool take_id(const char *s, const char *stop, char id[65])
{
	size_t n = stop ? (size_t)(stop - s) : strlen(s);

	if (n == 0 || n > MC_ID_MAX)
		return false;
	memcpy(id, s, n);
	id[n] = '\0';
	return mc_id_valid(id);
}

enum mc_err mc_topic_parse_node(const char *topic, char id[65],
                                const char **suffix)
{
	size_t plen = strlen(NODE_PREFIX);
	const char *rest, *slash;

	*suffix = NULL;
	id[0] = '\0';
	if (!topic || strncmp(topic, NODE_PREFIX, plen) != 0)
		return MC_ERR_INVAL;
	rest = topic + plen;
	slash = strchr(rest, '/');
	if (!slash || !take_id(rest, slash, id)) {
		id[0] = '\0';
		return MC_ERR_INVAL;
	}
	*suffix = find_suffix(slash + 1);
	if (!*suffix) {
		id[0] = '\0';
		return MC_ERR_INVAL;
	}
	return MC_OK;
}

enum mc_err mc_topic_parse_alert(const char *topic, char id[65])
{
	size_t plen = strlen(ALERT_PREFIX);

	id[0] = '\0';
	if (!topic || strncmp(topic, ALERT_PREFIX, plen) != 0 ||
	    !take_id(topic + plen, NULL, id)) {
		id[0] = '\0';
		return MC_ERR_INVAL;
	}
	return MC_OK;
}
