/* /proc agrees with the system calls, as on Linux: /proc/version and /proc/sys/kernel with
 * uname, /proc/meminfo, /proc/uptime and /proc/loadavg with sysinfo, /proc/self/stat and
 * status with getpid and getppid, /proc/cpuinfo with sched_getaffinity and with what the
 * cpuid instruction says. */
#define _GNU_SOURCE
#include <cpuid.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include "selftest.h"

static char buf[1 << 16];

static const char *slurp(const char *path)
{
	int fd = open(path, O_RDONLY);
	size_t len = 0;
	ssize_t n;

	buf[0] = 0;
	if (fd < 0)
		return buf;
	while ((n = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
		len += n;
	buf[len] = 0;
	close(fd);
	return buf;
}

static int same_line(const char *path, const char *want)
{
	const char *text = slurp(path);
	size_t n = strlen(want);

	return strncmp(text, want, n) == 0 && text[n] == '\n' && text[n + 1] == 0;
}

/* The value after "name:" in a "name: value" file, as a number. */
static long long field(const char *text, const char *name)
{
	const char *p = text;
	size_t n = strlen(name);

	while (p && *p) {
		if (strncmp(p, name, n) == 0 && p[n] == ':')
			return strtoll(p + n + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

struct feature {
	const char *name;
	unsigned leaf, sub, reg, bit; /* reg: 0 eax, 1 ebx, 2 ecx, 3 edx */
};

static const struct feature features[] = {
	{"fpu", 1, 0, 3, 0}, {"tsc", 1, 0, 3, 4}, {"cx8", 1, 0, 3, 8}, {"cmov", 1, 0, 3, 15},
	{"mmx", 1, 0, 3, 23}, {"fxsr", 1, 0, 3, 24}, {"sse", 1, 0, 3, 25}, {"sse2", 1, 0, 3, 26},
	{"pni", 1, 0, 2, 0}, {"pclmulqdq", 1, 0, 2, 1}, {"ssse3", 1, 0, 2, 9}, {"fma", 1, 0, 2, 12},
	{"cx16", 1, 0, 2, 13}, {"sse4_1", 1, 0, 2, 19}, {"sse4_2", 1, 0, 2, 20}, {"movbe", 1, 0, 2, 22},
	{"popcnt", 1, 0, 2, 23}, {"aes", 1, 0, 2, 25}, {"avx", 1, 0, 2, 28}, {"f16c", 1, 0, 2, 29},
	{"rdrand", 1, 0, 2, 30}, {"bmi1", 7, 0, 1, 3}, {"avx2", 7, 0, 1, 5}, {"bmi2", 7, 0, 1, 8},
	{"erms", 7, 0, 1, 9}, {"adx", 7, 0, 1, 19}, {"sha_ni", 7, 0, 1, 29},
	{"syscall", 0x80000001, 0, 3, 11}, {"nx", 0x80000001, 0, 3, 20}, {"lm", 0x80000001, 0, 3, 29},
	{"lahf_lm", 0x80000001, 0, 2, 0}, {"abm", 0x80000001, 0, 2, 5},
};

static int has_flag(const char *cpuinfo, const char *name)
{
	const char *line = strstr(cpuinfo, "\nflags\t\t:");
	const char *end;
	size_t n = strlen(name);

	if (!line)
		return 0;
	end = strchr(line + 1, '\n');
	for (const char *p = strstr(line, name); p && p < end; p = strstr(p + 1, name))
		if (p[-1] == ' ' && (p[n] == ' ' || p[n] == '\n'))
			return 1;
	return 0;
}

static int cpuid_has(const struct feature *f)
{
	unsigned r[4], max = __get_cpuid_max(f->leaf & 0x80000000, NULL);

	if (f->leaf > max)
		return 0;
	__cpuid_count(f->leaf, f->sub, r[0], r[1], r[2], r[3]);
	return (r[f->reg] >> f->bit) & 1;
}

int main(void)
{
	struct utsname u;
	struct sysinfo si;
	char want[512], link[64];
	const char *text;
	cpu_set_t set;
	int mismatched = 0, processors = 0;
	double up;
	long long btime;
	ssize_t n;

	selftest_start("proc_consistency");
	CHECK(uname(&u) == 0);
	snprintf(want, sizeof want, "%s version %s (", u.sysname, u.release);
	text = slurp("/proc/version");
	CHECK(strncmp(text, want, strlen(want)) == 0);
	snprintf(want, sizeof want, ") %s\n", u.version);
	CHECK(strlen(text) > strlen(want) && strcmp(text + strlen(text) - strlen(want), want) == 0);
	CHECK(same_line("/proc/sys/kernel/ostype", u.sysname));
	CHECK(same_line("/proc/sys/kernel/osrelease", u.release));
	CHECK(same_line("/proc/sys/kernel/version", u.version));
	CHECK(same_line("/proc/sys/kernel/hostname", u.nodename));

	CHECK(sysinfo(&si) == 0);
	text = slurp("/proc/meminfo");
	CHECK(field(text, "MemTotal") == (long long)((unsigned long long)si.totalram * si.mem_unit / 1024));
	CHECK(field(text, "SwapTotal") == (long long)((unsigned long long)si.totalswap * si.mem_unit / 1024));
	up = strtod(slurp("/proc/uptime"), NULL);
	CHECK(up <= si.uptime + 1 && up + 2 >= si.uptime);
	text = slurp("/proc/stat");
	btime = strstr(text, "\nbtime ") ? strtoll(strstr(text, "\nbtime ") + 7, NULL, 10) : 0;
	CHECK(llabs(btime + (long long)up - (long long)time(NULL)) <= 2);

	snprintf(want, sizeof want, "%d", getpid());
	n = readlink("/proc/self", link, sizeof link - 1);
	CHECK(n > 0 && (link[n] = 0, strcmp(link, want) == 0));
	text = slurp("/proc/self/status");
	CHECK(field(text, "Pid") == getpid() && field(text, "PPid") == getppid());
	CHECK(field(text, "Threads") == 1);
	text = slurp("/proc/self/stat");
	CHECK(strtol(text, NULL, 10) == getpid());
	CHECK(strtol(strstr(text, ") ") + 4, NULL, 10) == getppid());

	text = slurp("/proc/cpuinfo");
	for (const char *p = text; (p = strstr(p, "processor\t: ")) != NULL; p++)
		processors++;
	CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
	CHECK(processors == CPU_COUNT(&set));
	for (size_t i = 0; i < sizeof features / sizeof features[0]; i++)
		if (has_flag(text, features[i].name) != cpuid_has(&features[i])) {
			printf("flag %s: /proc/cpuinfo and cpuid disagree\n", features[i].name);
			mismatched++;
		}
	CHECK(mismatched == 0);
	return selftest_end();
}
