/* Tries every way out of a root folder; run as `/escape OUTSIDE` inside a root whose
 * /MARKER reads "inside\n", with OUTSIDE the host path of a file that reads "outside\n".
 *
 * Under `sysgate run --root DIR` and natively under `chroot DIR` (as root) the results are
 * the same: every route ends inside. The /proc routes run only where /proc is there (it is
 * under sysgate; a bare chroot has an empty /proc). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "selftest.h"

static char buf[PATH_MAX];

/* The file's contents, "" if it cannot be opened (errno says why). */
static const char *slurp_at(int dfd, const char *path)
{
	int fd = openat(dfd, path, O_RDONLY);
	if (fd < 0)
		return "";
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = 0;
	return buf;
}

static const char *slurp(const char *path) { return slurp_at(AT_FDCWD, path); }

static int inside(const char *path) { return strcmp(slurp(path), "inside\n") == 0; }

static int cwd_is(const char *want)
{
	char cwd[PATH_MAX];
	return getcwd(cwd, sizeof cwd) && strcmp(cwd, want) == 0;
}

static int link_is(const char *path, const char *want)
{
	char target[PATH_MAX];
	ssize_t n = readlink(path, target, sizeof target - 1);
	if (n < 0)
		return 0;
	target[n] = 0;
	return strcmp(target, want) == 0;
}

int main(int argc, char **argv)
{
	selftest_start("escape");
	if (argc < 2)
		return 2;
	const char *outside = argv[1];

	/* The host's path of a file outside names nothing inside. */
	CHECK(open(outside, O_RDONLY) < 0 && errno == ENOENT);

	/* ".." at the root. */
	CHECK(inside("/MARKER"));
	CHECK(inside("/../../../MARKER"));
	CHECK(chdir("/") == 0);
	for (int i = 0; i < 5; i++)
		chdir("..");
	CHECK(cwd_is("/"));
	CHECK(inside("MARKER"));

	/* Symbolic links: absolute (the host path), relative climbing, loops. */
	CHECK(symlink(outside, "/tmp/abs") == 0);
	CHECK(open("/tmp/abs", O_RDONLY) < 0 && errno == ENOENT);
	CHECK(symlink("/MARKER", "/tmp/abs2") == 0 && inside("/tmp/abs2"));
	CHECK(symlink("../../../../../../../MARKER", "/tmp/rel") == 0 && inside("/tmp/rel"));
	CHECK(symlink("loop2", "/tmp/loop1") == 0 && symlink("loop1", "/tmp/loop2") == 0);
	CHECK(open("/tmp/loop1", O_RDONLY) < 0 && errno == ELOOP);

	/* A directory descriptor, fchdir, and ".." from there. */
	CHECK(mkdir("/tmp/d", 0755) == 0 && mkdir("/tmp/d/e", 0755) == 0);
	int dfd = open("/tmp/d/e", O_RDONLY | O_DIRECTORY);
	CHECK(dfd >= 0);
	CHECK(strcmp(slurp_at(dfd, "../../../../../MARKER"), "inside\n") == 0);
	CHECK(fchdir(dfd) == 0 && cwd_is("/tmp/d/e"));
	for (int i = 0; i < 10; i++)
		chdir("..");
	CHECK(cwd_is("/"));

	/* rename, link, mkfifo across the boundary land inside. */
	close(open("/tmp/x", O_WRONLY | O_CREAT, 0644));
	CHECK(rename("/tmp/x", "/../../../tmp/y") == 0 && access("/tmp/y", F_OK) == 0);
	CHECK(link("/../../MARKER", "/../../tmp/hard") == 0 && inside("/tmp/hard"));
	CHECK(mkfifo("/../../tmp/fifo", 0600) == 0);
	struct stat st;
	CHECK(stat("/tmp/fifo", &st) == 0 && S_ISFIFO(st.st_mode));

	/* execve of a path outside (a shell the root does not have). sysgate does not run
	 * execve from a running program yet (ENOSYS); were it to exec the host's shell, the
	 * lines below would be missing. */
	char *const args[] = {"sh", "-c", "true", NULL};
	CHECK(execv("/../../bin/sh", args) < 0 && (errno == ENOENT || errno == ENOSYS));

	/* /proc's links, where /proc is there. */
	if (access("/proc/self", F_OK) == 0) {
		printf("[RUN] /proc\n");
		CHECK(link_is("/proc/self/root", "/"));
		CHECK(inside("/proc/self/root/MARKER"));
		CHECK(inside("/proc/self/root/../../MARKER"));
		CHECK(chdir("/tmp/d") == 0 && link_is("/proc/self/cwd", "/tmp/d"));
		CHECK(inside("/proc/self/cwd/../../MARKER"));
		snprintf(buf, sizeof buf, "/proc/self/fd/%d", dfd);
		CHECK(link_is(buf, "/tmp/d/e"));
		snprintf(buf, sizeof buf, "/proc/self/fd/%d/../../../../MARKER", dfd);
		CHECK(inside(buf));
		CHECK(link_is("/proc/self/exe", "/escape"));
		CHECK(access("/dev/null", W_OK) == 0);
	}
	return selftest_end();
}
