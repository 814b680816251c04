/*
 * minecastctl compile — a campaign turned into one node's manifest,
 * offline, laid out as the controller serves it.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl.h"
#include "minecast/codec.h"
#include "minecast/compile.h"
#include "minecast/sign.h"
#include "minecast/util.h"

static const char compile_help[] =
        "Usage: minecastctl compile CAMPAIGN --node NODE --out DIR\n"
        "\n"
        "Compile a campaign file into the manifest of one node, offline,\n"
        "and lay it out as the controller serves it over HTTP:\n"
        "  DIR/v1/content/<sha256>    every asset, named by its content\n"
        "  DIR/v1/manifests/<sha256>  the manifest\n"
        "Assets are found through their src, relative to the campaign "
        "file.\n"
        "Prints the manifest's sha256 and size, the two values a pointer\n"
        "names (docs/protocol.md), e.g. for 'minecastctl sign'.\n"
        "\n"
        "Options:\n"
        "  --node NODE  the node the manifest is for\n"
        "  --out DIR    where to write (created if missing)\n"
        "  --help       this text\n"
        "\n"
        "Exit status: 0 written, 1 the campaign or a file was rejected,\n"
        "2 usage error.\n";

/* mkdir -p of DIR/v1/<leaf>. */
static int make_dirs(const char *out, const char *leaf)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s", out);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/v1", out);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/v1/%s", out, leaf);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "minecastctl: compile: %s: %s\n", path,
		        strerror(errno));
		return -1;
	}
	return 0;
}

/* Copy the file at src into DIR/v1/content/<sha256>, atomically. */
static int put_blob(const char *out, const char *src, const char *sha)
{
	struct mc_error err;
	char *data = NULL, *dst;
	size_t len = 0;
	int rc = -1;

	if (mc_read_file(src, (size_t)1 << 31, &data, &len, &err) != MC_OK) {
		fprintf(stderr, "minecastctl: compile: %s\n", err.msg);
		return -1;
	}
	dst = mc_printf("%s/v1/content/%s", out, sha);
	if (dst && mc_write_file_atomic(dst, data, len, 0644, &err) == MC_OK)
		rc = 0;
	else
		fprintf(stderr, "minecastctl: compile: %s\n",
		        dst ? err.msg : "out of memory");
	free(dst);
	free(data);
	return rc;
}

int mc_ctl_compile(int argc, char **argv)
{
	const char *file = NULL, *node = NULL, *out = NULL;
	struct mc_manifest *m = NULL;
	struct mc_error err = {0};
	char *copy = NULL, *base, *json = NULL, *path = NULL, sha[65];
	int code = MC_CTL_FAIL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			fputs(compile_help, stdout);
			return MC_CTL_OK;
		} else if (strcmp(argv[i], "--node") == 0 && i + 1 < argc) {
			node = argv[++i];
		} else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
			out = argv[++i];
		} else if (argv[i][0] != '-' && !file) {
			file = argv[i];
		} else {
			fprintf(stderr,
			        "minecastctl: compile: unexpected '%s'\n\n%s",
			        argv[i], compile_help);
			return MC_CTL_USAGE;
		}
	}
	if (!file || !node || !out) {
		fprintf(stderr, "minecastctl: compile: %s is required\n\n%s",
		        !file   ? "CAMPAIGN"
		        : !node ? "--node"
		                : "--out",
		        compile_help);
		return MC_CTL_USAGE;
	}
	if (mc_manifest_load(file, MC_DOC_CAMPAIGN, &m, &err) != MC_OK) {
		fprintf(stderr, "minecastctl: %s\n", err.msg);
		return MC_CTL_FAIL;
	}
	copy = strdup(file);
	base = copy ? dirname(copy) : ".";
	if (make_dirs(out, "content") < 0 || make_dirs(out, "manifests") < 0)
		goto out;
	/* Copy the files while their src is still known. */
	for (size_t i = 0; i < m->n_content; i++) {
		const struct mc_content *c = &m->content[i];
		char *src;
		int64_t size;

		if (!c->has_asset || !c->asset.src)
			continue;
		src = mc_printf("%s/%s", base, c->asset.src);
		if (!src || mc_sha256_file(src, sha, &size, &err) != MC_OK) {
			fprintf(stderr,
			        "minecastctl: compile: content %s: %s\n", c->id,
			        src ? err.msg : "out of memory");
			free(src);
			goto out;
		}
		if (put_blob(out, src, sha) < 0) {
			free(src);
			goto out;
		}
		free(src);
	}
	if (mc_campaign_compile(m, base, node, &err) != MC_OK) {
		fprintf(stderr, "minecastctl: compile: %s\n", err.msg);
		goto out;
	}
	json = mc_manifest_dump(m);
	if (!json) {
		fprintf(stderr, "minecastctl: compile: out of memory\n");
		goto out;
	}
	mc_sha256_hex(json, strlen(json), sha);
	path = mc_printf("%s/v1/manifests/%s", out, sha);
	if (!path || mc_write_file_atomic(path, json, strlen(json), 0644,
	                                  &err) != MC_OK) {
		fprintf(stderr, "minecastctl: compile: %s\n",
		        path ? err.msg : "out of memory");
		goto out;
	}
	printf("%s %zu\n", sha, strlen(json));
	code = MC_CTL_OK;
out:
	free(path);
	free(json);
	free(copy);
	mc_manifest_free(m);
	return code;
}
