/*
 * minecast — the INI syntax both configuration readers share (ini.h).
 *
 * Everything here was written twice before, once in each reader; where
 * the two differed in what they accept (the digits of a number, the
 * characters that start a comment after a value, how strict the text
 * check is), the difference is a parameter, so that neither reader
 * changes what it accepts or says.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "minecast/ini.h"
#include "minecast/util.h"

const char *mc_ini_shown(const char *v, char buf[MC_INI_SHOWN_BYTES])
{
	size_t n = strlen(v);

	if (n <= MC_INI_SHOWN_MAX)
		return v;
	n = MC_INI_SHOWN_MAX;
	while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
		n--;
	memcpy(buf, v, n);
	memcpy(buf + n, "...", 4);
	return buf;
}

char *mc_ini_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	*e = '\0';
	return s;
}

bool mc_ini_digits(const char **s, int max_digits, int64_t *v)
{
	const char *p = *s;
	int64_t n = 0;

	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9') {
		if (p - *s >= max_digits)
			return false;
		n = n * 10 + (*p - '0');
		p++;
	}
	*s = p;
	*v = n;
	return true;
}

bool mc_ini_number_unit(const char *s, int max_digits,
                        const struct mc_ini_unit *units, size_t n_units,
                        int64_t *n, int64_t *mul)
{
	if (!mc_ini_digits(&s, max_digits, n))
		return false;
	while (*s == ' ')
		s++;
	for (size_t i = 0; i < n_units; i++) {
		if (strcasecmp(s, units[i].name) == 0) {
			*mul = units[i].mul;
			return true;
		}
	}
	return false;
}

bool mc_ini_parse_size(const char *s, int max_digits, int64_t *bytes)
{
	int64_t n, mul = 1;

	if (!mc_ini_digits(&s, max_digits, &n))
		return false;
	while (*s == ' ')
		s++;
	switch (*s) {
	case 'k':
	case 'K': mul = 1024; break;
	case 'm':
	case 'M': mul = 1024 * 1024; break;
	case 'g':
	case 'G': mul = 1024LL * 1024 * 1024; break;
	case 't':
	case 'T': mul = 1024LL * 1024 * 1024 * 1024; break;
	default: break;
	}
	if (mul > 1)
		s++;
	/* "Ki" and "KiB" say the same as "K": sizes are powers of 1024. */
	if (mul > 1 && (*s == 'i' || *s == 'I'))
		s++;
	if (*s == 'b' || *s == 'B')
		s++;
	if (*s || n > INT64_MAX / mul)
		return false;
	*bytes = n * mul;
	return true;
}

const char *mc_ini_unquote(char *v, const char *comment, char **out)
{
	char *e;

	v = mc_ini_trim(v);
	if (*v == '"') {
		e = strchr(v + 1, '"');
		if (!e)
			return "a value opened with \" is not closed";
		*e = '\0';
		*out = v + 1;
		e = mc_ini_trim(e + 1);
		if (*e && *e != '#' && *e != ';')
			return "text after the closing \"; quote the whole "
			       "value";
		return NULL;
	}
	/* A comment character inside a word ("a#b") is part of the value. */
	for (e = v; *e; e++) {
		if (strchr(comment, *e) &&
		    (e == v || e[-1] == ' ' || e[-1] == '\t')) {
			*e = '\0';
			break;
		}
	}
	*out = mc_ini_trim(v);
	return NULL;
}

void mc_ini_lex(char *s, struct mc_ini_line *line)
{
	char *e, *after;

	memset(line, 0, sizeof(*line));
	s = mc_ini_trim(s);
	line->text = s;
	if (!*s || *s == '#' || *s == ';') {
		line->kind = MC_INI_BLANK;
		return;
	}
	if (*s == '[') {
		e = strchr(s, ']');
		if (!e) {
			line->kind = MC_INI_UNCLOSED;
			return;
		}
		*e = '\0';
		line->name = mc_ini_trim(s + 1);
		after = mc_ini_trim(e + 1);
		line->kind = *after && *after != '#' && *after != ';'
		                     ? MC_INI_AFTER_HEADER
		                     : MC_INI_SECTION;
		return;
	}
	e = strchr(s, '=');
	if (!e) {
		line->kind = MC_INI_NOT_SETTING;
		return;
	}
	*e = '\0';
	line->kind = MC_INI_KEY;
	line->name = mc_ini_trim(s);
	line->value = e + 1;
}

char *mc_ini_next_line(char **cursor)
{
	char *s = *cursor, *nl;

	if (!s || !*s)
		return NULL;
	nl = strchr(s, '\n');
	if (nl)
		*nl++ = '\0';
	*cursor = nl;
	return s;
}

void mc_ini_skip_bom(const char **text, size_t *len)
{
	if (*len >= 3 && memcmp(*text, "\xEF\xBB\xBF", 3) == 0) {
		*text += 3;
		*len -= 3;
	}
}

bool mc_ini_text_ok(const char *text, size_t len, bool strict,
                    struct mc_ini_bad *bad)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0, bol = 0;

	bad->line = 1;
	while (i < len) {
		unsigned ch = s[i];
		size_t need;
		uint32_t cp;

		if (ch == '\n') {
			bad->line++;
			bol = ++i;
			continue;
		}
		if (ch < 0x80) {
			/* Strict: a CR only as part of a Windows line end. */
			bool cr_ok =
			        ch == '\r' &&
			        (!strict || (i + 1 < len && s[i + 1] == '\n'));

			if ((ch < 0x20 && ch != '\t' && !cr_ok) || ch == 0x7F)
				goto fail;
			i++;
			continue;
		}
		if (ch >= 0xC2 && ch <= 0xDF)
			need = 1, cp = ch & 0x1F;
		else if (ch >= 0xE0 && ch <= 0xEF)
			need = 2, cp = ch & 0x0F;
		else if (ch >= 0xF0 && ch <= 0xF4)
			need = 3, cp = ch & 0x07;
		else
			goto fail;
		if (len - i <= need)
			goto fail;
		for (size_t j = 1; j <= need; j++) {
			if ((s[i + j] & 0xC0) != 0x80)
				goto fail;
			cp = cp << 6 | (s[i + j] & 0x3F);
		}
		if ((need == 2 && cp < 0x800) ||
		    (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF) ||
		    (strict && cp >= 0x80 && cp < 0xA0))
			goto fail;
		i += need + 1;
	}
	return true;
fail:
	bad->col = (int)(i - bol) + 1;
	bad->byte = s[i];
	return false;
}

char *mc_ini_dir_of(const char *name)
{
	const char *slash = strrchr(name, '/');

	if (!slash)
		return NULL;
	if (slash == name)
		return strdup("/");
	return strndup(name, (size_t)(slash - name));
}

char *mc_ini_resolve(const char *dir, const char *path)
{
	if (path[0] == '/' || !dir)
		return strdup(path);
	return mc_printf("%s/%s", dir, path);
}
