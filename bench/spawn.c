/* bench/spawn: run a command N times (after W warm-up runs), print the
 * median, p10 and p90 wall time in microseconds and the peak RSS (KiB) of
 * any process of the runs, as one line: "median_us p10_us p90_us maxrss_kib".
 * With -a, print every run's time instead, one per line.
 * usage: spawn [-a] N W CMD [ARG...] */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double run_once(char **argv)
{
	struct timespec t0, t1;
	pid_t pid;
	int st;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0) {
		perror("posix_spawnp");
		exit(2);
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "spawn: '%s' failed (status %d)\n", argv[0], st);
		exit(2);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
}

int main(int argc, char **argv)
{
	int all = argc > 1 && strcmp(argv[1], "-a") == 0;
	argv += all;
	argc -= all;
	if (argc < 4) {
		fprintf(stderr, "usage: spawn [-a] N WARMUP CMD [ARG...]\n");
		return 2;
	}
	int n = atoi(argv[1]), w = atoi(argv[2]);
	double *t = calloc((size_t)n, sizeof(*t));
	for (int i = 0; i < w; i++)
		run_once(argv + 3);
	for (int i = 0; i < n; i++)
		t[i] = run_once(argv + 3);
	if (all) {
		for (int i = 0; i < n; i++)
			printf("%.0f\n", t[i]);
		return 0;
	}
	qsort(t, (size_t)n, sizeof(*t), cmp);
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	printf("%.0f %.0f %.0f %ld\n", t[n / 2], t[n / 10], t[n * 9 / 10], ru.ru_maxrss);
	return 0;
}
