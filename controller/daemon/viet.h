/*
 * Vietnamese text → the words a voice should read: dates ("12/11" → "ngày
 * mười hai tháng mười một", "12/11/2023" adds "năm hai nghìn không trăm
 * hai mươi ba"), times ("6h30", "06:30" → "sáu giờ ba mươi phút"),
 * numbers with Vietnamese reading rules (mốt, lăm, linh, tư), percentages,
 * and common abbreviations (TKV, CNVC-LĐ, UBND, ...).
 */
#ifndef MCC_VIET_H
#define MCC_VIET_H

#include <stdint.h>

/* A new string (caller frees); NULL on allocation failure. */
char *mcc_viet_normalize(const char *text);

/* The words of n (0 ≤ n < 10^15) into a new string. */
char *mcc_viet_number(int64_t n);

#endif
