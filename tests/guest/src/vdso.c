/* The vDSO as the C libraries find it: AT_SYSINFO_EHDR, the ELF's dynamic section, its
 * hash tables and symbol versions, resolved by hand the way glibc's dl_vdso_vsym (GNU
 * hash, version LINUX_2.6) and musl's __vdsosym (DT_HASH, verdef) do. Then each
 * function is called and checked against the system call it stands for, the clocks the
 * vDSO does not answer are checked to behave as the system call (errno included), and
 * /proc/self/maps is checked to show [vvar], [vdso] and [vsyscall]. */
#include <elf.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "selftest.h"

#define VSYSCALL_LINE "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 "
#define TOLERANCE_NS 10000000LL /* 10 ms: the two paths read one clock at nearby moments */

typedef int (*cgt_t)(clockid_t, struct timespec *);
typedef int (*gtod_t)(struct timeval *, struct timezone *);
typedef time_t (*time_fn)(time_t *);
typedef long (*getcpu_t)(unsigned *, unsigned *, void *);

struct vdso {
	uintptr_t bias;
	int loads;
	const char *strtab;
	const Elf64_Sym *symtab;
	const uint32_t *hash;
	const uint32_t *gnu_hash;
	const uint16_t *versym;
	const Elf64_Verdef *verdef;
	const char *soname;
};

static unsigned long elf_hash(const char *name)
{
	unsigned long h = 0, g;
	for (; *name; name++) {
		h = (h << 4) + (unsigned char)*name;
		g = h & 0xf0000000;
		if (g)
			h ^= g >> 24;
		h &= ~g;
	}
	return h;
}

static uint32_t gnu_hash(const char *name)
{
	uint32_t h = 5381;
	for (; *name; name++)
		h = h * 33 + (unsigned char)*name;
	return h;
}

static int parse(struct vdso *v, const Elf64_Ehdr *eh)
{
	const Elf64_Phdr *ph = (const void *)((const char *)eh + eh->e_phoff);
	const Elf64_Dyn *dyn = NULL;

	memset(v, 0, sizeof(*v));
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD) {
			v->bias = (uintptr_t)eh + ph[i].p_offset - ph[i].p_vaddr;
			v->loads++;
		} else if (ph[i].p_type == PT_DYNAMIC) {
			dyn = (const void *)((const char *)eh + ph[i].p_offset);
		}
	}
	if (!dyn || !v->loads)
		return 0;
	for (; dyn->d_tag != DT_NULL; dyn++) {
		const void *p = (const void *)(v->bias + dyn->d_un.d_ptr);
		switch (dyn->d_tag) {
		case DT_STRTAB: v->strtab = p; break;
		case DT_SYMTAB: v->symtab = p; break;
		case DT_HASH: v->hash = p; break;
		case DT_GNU_HASH: v->gnu_hash = p; break;
		case DT_VERSYM: v->versym = p; break;
		case DT_VERDEF: v->verdef = p; break;
		}
	}
	return v->strtab && v->symtab && v->hash && v->versym && v->verdef;
}

/* The symbol's version is `version`: its versym names a non-base verdef whose hash and
 * first name match (glibc compares the hash and the name, musl the name). */
static int version_ok(const struct vdso *v, uint32_t sym, const char *version)
{
	const Elf64_Verdef *def = v->verdef;
	uint16_t ndx = v->versym[sym] & 0x7fff;

	for (;;) {
		if (!(def->vd_flags & VER_FLG_BASE) && (def->vd_ndx & 0x7fff) == ndx) {
			const Elf64_Verdaux *aux = (const void *)((const char *)def + def->vd_aux);
			return def->vd_hash == elf_hash(version) && !strcmp(v->strtab + aux->vda_name, version);
		}
		if (!def->vd_next)
			return 0;
		def = (const void *)((const char *)def + def->vd_next);
	}
}

static int usable(const struct vdso *v, uint32_t i, const char *name, const char *version)
{
	const Elf64_Sym *s = &v->symtab[i];
	int type = ELF64_ST_TYPE(s->st_info), bind = ELF64_ST_BIND(s->st_info);

	return s->st_shndx != SHN_UNDEF && (type == STT_FUNC || type == STT_NOTYPE) &&
	       (bind == STB_GLOBAL || bind == STB_WEAK) && !strcmp(v->strtab + s->st_name, name) &&
	       version_ok(v, i, version);
}

/* glibc's do_lookup_x over DT_GNU_HASH: Bloom filter, bucket, then the chain. */
static void *lookup_gnu(const struct vdso *v, const char *name, const char *version)
{
	const uint32_t *h = v->gnu_hash;
	uint32_t nbuckets = h[0], symoffset = h[1], bloom_size = h[2], shift = h[3];
	const uint64_t *bloom = (const void *)&h[4];
	const uint32_t *buckets = (const void *)&bloom[bloom_size];
	const uint32_t *chain = &buckets[nbuckets];
	uint32_t hash = gnu_hash(name);
	uint64_t word = bloom[(hash / 64) % bloom_size];

	if (!((word >> (hash % 64)) & (word >> ((hash >> shift) % 64)) & 1))
		return NULL;
	for (uint32_t i = buckets[hash % nbuckets]; i; i++) {
		if ((chain[i - symoffset] | 1) == (hash | 1) && usable(v, i, name, version))
			return (void *)(v->bias + v->symtab[i].st_value);
		if (chain[i - symoffset] & 1)
			break;
	}
	return NULL;
}

