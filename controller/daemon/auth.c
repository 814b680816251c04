/* STUB: replaced by the module's owner. */
#include <stddef.h>

#include "http.h"
#include "auth.h"

const struct mcc_route mcc_auth_routes[] = {
        {NULL, NULL, 0, 0, 0, NULL},
};
