/* STUB: replaced by the module's owner. */
#include <stddef.h>

#include "http.h"
#include "blob.h"

const struct mcc_route mcc_blob_routes[] = {
        {NULL, NULL, 0, 0, 0, NULL},
};
