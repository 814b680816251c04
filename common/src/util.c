/* minecast — time, file and string helpers. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "minecast/util.h"

int64_t mc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mc_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *mc_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

char *mc_printf(const char *fmt, ...)
{
	va_list ap;
	char *out = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&out, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : out;
}

enum mc_err mc_read_file(const char *path, size_t max, char **out, size_t *len,
                         struct mc_error *err)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mc_error_set(err, MC_ERR_IO, "%s: %s", path,
		                    strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return mc_error_set(err, MC_ERR_IO, "%s: not a regular file",
		                    path);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return mc_error_set(
		        err, MC_ERR_TOO_LARGE,
		        "%s: %lld bytes, larger than the limit of %zu", path,
		        (long long)st.st_size, max);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return mc_error_set(err, MC_ERR_NOMEM, "%s: out of memory",
		                    path);
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got != (size_t)st.st_size) {
		free(buf);
		return mc_error_set(err, MC_ERR_IO, "%s: short read", path);
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return MC_OK;
}

static int fsync_dir_of(const char *path)
{
	char *copy = strdup(path);
	int fd, rc = -1;

	if (!copy)
		return -1;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		rc = fsync(fd);
		close(fd);
	}
	free(copy);
	return rc;
}

enum mc_err mc_write_file_atomic(const char *path, const void *data, size_t len,
                                 unsigned mode, struct mc_error *err)
{
	char *tmp = mc_printf("%s.tmp.%ld", path, (long)getpid());
	const char *p = data;
	size_t done = 0;
	enum mc_err rc = MC_ERR_IO;
	int fd = -1;

	if (!tmp)
		return mc_error_set(err, MC_ERR_NOMEM, "%s: out of memory",
		                    path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		mc_error_set(err, rc, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	while (done < len) {
		ssize_t w = write(fd, p + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			mc_error_set(err, rc, "%s: %s", tmp, strerror(errno));
			goto fail_unlink;
		}
		done += (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		mc_error_set(err, rc, "%s: %s", tmp, strerror(errno));
		goto fail_unlink;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		mc_error_set(err, rc, "%s: %s", path, strerror(errno));
		goto fail_unlink;
	}
	fsync_dir_of(path);
	free(tmp);
	return MC_OK;

fail_unlink:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
fail:
	free(tmp);
	return rc;
}
