/* STUB: replaced by the module's owner. */
#include <stddef.h>

#include "http.h"
#include "content.h"

const struct mcc_route mcc_content_routes[] = {
        {NULL, NULL, 0, 0, 0, NULL},
};
