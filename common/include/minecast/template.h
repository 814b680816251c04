/*
 * minecast — text templates: {years}, {since}, {date}.
 *
 * Anniversary slogans are written once and read right every year:
 * "Kỷ niệm {years} năm" on 12/11/2023 for an entry founded in 1936 reads
 * "Kỷ niệm 87 năm".  docs/schedule.md (rule 9) is the specification:
 *
 *   {years}  occurrence year - founded      (left as written if no founded)
 *   {since}  founded                        (left as written if no founded)
 *   {date}   "dd/mm/yyyy" of the date given
 *
 * Anything else in braces, and unbalanced braces, is copied as written,
 * so a slogan may use braces for its own purposes.
 */
#ifndef MINECAST_TEMPLATE_H
#define MINECAST_TEMPLATE_H

/* What a template is resolved against. */
struct mc_template_ctx {
	int founded; /* founding year for {years} and {since}; 0 = none */
	int year;    /* the date {years} and {date} are computed for ... */
	int month;   /* ... 1..12 ... */
	int day;     /* ... 1..31 (the occurrence start, local) */
};

/*
 * Resolve the placeholders of text.
 *
 * Parameters: text, a NUL-terminated UTF-8 string (NULL allowed); ctx, the
 * founding year and the date.
 * Returns a new NUL-terminated string the caller frees, or NULL when text
 * is NULL or allocation fails.
 */
char *mc_template_resolve(const char *text, const struct mc_template_ctx *ctx);

#endif
