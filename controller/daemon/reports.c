/* STUB: replaced by the module's owner. */
#include <stddef.h>

#include "http.h"
#include "reports.h"

const struct mcc_route mcc_reports_routes[] = {
        {NULL, NULL, 0, 0, 0, NULL},
};
