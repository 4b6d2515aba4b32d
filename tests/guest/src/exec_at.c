/* execve and execveat edge cases that LTP's execve06, execveat01 and execveat02 check:
 * an empty argv gets "" as argv[0] (argc 1, Linux 5.18); execveat with AT_EMPTY_PATH
 * runs the file an fd (O_PATH included) refers to, and comm is that file's name;
 * AT_EMPTY_PATH on a bad fd is EBADF; AT_SYMLINK_NOFOLLOW on a symlink is ELOOP while
 * the same name followed runs the program; unknown flags are EINVAL.
 *
 * The program runs itself (its path from /proc/self/exe); `exec_at child` prints argc,
 * argv[0] and its comm. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "selftest.h"

static char self[PATH_MAX];

static void print_child(int argc, char **argv)
{
	char comm[32] = "";
	int fd = open("/proc/self/comm", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, comm, sizeof(comm) - 1) : -1;
	if (n > 0)
		comm[n - 1] = '\0';
	printf("  child: argc %d argv[0] [%s] comm [%s]\n", argc, argv[0] ? argv[0] : "(null)", comm);
}

static const char *errname(int e)
{
	switch (e) {
	case ENOENT: return "ENOENT";
	case EBADF: return "EBADF";
	case ELOOP: return "ELOOP";
	case EINVAL: return "EINVAL";
	case EACCES: return "EACCES";
	default: return "other";
	}
}

/* Run `fn` in a child; print its errno if the exec failed, then the exit status. */
static int in_child(const char *what, long (*fn)(void))
{
	pid_t pid = fork();
	if (pid == 0) {
		long r = fn();
		printf("  %s: returned %ld errno %s\n", what, r, errname(errno));
		_exit(3);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	printf("  %s: exit status %d\n", what, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *child_argv[] = {"exec_at", "child", NULL};
static char *empty_argv[] = {NULL};
static char link_path[PATH_MAX];
static int path_fd = -1;

static long exec_empty_argv(void)
{
	return execve(self, empty_argv, environ);
}

static long exec_null_argv(void)
{
	return syscall(SYS_execve, self, NULL, environ);
}

static long execveat_empty_path(void)
{
	return syscall(SYS_execveat, path_fd, "", child_argv, environ, AT_EMPTY_PATH);
}

static long execveat_empty_path_badfd(void)
{
	return syscall(SYS_execveat, 1000, "", child_argv, environ, AT_EMPTY_PATH);
}

static long execveat_nofollow(void)
{
	return syscall(SYS_execveat, AT_FDCWD, link_path, child_argv, environ, AT_SYMLINK_NOFOLLOW);
}

static long execveat_follow(void)
{
	return syscall(SYS_execveat, AT_FDCWD, link_path, child_argv, environ, 0);
}

static long execveat_bad_flags(void)
{
	return syscall(SYS_execveat, AT_FDCWD, self, child_argv, environ, 0x4);
}

int main(int argc, char **argv)
{
	if (argc == 1 && argv[0][0] == '\0') {
		print_child(argc, argv);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "child") == 0) {
		print_child(argc, argv);
		return 0;
	}
	selftest_start("exec_at");
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	CHECK(n > 0);
	self[n > 0 ? n : 0] = '\0';

	CHECK(in_child("execve with argv {NULL}", exec_empty_argv) == 0);
	CHECK(in_child("execve with a NULL argv", exec_null_argv) == 0);

	path_fd = open(self, O_PATH);
	CHECK(path_fd >= 0);
	CHECK(in_child("execveat(O_PATH fd, \"\", AT_EMPTY_PATH)", execveat_empty_path) == 0);
	CHECK(in_child("execveat(1000, \"\", AT_EMPTY_PATH)", execveat_empty_path_badfd) == 3);

	char dir[] = "/tmp/exec_at.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	snprintf(link_path, sizeof(link_path), "%s/link", dir);
	CHECK(symlink(self, link_path) == 0);
	CHECK(in_child("execveat(symlink, AT_SYMLINK_NOFOLLOW)", execveat_nofollow) == 3);
	CHECK(in_child("execveat(symlink, 0)", execveat_follow) == 0);
	CHECK(in_child("execveat(flags 0x4)", execveat_bad_flags) == 3);
	unlink(link_path);
	rmdir(dir);
	return selftest_end();
}