/* musl's __vdsosym: every symbol DT_HASH counts (nchain), by name and version. */
static void *lookup_sysv(const struct vdso *v, const char *name, const char *version)
{
	for (uint32_t i = 0; i < v->hash[1]; i++)
		if (usable(v, i, name, version))
			return (void *)(v->bias + v->symtab[i].st_value);
	return NULL;
}

static long long ns(const struct timespec *ts)
{
	return ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static void check_clock(cgt_t cgt, clockid_t clock, const char *name)
{
	struct timespec a, b, v;
	int ok = syscall(SYS_clock_gettime, clock, &a) == 0 && cgt(clock, &v) == 0 &&
		 syscall(SYS_clock_gettime, clock, &b) == 0;

	ok = ok && v.tv_nsec >= 0 && v.tv_nsec < 1000000000L;
	ok = ok && ns(&a) - TOLERANCE_NS <= ns(&v) && ns(&v) <= ns(&b) + TOLERANCE_NS;
	printf("%s %s agrees with the system call\n", ok ? "[OK]" : "[FAIL]", name);
	if (!ok)
		failures++;
}

static int never_back(cgt_t cgt, clockid_t clock)
{
	struct timespec a, b;
	cgt(clock, &a);
	for (int i = 0; i < 10000; i++) {
		cgt(clock, &b);
		if (ns(&b) < ns(&a))
			return 0;
		a = b;
	}
	return 1;
}

static void check_maps(uintptr_t ehdr)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512], last[512] = "";
	unsigned long start, end, vvar_end = 0, vdso_start = 0;
	char perms[8];
	int vvar = 0, vdso = 0;

	CHECK(f != NULL);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		strcpy(last, line);
		if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) != 3)
			continue;
		if (strstr(line, " [vvar]\n")) {
			vvar = !strcmp(perms, "r--p");
			vvar_end = end;
		} else if (strstr(line, " [vdso]\n")) {
			vdso = !strcmp(perms, "r-xp") && start == ehdr;
			vdso_start = start;
		}
	}
	fclose(f);
	CHECK(vvar);  /* [vvar] r--p */
	CHECK(vdso);  /* [vdso] r-xp at AT_SYSINFO_EHDR */
	CHECK(vvar_end <= vdso_start && vdso_start - vvar_end <= 2 * 4096);  /* just below the vDSO */
	CHECK(!strncmp(last, VSYSCALL_LINE, strlen(VSYSCALL_LINE)) && strstr(last, " [vsyscall]\n"));  /* last */
}

/* ARCH_DLINFO puts AT_SYSINFO_EHDR first in the auxiliary vector. */
static void check_auxv(uintptr_t ehdr)
{
	FILE *f = fopen("/proc/self/auxv", "r");
	unsigned long first[2] = {0, 0};

	CHECK(f && fread(first, sizeof(first), 1, f) == 1 && first[0] == AT_SYSINFO_EHDR && first[1] == ehdr);
	if (f)
		fclose(f);
}

