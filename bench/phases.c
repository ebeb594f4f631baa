/* bench/phases: run a command N times with fd 9 open to a pipe and print,
 * per run, the trace points the command wrote there (src/util/trace.h) as
 * "NAME MICROSECONDS-SINCE-SPAWN", then "end" with the whole run's time.
 * usage: phases N CMD [ARG...] */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: phases N CMD [ARG...]\n");
		return 2;
	}
	int n = atoi(argv[1]);
	static char buf[1 << 16];
	for (int i = 0; i < n; i++) {
		int p[2], st;
		pid_t pid;
		if (pipe(p) < 0 || dup2(p[1], 9) < 0)
			return 2;
		close(p[1]);
		double t0 = now_us();
		if (posix_spawnp(&pid, argv[2], NULL, NULL, argv + 2, environ) != 0)
			return 2;
		close(9);
		if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "phases: '%s' failed\n", argv[2]);
			return 2;
		}
		double t1 = now_us();
		size_t len = 0;
		ssize_t k;
		while (len < sizeof(buf) - 1 &&
		       (k = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0)
			len += (size_t)k;
		buf[len] = '\0';
		close(p[0]);
		for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l;
		     l = strtok_r(NULL, "\n", &save)) {
			char name[64];
			double v;
			if (sscanf(l, "%63s %lf", name, &v) == 2)
				printf("%s %.0f\n", name, v - t0);
		}
		printf("end %.0f\n", t1 - t0);
	}
	return 0;
}
