/*
 * Vietnamese text → the words a voice reads (viet.h).
 *
 * espeak-ng's Vietnamese voice reads digits one by one and spells
 * abbreviations letter by letter, so a bulletin saying "12/11" or "TKV"
 * comes out as noise.  This pass rewrites, left to right:
 *
 *   numbers      "2023" → "hai nghìn không trăm hai mươi ba", by the
 *                Vietnamese rules: mười (10), mươi (20+), mốt (21), tư
 *                (24), lăm (15, 25), linh (105), "không trăm" inside a
 *                number, nghìn / triệu / tỷ; "1.000.000" (dots group
 *                thousands), "2,5" → "hai phẩy năm", "2.1" → "hai chấm
 *                một", "-5" → "âm năm"; a number with a leading zero
 *                ("0912...") or of 16 digits and more is read digit by
 *                digit
 *   dates        "12/11" → "ngày mười hai tháng mười một", "12/11/2023",
 *                "12-11-2023", "12.11.2023", "2023-11-12" add "năm ...",
 *                "11/2023" → "tháng mười một năm ..."; "ngày 12-11" and
 *                "ngày 12.11" too.  A date right after the word "ngày"
 *                (or a month after "tháng") does not repeat it
 *   times        "6h30", "6h30p", "06:30" → "sáu giờ ba mươi phút",
 *                "14h" → "mười bốn giờ", "06:30:15" adds "mười lăm giây"
 *   units        "15%" → "mười lăm phần trăm", "5km", "30°C", ... (the
 *                units table below)
 *   ranges       "(1936–2023)" → "(từ một nghìn ... đến hai nghìn ...)":
 *                two numbers, dates or times joined by an en or em dash,
 *                or by a hyphen when both are dates, both times, or
 *                ascending whole numbers ("ca 1-2", "2020-2025")
 *   words        "tháng 4" → "tháng tư", "thứ 4" → "thứ tư", "thứ 1" →
 *                "thứ nhất"; Roman numerals after khóa, hội, thứ, kỷ,
 *                chương, phần ("Đại hội XIII" → "Đại hội mười ba")
 *   abbreviations the table below, matched case-sensitively and only as
 *                whole tokens, so "CĐ" is read in "CĐ Than" but not
 *                inside "CĐTKV" (which has its own line) or "ACĐ"
 *
 * Everything else is copied as it is.  Input that is valid UTF-8 gives
 * valid UTF-8; invalid bytes are copied through and never read past.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "minecast/util.h"

#include "viet.h"

/*
 * Abbreviations of the domain (a coal and minerals group's party and
 * union letters) and what a reader says for them.  One table, longest
 * match first at a token start; add lines here.  Case matters: "TW" is
 * an abbreviation, "Tw" is not.
 */
static const struct abbrev {
	const char *abbr;  /* as written, NFC */
	const char *words; /* as spoken */
} abbrevs[] = {
        {"TKV", "Tập đoàn Than – Khoáng sản Việt Nam"},
        {"CĐTKV", "Công đoàn Than – Khoáng sản Việt Nam"},
        {"CNVC-LĐ", "công nhân viên chức lao động"},
        {"CNVCLĐ", "công nhân viên chức lao động"},
        {"CBCNV", "cán bộ công nhân viên"},
        {"NLĐ", "người lao động"},
        {"UBND", "Ủy ban nhân dân"},
        {"HĐND", "Hội đồng nhân dân"},
        {"ATLĐ", "an toàn lao động"},
        {"VSLĐ", "vệ sinh lao động"},
        {"ATVSLĐ", "an toàn vệ sinh lao động"},
        {"BHLĐ", "bảo hộ lao động"},
        {"TNLĐ", "tai nạn lao động"},
        {"PCCC", "phòng cháy chữa cháy"},
        {"BCH", "Ban Chấp hành"},
        {"BTV", "Ban Thường vụ"},
        {"UBKT", "Ủy ban Kiểm tra"},
        {"BTG", "Ban Tuyên giáo"},
        {"BTGTW", "Ban Tuyên giáo Trung ương"},
        {"TW", "Trung ương"},
        {"TƯ", "Trung ương"},
        {"DNTW", "Doanh nghiệp Trung ương"},
        {"ĐU", "Đảng ủy"},
        {"CĐ", "Công đoàn"},
        {"LĐLĐ", "Liên đoàn Lao động"},
        {"HĐTV", "Hội đồng thành viên"},
        {"TGĐ", "Tổng giám đốc"},
        {"PTGĐ", "Phó Tổng giám đốc"},
        {"GĐ", "Giám đốc"},
        {"PGĐ", "Phó Giám đốc"},
        {"CNXH", "chủ nghĩa xã hội"},
        {"XHCN", "xã hội chủ nghĩa"},
        {"ĐCSVN", "Đảng Cộng sản Việt Nam"},
        {"VN", "Việt Nam"},
        {"TP", "thành phố"},
        {"đ/c", "đồng chí"},
        {"Đ/c", "Đồng chí"},
};

