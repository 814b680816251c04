/* STUB: replaced by the module's owner. */
#include <stddef.h>

#include "http.h"
#include "calendar.h"

const struct mcc_route mcc_calendar_routes[] = {
        {NULL, NULL, 0, 0, 0, NULL},
};
