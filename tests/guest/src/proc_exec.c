/* execve from a running process as Linux does it: #! scripts (an argument on the #!
 * line, nested scripts, a loop of them, a missing interpreter, a script that is not
 * executable), E2BIG, ENOEXEC, EACCES, EFAULT; the fds kept (not FD_CLOEXEC) and closed;
 * handled signals reset while ignored ones, the mask and pending signals stay; a NULL
 * argv; a MAP_SHARED file mapping released by the exec.
 *
 * It runs in an empty working directory and writes its scripts there; the scripts'
 * interpreter is this program itself (argv[0] is absolute), which prints what it got.
 * `proc_exec show ARGS...` prints its arguments; `proc_exec fds A B C` and `proc_exec
 * sigs` check what survived the exec; PROC_EXEC_MODE=argc in the environment prints argc. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "selftest.h"

static const char *self;

static int show(int argc, char **argv)
{
	printf("  interpreter got %d args:", argc - 1);
	for (int i = 1; i < argc; i++)
		printf(" [%s]", argv[i]);
	printf("\n");
	return 0;
}

static void script(const char *name, const char *text, mode_t mode)
{
	int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	write(fd, text, strlen(text));
	close(fd);
	chmod(name, mode);
}

/* Run argv in a child; print how the exec went (errno) and how the child ended. */
static void run(const char *what, const char *path, char *const argv[], char *const envp[])
{
	int p[2];
	pipe2(p, O_CLOEXEC);
	pid_t pid = fork();
	if (pid == 0) {
		execve(path, argv, envp);
		int e = errno;
		write(p[1], &e, sizeof e);
		_exit(127);
	}
	close(p[1]);
	int err = 0, st;
	ssize_t n = read(p[0], &err, sizeof err);
	close(p[0]);
	waitpid(pid, &st, 0);
	printf("%s: %s%s, exit %d\n", what, n > 0 ? "error " : "ran", n > 0 ? strerror(err) : "",
	       WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

static char **env;

static void scripts(void)
{
	char text[4096];
	snprintf(text, sizeof text, "#!%s show\necho not reached\n", self);
	script("s1", text, 0755);
	char *a1[] = {"s1-argv0", "x", "y z", NULL};
	run("script", "./s1", a1, env);
	snprintf(text, sizeof text, "#!  %s   one  two \t\n", self);
	script("s2", text, 0755);
	char *a2[] = {"s2", NULL};
	run("script, spaces on the #! line", "./s2", a2, env);
	snprintf(text, sizeof text, "#!%s\n", self);
	script("s3", text, 0755);
	char *a3[] = {"s3", "show", NULL};
	run("script, no argument", "s3", a3, env); /* a relative name with no slash: execve does not search PATH */
	run("script, no argument, ./", "./s3", a3, env);
	script("nested", "#!./s1 inner\n", 0755);
	char *a4[] = {"nested", "arg", NULL};
	run("nested script", "./nested", a4, env);
	script("loop", "#!./loop\n", 0755);
	run("script loop", "./loop", a4, env);
	script("missing", "#!/nonexistent/interpreter -x\n", 0755);
	run("missing interpreter", "./missing", a4, env);
	script("noexec", text, 0644);
	run("not executable", "./noexec", a4, env);
	script("empty", "#!\n", 0755);
	run("#! and nothing", "./empty", a4, env);
	script("blank", "#!   \n", 0755);
	run("#! and blanks", "./blank", a4, env);
	script("garbage", "this is not a program\n", 0755);
	run("no #! nor ELF", "./garbage", a4, env);
	script("zero", "", 0755);
	run("empty file", "./zero", a4, env);
	mkdir("dir", 0755);
	run("a directory", "./dir", a4, env);
	run("missing file", "./nothing-here", a4, env);
	run("empty name", "", a4, env);
	run("bad name pointer", (const char *)8, a4, env);
	char *bad[] = {"x", (char *)8, NULL};
	run("bad argv string", "./s1", bad, env);
	char *const *volatile badp = (char *const *)(uintptr_t)8;
	run("bad argv array", "./s1", badp, env);
	char *sub[] = {"sub", NULL};
	script("interp-dir", "#!/\n", 0755);
	run("interpreter is a directory", "./interp-dir", sub, env);
}

static void too_big(void)
{
	size_t n = 200 * 1024;
	char *huge = malloc(n + 1);
	memset(huge, 'a', n);
	huge[n] = 0;
	char *one[] = {"x", huge, NULL};
	run("an argument of 200 KiB", self, one, env);
	huge[100 * 1024] = 0;
	char **many = calloc(82, sizeof *many);
	many[0] = "x";
	for (int i = 1; i < 81; i++)
		many[i] = huge; /* 8 MB in all */
	run("8 MB of arguments", self, many, env);
	char *fine[] = {(char *)self, "show", huge + 100 * 1024 - 10, NULL};
	run("an argument of 10 bytes", self, fine, env);
	free(many);
	free(huge);
}

static void fds(void)
{
	int keep = open(".", O_RDONLY | O_DIRECTORY);
	int cloexec = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int later = open(".", O_RDONLY | O_DIRECTORY);
	fcntl(later, F_SETFD, FD_CLOEXEC);
	int p[2];
	pipe2(p, O_CLOEXEC);
	int d = dup(p[0]); /* dup clears FD_CLOEXEC */
	char a[16], b[16], c[16], e[16], f[16];
	snprintf(a, sizeof a, "%d", keep);
	snprintf(b, sizeof b, "%d", cloexec);
	snprintf(c, sizeof c, "%d", later);
	snprintf(e, sizeof e, "%d", p[1]);
	snprintf(f, sizeof f, "%d", d);
	char *argv[] = {(char *)self, "fds", a, b, c, e, f, NULL};
	run("fds across exec", self, argv, env);
	close(keep);
	close(cloexec);
	close(later);
	close(p[0]);
	close(p[1]);
	close(d);
}

static int check_fds(char **argv)
{
	int keep = atoi(argv[2]), cloexec = atoi(argv[3]), later = atoi(argv[4]), pw = atoi(argv[5]),
	    d = atoi(argv[6]);
	CHECK(fcntl(keep, F_GETFD) == 0);
	CHECK(fcntl(cloexec, F_GETFD) == -1 && errno == EBADF);
	CHECK(fcntl(later, F_GETFD) == -1 && errno == EBADF);
	CHECK(fcntl(pw, F_GETFD) == -1 && errno == EBADF);
	CHECK(fcntl(d, F_GETFD) == 0);
	return failures;
}

static void on_usr1(int s)
{
	(void)s;
}

static void sigs(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_RESTART};
		sigaction(SIGUSR1, &sa, NULL);
		signal(SIGUSR2, SIG_IGN);
		signal(SIGHUP, on_usr1);
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGWINCH);
		sigprocmask(SIG_BLOCK, &set, NULL);
		raise(SIGWINCH); /* blocked: pending across the exec */
		char *argv[] = {(char *)self, "sigs", NULL};
		execv(self, argv);
		_exit(99);
	}
	int st;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static int check_sigs(void)
{
	struct sigaction sa;
	sigaction(SIGUSR1, NULL, &sa);
	CHECK(sa.sa_handler == SIG_DFL && sa.sa_flags == 0);
	sigaction(SIGHUP, NULL, &sa);
	CHECK(sa.sa_handler == SIG_DFL);
	sigaction(SIGUSR2, NULL, &sa);
	CHECK(sa.sa_handler == SIG_IGN);
	sigset_t set;
	sigprocmask(SIG_BLOCK, NULL, &set);
	CHECK(sigismember(&set, SIGTERM) && sigismember(&set, SIGWINCH) && !sigismember(&set, SIGUSR1));
	sigpending(&set);
	CHECK(sigismember(&set, SIGWINCH));
	return failures;
}