/*
 * Units read after a number ("15%", "5 km"), longest match first; one
 * space between the number and the unit is allowed.  A unit that ends
 * in a letter must end its token ("5ha" is hectares, "5hai" is not).
 */
static const struct abbrev units[] = {
        {"%", "phần trăm"},  {"°C", "độ C"},        {"°", "độ"},
        {"km", "ki lô mét"}, {"kg", "ki lô gam"},   {"kWh", "ki lô oát giờ"},
        {"kW", "ki lô oát"}, {"MW", "mê ga oát"},   {"m²", "mét vuông"},
        {"m2", "mét vuông"}, {"m³", "mét khối"},    {"m3", "mét khối"},
        {"ha", "héc ta"},    {"cm", "xăng ti mét"}, {"mm", "mi li mét"},
        {"m", "mét"},        {"VNĐ", "đồng"},       {"đ", "đồng"},
        {"USD", "đô la Mỹ"},
};

static const char *const digit_words[10] = {
        "không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín",
};

/* ---- output buffer ------------------------------------------------- */

/* A growing string; oom makes every later append a no-op. */
struct sb {
	char *p;    /* NUL-terminated text, or NULL before the first append */
	size_t len; /* bytes used, without the NUL */
	size_t cap; /* bytes allocated */
	bool oom;   /* an allocation failed */
	bool glue;  /* words were just inserted: a following letter or digit
	               needs a space before it */
};