int main(void)
{
	const Elf64_Ehdr *eh = (const void *)getauxval(AT_SYSINFO_EHDR);
	struct vdso v;
	struct timespec ts, res_v, res_s;
	struct timeval tv, tv_s;
	struct timezone tz = {99, 99}, tz_s = {98, 98};
	time_t t = 0, t_s;
	unsigned cpu = 99, node = 99;
	static const char *const names[] = {"clock_gettime", "gettimeofday", "time", "getcpu", "clock_getres"};

	selftest_start("vdso");
	CHECK(eh != NULL);
	if (!eh)
		return selftest_end();
	CHECK(!memcmp(eh->e_ident, ELFMAG, SELFMAG) && eh->e_ident[EI_CLASS] == ELFCLASS64);
	CHECK(eh->e_type == ET_DYN && eh->e_machine == EM_X86_64);
	CHECK(((uintptr_t)eh & 4095) == 0);
	CHECK(parse(&v, eh));
	CHECK(v.loads == 1);
	CHECK(v.gnu_hash != NULL);

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char full[64];
		void *g, *s;

		snprintf(full, sizeof(full), "__vdso_%s", names[i]);
		g = lookup_gnu(&v, full, "LINUX_2.6");
		s = lookup_sysv(&v, full, "LINUX_2.6");
		printf("%s %s@LINUX_2.6 found through both hash tables\n", g && g == s ? "[OK]" : "[FAIL]", full);
		failures += !(g && g == s);
		printf("%s %s is an alias of it\n", lookup_gnu(&v, names[i], "LINUX_2.6") == g ? "[OK]" : "[FAIL]",
		       names[i]);
		failures += lookup_gnu(&v, names[i], "LINUX_2.6") != g;
	}
	CHECK(lookup_gnu(&v, "__vdso_clock_gettime", "LINUX_2.5") == NULL);  /* another version */
	CHECK(lookup_sysv(&v, "__vdso_clock_gettime", "LINUX_2.5") == NULL);
	CHECK(lookup_gnu(&v, "__vdso_settimeofday", "LINUX_2.6") == NULL);

	cgt_t cgt = (cgt_t)lookup_gnu(&v, "__vdso_clock_gettime", "LINUX_2.6");
	gtod_t gtod = (gtod_t)lookup_gnu(&v, "__vdso_gettimeofday", "LINUX_2.6");
	time_fn vtime = (time_fn)lookup_gnu(&v, "__vdso_time", "LINUX_2.6");
	getcpu_t vgetcpu = (getcpu_t)lookup_gnu(&v, "__vdso_getcpu", "LINUX_2.6");
	cgt_t getres = (cgt_t)lookup_gnu(&v, "__vdso_clock_getres", "LINUX_2.6");
	if (!cgt || !gtod || !vtime || !vgetcpu || !getres)
		return selftest_end();

	check_clock(cgt, CLOCK_REALTIME, "CLOCK_REALTIME");
	check_clock(cgt, CLOCK_MONOTONIC, "CLOCK_MONOTONIC");
	check_clock(cgt, CLOCK_BOOTTIME, "CLOCK_BOOTTIME");
	check_clock(cgt, CLOCK_TAI, "CLOCK_TAI");
	check_clock(cgt, CLOCK_MONOTONIC_RAW, "CLOCK_MONOTONIC_RAW");
	check_clock(cgt, CLOCK_REALTIME_COARSE, "CLOCK_REALTIME_COARSE");
	check_clock(cgt, CLOCK_MONOTONIC_COARSE, "CLOCK_MONOTONIC_COARSE");
	CHECK(never_back(cgt, CLOCK_MONOTONIC));
	CHECK(never_back(cgt, CLOCK_MONOTONIC_RAW));
	CHECK(never_back(cgt, CLOCK_MONOTONIC_COARSE));

	/* Clocks the vDSO passes to the kernel: its result, -errno as the syscall returns it. */
	CHECK(cgt(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
	CHECK(cgt(CLOCK_THREAD_CPUTIME_ID, &ts) == 0);
	CHECK(cgt((clockid_t)1234, &ts) == -EINVAL);
	CHECK(cgt((clockid_t)16, &ts) == -EINVAL);
	CHECK(cgt((clockid_t)-1, &ts) == -EINVAL);
	errno = 0;
	CHECK(clock_gettime((clockid_t)1234, &ts) == -1 && errno == EINVAL);  /* glibc/musl set errno */

	CHECK(gtod(&tv, &tz) == 0 && syscall(SYS_gettimeofday, &tv_s, &tz_s) == 0);
	CHECK(tv.tv_usec >= 0 && tv.tv_usec < 1000000);
	CHECK(llabs((tv.tv_sec - tv_s.tv_sec) * 1000000LL + tv.tv_usec - tv_s.tv_usec) < TOLERANCE_NS / 1000);
	CHECK(tz.tz_minuteswest == tz_s.tz_minuteswest && tz.tz_dsttime == tz_s.tz_dsttime);
	CHECK(gtod(NULL, NULL) == 0);
	CHECK(gtod(NULL, &tz) == 0);

	t_s = syscall(SYS_time, NULL);
	CHECK(vtime(&t) == t && t - t_s >= 0 && t - t_s <= 1);
	CHECK(vtime(NULL) - t_s >= 0);

	CHECK(vgetcpu(&cpu, &node, NULL) == 0 && cpu < (unsigned)sysconf(_SC_NPROCESSORS_CONF) && node == 0);
	CHECK(vgetcpu(NULL, NULL, NULL) == 0);

	CHECK(getres(CLOCK_MONOTONIC, &res_v) == 0 && syscall(SYS_clock_getres, CLOCK_MONOTONIC, &res_s) == 0 &&
	      res_v.tv_sec == res_s.tv_sec && res_v.tv_nsec == res_s.tv_nsec);
	CHECK(getres(CLOCK_MONOTONIC_COARSE, &res_v) == 0 &&
	      syscall(SYS_clock_getres, CLOCK_MONOTONIC_COARSE, &res_s) == 0 &&
	      res_v.tv_sec == res_s.tv_sec && res_v.tv_nsec == res_s.tv_nsec);
	CHECK(getres(CLOCK_PROCESS_CPUTIME_ID, &res_v) == 0 && res_v.tv_sec == 0);
	CHECK(getres((clockid_t)1234, &res_v) == -EINVAL);
	CHECK(getres(CLOCK_MONOTONIC, NULL) == 0);

	check_maps((uintptr_t)eh);
	check_auxv((uintptr_t)eh);
	return selftest_end();
}
