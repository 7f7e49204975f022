/*
 * replay: runs a fuzz target over files, without libFuzzer, in the normal
 * ASan+UBSan build: `replay_TARGET DIR_OR_FILE...`. meson test runs every
 * target over its seed corpus and its regressions (tests/fuzz/corpus/T,
 * tests/fuzz/regressions/T), so an input that once broke something keeps
 * being run. Files are taken in name order; names starting with '.' and
 * README files are skipped. Exit 0 when every input ran without a crash.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static size_t run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: cannot open %s\n", path);
		exit(2);
	}
	unsigned char *data = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (n + 4096 > cap)
			data = realloc(data, cap = 2 * cap + 4096);
		if (!data)
			abort();
		size_t got = fread(data + n, 1, 4096, f);
		n += got;
		if (got < 4096)
			break;
	}
	fclose(f);
	/* An exact-size copy, so that ASan sees a read past the input's end. */
	unsigned char *exact = malloc(n ? n : 1);
	if (!exact)
		abort();
	memcpy(exact, data, n);
	free(data);
	(void)LLVMFuzzerTestOneInput(exact, n);
	free(exact);
	return 1;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t run_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "replay: cannot open %s\n", dir);
		exit(2);
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !strncmp(e->d_name, "README", 6))
			continue;
		names = realloc(names, (n + 1) * sizeof *names);
		if (!names || !(names[n++] = strdup(e->d_name)))
			abort();
	}
	closedir(d);
	qsort(names, n, sizeof *names, by_name);
	size_t ran = 0;
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		struct stat st;
		if (!stat(path, &st) && S_ISREG(st.st_mode))
			ran += run_file(path);
		free(names[i]);
	}
	free(names);
	return ran;
}

int main(int argc, char **argv)
{
	if (LLVMFuzzerInitialize(&argc, &argv))
		return 2;
	size_t ran = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st))
			continue; /* a target with no regressions has no directory */
		ran += S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i]);
	}
	printf("replay: %zu inputs ran\n", ran);
	return 0;
}