static void sb_put(struct sb *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_puts(struct sb *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

/* Append a word to a phrase: a space before all but the first. */
static void add(struct sb *ph, const char *word)
{
	if (ph->len)
		sb_put(ph, " ", 1);
	sb_puts(ph, word);
}

/* ---- characters ---------------------------------------------------- */

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* Letters, marks and digits make words; everything else separates. */
static bool word_cp(int32_t cp)
{
	if (cp < 0)
		return false;
	if (cp < 0x80)
		return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') ||
		       (cp >= 'A' && cp <= 'Z');
	switch (utf8proc_category(cp)) {
	case UTF8PROC_CATEGORY_LU:
	case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT:
	case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO:
	case UTF8PROC_CATEGORY_MN:
	case UTF8PROC_CATEGORY_MC:
	case UTF8PROC_CATEGORY_ME:
	case UTF8PROC_CATEGORY_ND:
	case UTF8PROC_CATEGORY_NL:
	case UTF8PROC_CATEGORY_NO: return true;
	default: return false;
	}
}

/* The code point at s[i] (-1 if invalid or at the end) and its length. */
static int32_t cp_at(const char *s, size_t n, size_t i, size_t *len)
{
	utf8proc_int32_t cp = -1;
	utf8proc_ssize_t k;

	*len = 1;
	if (i >= n)
		return -1;
	k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
	                     (utf8proc_ssize_t)(n - i), &cp);
	if (k <= 0)
		return -1;
	*len = (size_t)k;
	return cp;
}

/* Start of the code point that ends just before s[i] (i > 0). */
static size_t cp_back(const char *s, size_t i)
{
	size_t j = i - 1;

	while (j > 0 && i - j < 4 && ((unsigned char)s[j] & 0xc0) == 0x80)
		j--;
	return j;
}

/* Is the code point before s[i] a word character? */
static bool word_before(const char *s, size_t n, size_t i)
{
	size_t j, len;

	if (i == 0)
		return false;
	j = cp_back(s, i);
	return word_cp(cp_at(s, n, j, &len)) && j + len == i;
}

static bool word_at(const char *s, size_t n, size_t i)
{
	size_t len;

	return word_cp(cp_at(s, n, i, &len));
}

/* Context: the word before s[i] (spaces skipped), case-folded, in buf. */
static void prev_word(const char *s, size_t n, size_t i, char *buf, size_t size)
{
	size_t end, start;
	utf8proc_uint8_t *folded = NULL;

	buf[0] = '\0';
	while (i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t'))
		i--;
	end = i;
	/* Only short words matter; a long run is not walked (quadratic). */
	while (i > 0 && end - i < size && word_before(s, n, i))
		i = cp_back(s, i);
	start = i;
	if (start == end || end - start >= size)
		return;
	if (utf8proc_map((const utf8proc_uint8_t *)s + start,
	                 (utf8proc_ssize_t)(end - start), &folded,
	                 UTF8PROC_CASEFOLD | UTF8PROC_COMPOSE) < 0)
		return;
	if (strlen((char *)folded) < size)
		strcpy(buf, (char *)folded);
	free(folded);
}

static bool word_in(const char *w, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(w, *list) == 0)
			return true;
	return false;
}

/* ---- numbers ------------------------------------------------------- */

/*
 * One group of three digits.  full: read the hundreds even when 0 and
 * say "linh" before a lone unit — a group inside a larger number
 * ("một nghìn không trăm linh năm").
 */
static void group_words(struct sb *ph, int g, bool full)
{
	int h = g / 100, t = g / 10 % 10, u = g % 10;

	if (h || full) {
		add(ph, digit_words[h]);
		add(ph, "trăm");
	}
	if (t == 0) {
		if (u && (h || full))
			add(ph, "linh");
		if (u)
			add(ph, digit_words[u]);
		return;
	}
	if (t == 1) {
		add(ph, "mười");
	} else {
		add(ph, digit_words[t]);
		add(ph, "mươi");
	}
	if (u == 5)
		add(ph, "lăm");
	else if (u == 1 && t >= 2)
		add(ph, "mốt");
	else if (u == 4 && t >= 2)
		add(ph, "tư");
	else if (u)
		add(ph, digit_words[u]);
}

/* n < 10^9 in groups of triệu, nghìn and units; leading: the first group
 * of the whole number (no "không trăm"). */
static void below_billion(struct sb *ph, int64_t n, bool leading)
{
	static const char *const scale[3] = {"triệu", "nghìn", NULL};
	int groups[3] = {(int)(n / 1000000), (int)(n / 1000 % 1000),
	                 (int)(n % 1000)};

	for (int k = 0; k < 3; k++) {
		if (!groups[k])
			continue;
		group_words(ph, groups[k], !leading);
		leading = false;
		if (scale[k])
			add(ph, scale[k]);
	}
}

static void number_words(struct sb *ph, int64_t n)
{
	if (n == 0) {
		add(ph, digit_words[0]);
		return;
	}
	if (n >= 1000000000) {
		below_billion(ph, n / 1000000000, true);
		add(ph, "tỷ");
		if (n % 1000000000)
			below_billion(ph, n % 1000000000, false);
		return;
	}
	below_billion(ph, n, true);
}

char *mcc_viet_number(int64_t n)
{
	struct sb ph = {0};

	if (n < 0 || n >= INT64_C(1000000000000000))
		return NULL;
	number_words(&ph, n);
	if (ph.oom) {
		free(ph.p);
		return NULL;
	}
	return ph.p;
}

/* Digits one by one ("không chín một hai"). */
static void digits_words(struct sb *ph, const char *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		add(ph, digit_words[d[i] - '0']);
}

/*
 * A fraction part ("05" of "2,05"): its leading zeros as "không", the
 * rest as a number when short, else digit by digit.
 */
static void fraction_words(struct sb *ph, const char *d, size_t n)
{
	size_t z = 0;
	int64_t v = 0;

	while (z < n && d[z] == '0') {
		add(ph, digit_words[0]);
		z++;
	}
	if (z == n)
		return;
	if (n - z > 3) {
		digits_words(ph, d + z, n - z);
		return;
	}
	for (size_t i = z; i < n; i++)
		v = v * 10 + (d[i] - '0');
	number_words(ph, v);
}

/* A whole number as written: leading zero or too long → digits. */
static void int_words(struct sb *ph, const char *d, size_t n, int64_t v)
{
	if ((n > 1 && d[0] == '0') || n > 15)
		digits_words(ph, d, n);
	else
		number_words(ph, v);
}

/* ---- quantities ---------------------------------------------------- */

enum qkind {
	Q_INT,     /* a whole number (digits, or with thousand dots) */
	Q_DECIMAL, /* 2,5 (phẩy) */
	Q_DOTTED,  /* 2.1, 4.0, 1.2.3 (chấm) */
	Q_DATE,    /* d/m or d/m/y (y 0 = none) */
	Q_MONTH,   /* m/y */
	Q_TIME     /* h[:m[:s]] */
};

/* A number, date or time found in the text. */
struct qty {
	enum qkind kind;
	bool neg;         /* a minus sign before it */
	const char *d;    /* Q_INT: its digits without dots (in digits) */
	size_t nd;        /* their count */
	char digits[20];  /* Q_INT with thousand dots: the digits joined */
	int64_t v;        /* Q_INT, Q_DECIMAL: the whole part; -1 too long */
	const char *frac; /* Q_DECIMAL: the fraction digits */
	size_t nfrac;     /* their count */
	size_t start;     /* Q_DOTTED: offset of the first digit */
	int day, month, year;     /* Q_DATE, Q_MONTH */
	int hour, minute, second; /* Q_TIME; -1 = not given */
	const char *unit;         /* words of a unit after it, or NULL */
	size_t end;               /* offset just past it in the input */
};

/* Digits at s[i]: how many (stops at max+1), value in *v (-1 if over
 * 15 digits). */
static size_t scan_digits(const char *s, size_t n, size_t i, int64_t *v)
{
	size_t k = 0;
	int64_t x = 0;

	while (i + k < n && is_digit(s[i + k])) {
		if (k < 18)
			x = x * 10 + (s[i + k] - '0');
		k++;
	}
	*v = k > 15 ? -1 : x;
	return k;
}

static int days_in(int month, int year)
{
	static const int days[12] = {31, 29, 31, 30, 31, 30,
	                             31, 31, 30, 31, 30, 31};

	if (month == 2 && year)
		return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
		               ? 29
		               : 28;
	return days[month - 1];
}

static bool date_ok(int d, int m, int y)
{
	return m >= 1 && m <= 12 && d >= 1 && d <= days_in(m, y) &&
	       (y == 0 || (y >= 1000 && y <= 9999));
}

/* A time: "6h", "6h30", "6h30p", "06:30", "06:30:15". */
static bool scan_time(const char *s, size_t n, size_t i, struct qty *q)
{
	int64_t h, m, sec = -1;
	size_t k = scan_digits(s, n, i, &h), k2;

	if (k < 1 || k > 2 || h > 24)
		return false;
	i += k;
	if (i < n && (s[i] == 'h' || s[i] == 'H')) {
		i++;
		m = -1;
		k2 = scan_digits(s, n, i, &m);
		if (k2 > 2 || (k2 && m > 59))
			return false;
		if (!k2)
			m = -1;
		i += k2;
		if (k2 && i < n && s[i] == 'p')
			i++;
		if (word_at(s, n, i))
			return false;
	} else if (i + 2 < n && s[i] == ':' && is_digit(s[i + 1])) {
		k2 = scan_digits(s, n, i + 1, &m);
		if (k2 != 2 || m > 59)
			return false;
		i += 3;
		if (i + 2 < n && s[i] == ':' && is_digit(s[i + 1])) {
			k2 = scan_digits(s, n, i + 1, &sec);
			if (k2 != 2 || sec > 59)
				return false;
			i += 3;
		}
		if (i < n && is_digit(s[i]))
			return false;
	} else {
		return false;
	}
	if (h == 24 && m > 0)
		return false;
	q->kind = Q_TIME;
	q->hour = (int)h;
	q->minute = (int)m;
	q->second = (int)sec;
	q->end = i;
	return true;
}

/*
 * A date: d/m, d/m/yyyy, d-m-yyyy, d.m.yyyy, yyyy-mm-dd, m/yyyy; d-m
 * and d.m only after the word "ngày" (after_ngay).
 */
static bool scan_date(const char *s, size_t n, size_t i, bool after_ngay,
                      struct qty *q)
{
	int64_t a, b, c;
	size_t ka = scan_digits(s, n, i, &a), kb, kc;
	char sep;

	if (ka == 4 && i + 4 < n && s[i + 4] == '-') {
		/* ISO: yyyy-mm-dd */
		kb = scan_digits(s, n, i + 5, &b);
		if (kb != 2 || i + 7 >= n || s[i + 7] != '-')
			return false;
		kc = scan_digits(s, n, i + 8, &c);
		if (kc != 2 || !date_ok((int)c, (int)b, (int)a))
			return false;
		q->kind = Q_DATE;
		q->day = (int)c, q->month = (int)b, q->year = (int)a;
		q->end = i + 10;
		return true;
	}
	if (ka < 1 || ka > 2 || i + ka >= n)
		return false;
	sep = s[i + ka];
	if (sep != '/' && sep != '-' && sep != '.')
		return false;
	kb = scan_digits(s, n, i + ka + 1, &b);
	if (kb == 4 && sep == '/') {
		/* m/yyyy */
		if (a < 1 || a > 12 || b < 1000 ||
		    (i + ka + 5 < n && is_digit(s[i + ka + 5])))
			return false;
		q->kind = Q_MONTH;
		q->month = (int)a, q->year = (int)b;
		q->end = i + ka + 5;
		return true;
	}
	if (kb < 1 || kb > 2)
		return false;
	q->end = i + ka + 1 + kb;
	c = 0;
	if (q->end + 1 < n && s[q->end] == sep && is_digit(s[q->end + 1])) {
		kc = scan_digits(s, n, q->end + 1, &c);
		if (kc != 4)
			return false;
		q->end += 5;
	} else if (sep != '/' && !after_ngay) {
		return false;
	}
	if (q->end < n && is_digit(s[q->end]))
		return false;
	/* "1.000" is a thousand, not a date, unless the word says so. */
	if (sep == '.' && !c && !after_ngay)
		return false;
	if (!date_ok((int)a, (int)b, (int)c))
		return false;
	q->kind = Q_DATE;
	q->day = (int)a, q->month = (int)b, q->year = (int)c;
	return true;
}

/* A number: 2023, 1.000.000, 1.000,5, 2,5, 2.1, 1.2.3, 0912... */
static void scan_number(const char *s, size_t n, size_t i, struct qty *q)
{
	int64_t v, g;
	size_t k = scan_digits(s, n, i, &v), j, kg;

	q->kind = Q_INT;
	q->d = s + i;
	q->nd = k;
	q->v = v;
	q->end = i + k;
	q->start = i;
	/* Thousand dots: 1-3 digits, then groups of exactly three. */
	if (k <= 3 && s[i] != '0' && i + k < n && s[i + k] == '.' &&
	    scan_digits(s, n, i + k + 1, &g) == 3) {
		size_t nd = k;

		memcpy(q->digits, s + i, k);
		j = i + k;
		while (j < n && s[j] == '.' &&
		       scan_digits(s, n, j + 1, &g) == 3 && nd + 3 <= 18) {
			memcpy(q->digits + nd, s + j + 1, 3);
			nd += 3;
			j += 4;
		}
		if (!(j < n && (is_digit(s[j]) || (s[j] == '.' && j + 1 < n &&
		                                   is_digit(s[j + 1]))))) {
			q->digits[nd] = '\0';
			q->d = q->digits;
			q->nd = nd;
			q->v = 0;
			for (size_t x = 0; x < nd && nd <= 15; x++)
				q->v = q->v * 10 + (q->digits[x] - '0');
			if (nd > 15)
				q->v = -1;
			q->end = j;
		}
	}
	j = q->end;
	if (j + 1 < n && s[j] == ',' && is_digit(s[j + 1])) {
		kg = scan_digits(s, n, j + 1, &g);
		q->kind = Q_DECIMAL;
		q->frac = s + j + 1;
		q->nfrac = kg;
		q->end = j + 1 + kg;
	} else if (q->d == s + i && j + 1 < n && s[j] == '.' &&
	           is_digit(s[j + 1])) {
		q->kind = Q_DOTTED;
		while (j + 1 < n && s[j] == '.' && is_digit(s[j + 1]))
			j += 1 + scan_digits(s, n, j + 1, &g);
		q->end = j;
	}
}

/* A unit after a number (one space allowed); sets q->unit and q->end. */
static void scan_unit(const char *s, size_t n, struct qty *q)
{
	size_t i = q->end, best = 0;
	const char *words = NULL;

	if (i < n && s[i] == ' ')
		i++;
	for (size_t k = 0; k < MC_ARRAY_LEN(units); k++) {
		size_t len = strlen(units[k].abbr);

		/* A unit that is a word must end its token ("5 m" but not
		 * "5 một"); % and ° need not. */
		bool symbol = units[k].abbr[0] == '%' ||
		              (unsigned char)units[k].abbr[0] == 0xc2;

		if (len > best && i + len <= n &&
		    memcmp(s + i, units[k].abbr, len) == 0 &&
		    (symbol || !word_at(s, n, i + len))) {
			best = len;
			words = units[k].words;
		}
	}
	if (words) {
		q->unit = words;
		q->end = i + best;
	}
}

/*
 * A quantity at s[i] (a digit, or a minus sign before one).  ctx is the
 * case-folded word before it.
 */
static bool scan_qty(const char *s, size_t n, size_t i, const char *ctx,
                     struct qty *q)
{
	memset(q, 0, sizeof(*q));
	q->hour = q->minute = q->second = -1;
	if (s[i] == '-') {
		q->neg = true;
		i++;
	} else if ((unsigned char)s[i] == 0xe2 && i + 2 < n &&
	           (unsigned char)s[i + 1] == 0x88 &&
	           (unsigned char)s[i + 2] == 0x92) {
		q->neg = true; /* U+2212 MINUS SIGN */
		i += 3;
	}
	if (i >= n || !is_digit(s[i]))
		return false;
	if (!q->neg && (scan_time(s, n, i, q) ||
	                scan_date(s, n, i, strcmp(ctx, "ngày") == 0, q)))
		return true;
	scan_number(s, n, i, q);
	scan_unit(s, n, q);
	return true;
}

/*
 * Speak q into ph.  ctx is the word before it: "ngày" and "tháng" are
 * not repeated, and after "tháng" and "thứ" 4 is "tư", after "thứ" 1 is
 * "nhất".
 */
static void qty_words(struct sb *ph, const struct qty *q, const char *ctx)
{
	switch (q->kind) {
	case Q_INT:
		if (q->neg)
			add(ph, "âm");
		if (q->v == 4 && q->nd == 1 &&
		    (strcmp(ctx, "tháng") == 0 || strcmp(ctx, "thứ") == 0))
			add(ph, "tư");
		else if (q->v == 1 && q->nd == 1 && strcmp(ctx, "thứ") == 0)
			add(ph, "nhất");
		else
			int_words(ph, q->d, q->nd, q->v);
		break;
	case Q_DECIMAL:
		if (q->neg)
			add(ph, "âm");
		int_words(ph, q->d, q->nd, q->v);
		add(ph, "phẩy");
		fraction_words(ph, q->frac, q->nfrac);
		break;
	case Q_DOTTED: {
		const char *p = q->d, *end = q->d + (q->end - q->start);

		if (q->neg)
			add(ph, "âm");
		while (p < end) {
			const char *e = p;
			int64_t v = 0;

			while (e < end && is_digit(*e)) {
				if (e - p < 16)
					v = v * 10 + (*e - '0');
				e++;
			}
			if (p != q->d)
				add(ph, "chấm");
			if (p == q->d)
				int_words(ph, p, (size_t)(e - p), v);
			else
				fraction_words(ph, p, (size_t)(e - p));
			p = e < end ? e + 1 : e;
		}
		break;
	}
	case Q_DATE:
		if (strcmp(ctx, "ngày") != 0)
			add(ph, "ngày");
		number_words(ph, q->day);
		add(ph, "tháng");
		if (q->month == 4)
			add(ph, "tư");
		else
			number_words(ph, q->month);
		if (q->year) {
			add(ph, "năm");
			number_words(ph, q->year);
		}
		break;
	case Q_MONTH:
		if (strcmp(ctx, "tháng") != 0)
			add(ph, "tháng");
		if (q->month == 4)
			add(ph, "tư");
		else
			number_words(ph, q->month);
		add(ph, "năm");
		number_words(ph, q->year);
		break;
	case Q_TIME:
		number_words(ph, q->hour);
		add(ph, "giờ");
		if (q->minute > 0 || q->second > 0) {
			number_words(ph, q->minute);
			add(ph, "phút");
		}
		if (q->second > 0) {
			number_words(ph, q->second);
			add(ph, "giây");
		}
		break;
	}
	if (q->unit)
		add(ph, q->unit);
}

/* Can a hyphen join a and b as a range? (An en dash always can.) */
static bool hyphen_range(const struct qty *a, const struct qty *b)
{
	if (a->kind != b->kind || a->unit || b->neg)
		return false;
	switch (a->kind) {
	case Q_INT: return !a->neg && a->v >= 0 && b->v > a->v;
	case Q_DATE:
	case Q_MONTH:
	case Q_TIME: return true;
	default: return false;
	}
}

/*
 * A dash after a quantity ending at i: en dash, em dash or hyphen, with
 * optional spaces around; returns the offset after it (0 if none) and
 * whether it was a hyphen.
 */
static size_t scan_dash(const char *s, size_t n, size_t i, bool *hyphen)
{
	while (i < n && s[i] == ' ')
		i++;
	*hyphen = false;
	if (i < n && s[i] == '-') {
		*hyphen = true;
		i++;
	} else if (i + 2 < n && (unsigned char)s[i] == 0xe2 &&
	           (unsigned char)s[i + 1] == 0x80 &&
	           ((unsigned char)s[i + 2] == 0x93 ||
	            (unsigned char)s[i + 2] == 0x94)) {
		i += 3;
	} else {
		return 0;
	}
	while (i < n && s[i] == ' ')
		i++;
	return i;
}

/* Emit a phrase: a space before it when it follows a word. */
static void say(struct sb *out, const struct sb *ph)
{
	if (!ph->len)
		return;
	if (out->len && out->p[out->len - 1] != ' ' &&
	    out->p[out->len - 1] != '\t' && out->p[out->len - 1] != '\n' &&
	    out->p[out->len - 1] != '(' && out->p[out->len - 1] != '[')
		sb_put(out, " ", 1);
	sb_put(out, ph->p, ph->len);
	out->glue = true;
}

/* ---- Roman numerals ------------------------------------------------ */

/* The value of a canonical Roman numeral s[0..len) (1..3999), or 0. */
static int roman_value(const char *s, size_t len)
{
	static const struct {
		const char *sym;
		int v;
	} r[] = {{"M", 1000}, {"CM", 900}, {"D", 500}, {"CD", 400}, {"C", 100},
	         {"XC", 90},  {"L", 50},   {"XL", 40}, {"X", 10},   {"IX", 9},
	         {"V", 5},    {"IV", 4},   {"I", 1}};
	int v = 0, repeat;
	size_t i = 0;

	for (size_t k = 0; k < sizeof(r) / sizeof(r[0]); k++) {
		size_t sl = strlen(r[k].sym);

		repeat = 0;
		while (i + sl <= len && memcmp(s + i, r[k].sym, sl) == 0) {
			if (++repeat >
			    (sl == 1 && r[k].v != 5 && r[k].v != 50 &&
			                     r[k].v != 500
			             ? 3
			             : 1))
				return 0;
			v += r[k].v;
			i += sl;
		}
	}
	return i == len && v > 0 ? v : 0;
}

/* ---- the pass ------------------------------------------------------ */

static const char *const roman_ctx[] = {
        "khóa", "khoá", "hội", "thứ", "kỷ", "chương", "phần", NULL,
};

/* An abbreviation at s[i] (a token start): its table line, or NULL. */
static const struct abbrev *match_abbrev(const char *s, size_t n, size_t i,
                                         size_t *len)
{
	const struct abbrev *best = NULL;
	size_t best_len = 0;

	for (size_t k = 0; k < MC_ARRAY_LEN(abbrevs); k++) {
		size_t l = strlen(abbrevs[k].abbr);

		if (l > best_len && i + l <= n &&
		    memcmp(s + i, abbrevs[k].abbr, l) == 0 &&
		    !word_at(s, n, i + l)) {
			best = &abbrevs[k];
			best_len = l;
		}
	}
	*len = best_len;
	return best;
}

static void rewrite(const char *s, size_t n, struct sb *out)
{
	struct sb ph = {0};
	char ctx[64];
	size_t i = 0;

	while (i < n && !out->oom && !ph.oom) {
		unsigned char c = (unsigned char)s[i];
		bool start = !word_before(s, n, i);
		size_t len;

		ph.len = 0;
		if (ph.p)
			ph.p[0] = '\0';
		/* Numbers, dates, times, ranges (a minus only at a start). */
		if (is_digit(c) ||
		    (start && (c == '-' || c == 0xe2) &&
		     (i == 0 || s[i - 1] == ' ' || s[i - 1] == '(' ||
		      s[i - 1] == '\n' || s[i - 1] == '\t'))) {
			struct qty a, b;

			prev_word(s, n, i, ctx, sizeof(ctx));
			if (scan_qty(s, n, i, ctx, &a)) {
				bool hyphen;
				size_t j = scan_dash(s, n, a.end, &hyphen);

				if (j && j < n && is_digit(s[j]) &&
				    scan_qty(s, n, j, "", &b) &&
				    (!hyphen || hyphen_range(&a, &b))) {
					if (strcmp(ctx, "từ") != 0)
						add(&ph, "từ");
					qty_words(&ph, &a, ctx);
					add(&ph, "đến");
					qty_words(&ph, &b, "");
					i = b.end;
				} else {
					qty_words(&ph, &a, ctx);
					i = a.end;
				}
				say(out, &ph);
				continue;
			}
		}
		if (start && c >= 'A') {
			const struct abbrev *ab = match_abbrev(s, n, i, &len);

			if (ab) {
				add(&ph, ab->words);
				say(out, &ph);
				i += len;
				continue;
			}
			len = 0;
			while (i + len < n && s[i + len] &&
			       strchr("IVXLCDM", s[i + len]))
				len++;
			if (len && !word_at(s, n, i + len)) {
				int v = roman_value(s + i, len);

				prev_word(s, n, i, ctx, sizeof(ctx));
				if (v && word_in(ctx, roman_ctx)) {
					if (strcmp(ctx, "thứ") == 0 &&
					    (v == 1 || v == 4))
						add(&ph,
						    v == 1 ? "nhất" : "tư");
					else
						number_words(&ph, v);
					say(out, &ph);
					i += len;
					continue;
				}
			}
		}
		/* Anything else: one code point (or one invalid byte). */
		{
			int32_t cp = cp_at(s, n, i, &len);

			if (out->glue && word_cp(cp))
				sb_put(out, " ", 1);
			out->glue = false;
			sb_put(out, s + i, len);
			i += len;
		}
	}
	if (ph.oom)
		out->oom = true;
	free(ph.p);
}

char *mcc_viet_normalize(const char *text)
{
	struct sb out = {0};
	utf8proc_uint8_t *nfc = NULL;
	const char *s = text;
	size_t n;

	if (!text)
		return NULL;
	/* Abbreviations are matched in NFC; text that is not valid UTF-8
	 * is rewritten as it is. */
	if (utf8proc_map((const utf8proc_uint8_t *)text, 0, &nfc,
	                 UTF8PROC_NULLTERM | UTF8PROC_STABLE |
	                         UTF8PROC_COMPOSE) >= 0)
		s = (const char *)nfc;
	n = strlen(s);
	sb_put(&out, "", 0);
	rewrite(s, n, &out);
	free(nfc);
	if (out.oom) {
		free(out.p);
		return NULL;
	}
	return out.p;
}
