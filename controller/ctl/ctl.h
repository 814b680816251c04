/*
 * minecastctl — the subcommands, one family per ctl_*.c file.
 *
 * Each takes the arguments from its own name on (argv[0] is "schedule",
 * "keygen", ...) and returns the process exit code: 0 success, 1 the
 * operation failed or a document was rejected, 2 a usage error.
 */
#ifndef MC_CTL_H
#define MC_CTL_H

#include <stddef.h>
#include <stdint.h>

/* Exit codes shared by every subcommand. */
#define MC_CTL_OK    0
#define MC_CTL_FAIL  1
#define MC_CTL_USAGE 2

int mc_ctl_schedule(int argc, char **argv);
/* Shared by the preview printers (ctl_schedule.c): a length in ms as
 * "20s", "1.2s", "5m00s", "1h00m00s"; text on one line, newlines shown as
 * " / ". */
void ctl_fmt_duration(int64_t ms, char *buf, size_t cap);
void ctl_put_oneline(const char *text);
int mc_ctl_compile(int argc, char **argv);
int mc_ctl_keygen(int argc, char **argv);
int mc_ctl_sign(int argc, char **argv);
int mc_ctl_verify(int argc, char **argv);

/* Online: people and credentials, backup (ctl_auth.c). */
int mc_ctl_login(int argc, char **argv);
int mc_ctl_logout(int argc, char **argv);
int mc_ctl_whoami(int argc, char **argv);
int mc_ctl_user(int argc, char **argv);
int mc_ctl_token(int argc, char **argv);
int mc_ctl_backup(int argc, char **argv);

/* Online: publishing, rollout and urgent alerts (ctl_publish.c). */
int mc_ctl_publish(int argc, char **argv);
int mc_ctl_rollout(int argc, char **argv);
int mc_ctl_alert(int argc, char **argv);

/* Online: the organisation and provisioning (ctl_org.c). */
int mc_ctl_group(int argc, char **argv);
int mc_ctl_company(int argc, char **argv);
int mc_ctl_site(int argc, char **argv);
int mc_ctl_node(int argc, char **argv);

/* Online: the content library (ctl_content.c). */
int mc_ctl_content(int argc, char **argv);

/* Online: the fleet, node commands, proof-of-play reports (ctl_fleet.c). */
int mc_ctl_fleet(int argc, char **argv);
int mc_ctl_command(int argc, char **argv);
int mc_ctl_report(int argc, char **argv);

/* Online: playlists, entries, the editorial workflow, import, export and
 * the day preview (ctl_calendar.c). */
int mc_ctl_playlist(int argc, char **argv);
int mc_ctl_entry(int argc, char **argv);
int mc_ctl_review(int argc, char **argv);
int mc_ctl_submit(int argc, char **argv);
int mc_ctl_approve(int argc, char **argv);
int mc_ctl_reject(int argc, char **argv);
int mc_ctl_import(int argc, char **argv);
int mc_ctl_export(int argc, char **argv);
int mc_ctl_preview(int argc, char **argv);
/* "node status ID": argv[0] is "status"; conn is the family's. */
struct ctl_conn;
int mc_ctl_node_status_run(struct ctl_conn *conn, int argc, char **argv);

#endif
