/* STUB: replaced by the module's owner. */
#include <stddef.h>

#include "http.h"
#include "workflow.h"

const struct mcc_route mcc_workflow_routes[] = {
        {NULL, NULL, 0, 0, 0, NULL},
};
