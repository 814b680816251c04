/* STUB: replaced by the module's owner. */
#include <stddef.h>

#include "http.h"
#include "metrics.h"

const struct mcc_route mcc_metrics_routes[] = {
        {NULL, NULL, 0, 0, 0, NULL},
};
