/*
 * minecastctl — entry point: finds the subcommand and hands over.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

/* One subcommand: its name, its entry point and a line of help. */
struct ctl_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct ctl_command commands[] = {
        {"schedule", mc_ctl_schedule,
         "expand recurrences, preview a campaign's day (offline)"},
        {"compile", mc_ctl_compile,
         "compile a campaign into one node's manifest (offline)"},
        {"keygen", mc_ctl_keygen, "create an ed25519 signing key pair"},
        {"sign", mc_ctl_sign, "sign a pointer or alert document"},
        {"verify", mc_ctl_verify, "verify a signed document and its checks"},
        {"login", mc_ctl_login, "log in and keep an API token"},
        {"logout", mc_ctl_logout, "revoke the API token in use"},
        {"whoami", mc_ctl_whoami, "who the token in use belongs to"},
        {"user", mc_ctl_user, "add, list and change users"},
        {"token", mc_ctl_token, "create, list and revoke API tokens"},
        {"backup", mc_ctl_backup, "back up the controller's database"},
        {"publish", mc_ctl_publish,
         "publish the approved schedule and follow the rollout"},
        {"rollout", mc_ctl_rollout, "desired and applied version per node"},
        {"alert", mc_ctl_alert, "send, list, show and clear urgent alerts"},
        {"group", mc_ctl_group, "groups of companies (tập đoàn)"},
        {"company", mc_ctl_company, "companies (công ty)"},
        {"site", mc_ctl_site, "sites (công trường)"},
        {"node", mc_ctl_node, "register, list and provision nodes"},
        {"content", mc_ctl_content, "slogans, images, audio and speech"},
        {"fleet", mc_ctl_fleet, "every node's status, flags and health"},
        {"command", mc_ctl_command,
         "restart, reboot, identify, screenshot ... a node"},
        {"report", mc_ctl_report, "proof-of-play report by day or month"},
        {"playlist", mc_ctl_playlist, "playlists of content"},
        {"entry", mc_ctl_entry, "schedule entries (RFC 5545 events)"},
        {"review", mc_ctl_review, "what awaits approval, and what changed"},
        {"submit", mc_ctl_submit, "send a draft for approval"},
        {"approve", mc_ctl_approve, "approve a submitted object (or --all)"},
        {"reject", mc_ctl_reject, "reject a submitted object with a reason"},
        {"import", mc_ctl_import, "import a campaign file or an .ics calendar"},
        {"export", mc_ctl_export, "export the schedule as a campaign or .ics"},
        {"preview", mc_ctl_preview, "what a node or site plays on a day"},
};

static void usage(FILE *out)
{
	fprintf(out, "Usage: minecastctl COMMAND [ARGS...]\n"
	             "\n"
	             "minecast's command-line tool. Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name,
		        commands[i].summary);
	fprintf(out, "\n"
	             "Run 'minecastctl COMMAND --help' for the options of one "
	             "command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return MC_CTL_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return MC_CTL_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("minecastctl %s\n", MC_VERSION);
		return MC_CTL_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "minecastctl: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return MC_CTL_USAGE;
}
