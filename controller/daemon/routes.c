/* Every module's routes, in the order http.c tries them. */
#include <stddef.h>

#include "alerts.h"
#include "audit.h"
#include "auth.h"
#include "blob.h"
#include "calendar.h"
#include "commands.h"
#include "content.h"
#include "fleet.h"
#include "http.h"
#include "metrics.h"
#include "org.h"
#include "provision.h"
#include "publish.h"
#include "reports.h"
#include "routes.h"
#include "workflow.h"

const struct mcc_route *const mcc_route_tables[] = {
        mcc_metrics_routes, mcc_blob_routes,     mcc_auth_routes,
        mcc_audit_routes,   mcc_org_routes,      mcc_provision_routes,
        mcc_content_routes, mcc_workflow_routes, mcc_calendar_routes,
        mcc_publish_routes, mcc_fleet_routes,    mcc_commands_routes,
        mcc_alerts_routes,  mcc_reports_routes,  NULL,
};
