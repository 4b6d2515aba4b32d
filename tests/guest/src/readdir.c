/* Directory listing: make files, list them with opendir/readdir, print them sorted. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "selftest.h"

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
	char *names[300];
	char name[64];
	struct dirent *de;
	DIR *d;
	int n = 0, dirs = 0, created = 0;

	selftest_start("readdir");
	CHECK(mkdir("d", 0755) == 0);
	/* Enough entries that the listing needs several getdents64 calls. */
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "d/file-%03d-with-a-longish-name", i);
		int fd = open(name, O_CREAT | O_WRONLY, 0644);
		if (fd >= 0 && close(fd) == 0)
			created++;
	}
	CHECK(created == 200);
	CHECK(mkdir("d/subdir", 0755) == 0);
	d = opendir("d");
	CHECK(d != NULL);
	if (!d)
		return selftest_end();
	while ((de = readdir(d)) != NULL && n < 300) {
		if (de->d_type == DT_DIR)
			dirs++;
		names[n++] = strdup(de->d_name);
	}
	CHECK(closedir(d) == 0);
	printf("entries=%d dirs=%d\n", n, dirs);
	qsort(names, n, sizeof(names[0]), cmp);
	for (int i = 0; i < n; i++) {
		if (i < 5 || i >= n - 3)
			printf("%s\n", names[i]);
	}
	CHECK(n == 203);
	CHECK(opendir("nope") == NULL && errno == ENOENT);
	CHECK(opendir("d/file-000-with-a-longish-name") == NULL && errno == ENOTDIR);
	return selftest_end();
}