static void null_argv(void)
{
	char *envp[] = {"PROC_EXEC_MODE=argc", NULL};
	run("NULL argv", self, NULL, envp);
	char *argv[] = {(char *)self, "show", NULL};
	run("NULL envp", self, argv, NULL);
}

static void shared_mapping(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open("mapped", O_RDWR | O_CREAT, 0600);
		ftruncate(fd, 8192);
		char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		strcpy(m, "written through the mapping");
		char *argv[] = {(char *)self, "show", "after a shared mapping", NULL};
		execv(self, argv);
		_exit(99);
	}
	int st;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	char buf[32] = {0};
	int fd = open("mapped", O_RDONLY);
	CHECK(read(fd, buf, 27) == 27 && strcmp(buf, "written through the mapping") == 0);
	close(fd);
}

int main(int argc, char **argv, char **envp)
{
	const char *mode = getenv("PROC_EXEC_MODE");
	if (mode && strcmp(mode, "argc") == 0) {
		printf("  argc %d argv[0] [%s]\n", argc, argc > 0 && argv[0] ? argv[0] : "(null)");
		return 0;
	}
	if (argc == 7 && strcmp(argv[1], "fds") == 0)
		return check_fds(argv);
	if (argc == 2 && strcmp(argv[1], "sigs") == 0)
		return check_sigs();
	if (argc != 1)
		return show(argc, argv); /* every other run is an exec'd one: never the tests again */
	self = argv[0];
	env = envp;
	setvbuf(stdout, NULL, _IONBF, 0);
	selftest_start("proc_exec");
	scripts();
	too_big();
	fds();
	sigs();
	null_argv();
	shared_mapping();
	return selftest_end();
}
