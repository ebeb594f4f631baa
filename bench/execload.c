/* bench/execload: the latency and throughput of commands run in an up box,
 * from P clients at once, N runs in all.
 *   execload [-a] N P cmd CMD [ARG...]
 *     spawn CMD (for example `clawbox exec --box B -- true`) and wait for it
 *   execload [-a] N P http SOCKET PATH BODY
 *     POST BODY to PATH over the unix socket SOCKET (clawbox serve), one
 *     connection per request; the answer must be a 200 with "exit_code": 0
 * Prints "median_us p10_us p90_us runs_per_second" (with -a, every run's
 * time in microseconds instead, one per line). A run that fails ends it
 * (exit 2) with the reason on stderr. */
#define _GNU_SOURCE
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char **cmd;
static const char *sock_path, *req_path, *body;
static double *times;
static int total, next_run;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "execload: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	exit(2);
}

static void run_cmd(void)
{
	pid_t pid;
	int st;
	if (posix_spawnp(&pid, cmd[0], NULL, NULL, cmd, environ) != 0)
		die("cannot spawn", cmd[0]);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("the command failed", cmd[0]);
}

/* Whether the answer is a 200 whose JSON says "exit_code": 0. */
static int answer_ok(const char *a)
{
	if (strncmp(a, "HTTP/1.1 200", 12) != 0 && strncmp(a, "HTTP/1.0 200", 12) != 0)
		return 0;
	const char *p = strstr(a, "\"exit_code\"");
	if (!p)
		return 0;
	p += strlen("\"exit_code\"");
	while (*p == ' ' || *p == ':')
		p++;
	return p[0] == '0' && (p[1] < '0' || p[1] > '9');
}

static void run_http(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char req[4096], ans[65536];
	size_t len = 0;
	ssize_t k;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("cannot connect", sock_path);
	int n = snprintf(req, sizeof(req),
			 "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			 req_path, strlen(body), body);
	if (n < 0 || (size_t)n >= sizeof(req) || write(fd, req, (size_t)n) != n)
		die("cannot send the request", req_path);
	while (len < sizeof(ans) - 1 && (k = read(fd, ans + len, sizeof(ans) - 1 - len)) > 0)
		len += (size_t)k;
	ans[len] = '\0';
	close(fd);
	if (!answer_ok(ans))
		die("unexpected answer", ans);
}

static void *client(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&lock);
		int i = next_run < total ? next_run++ : -1;
		pthread_mutex_unlock(&lock);
		if (i < 0)
			return NULL;
		double t0 = now_us();
		if (cmd)
			run_cmd();
		else
			run_http();
		times[i] = now_us() - t0;
	}
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int all = argc > 1 && strcmp(argv[1], "-a") == 0;
	argv += all;
	argc -= all;
	if (argc < 5 || (strcmp(argv[3], "http") == 0 && argc != 7)) {
		fprintf(stderr, "usage: execload [-a] N P cmd CMD [ARG...]\n"
				"       execload [-a] N P http SOCKET PATH BODY\n");
		return 2;
	}
	total = atoi(argv[1]);
	int p = atoi(argv[2]);
	if (total < 1 || p < 1 || p > 256)
		die("bad N or P", NULL);
	if (strcmp(argv[3], "cmd") == 0) {
		cmd = argv + 4;
	} else {
		sock_path = argv[4];
		req_path = argv[5];
		body = argv[6];
	}
	times = calloc((size_t)total, sizeof(*times));
	pthread_t *t = calloc((size_t)p, sizeof(*t));
	if (!times || !t)
		die("out of memory", NULL);
	double t0 = now_us();
	for (int i = 0; i < p; i++)
		if (pthread_create(&t[i], NULL, client, NULL) != 0)
			die("cannot start a client thread", NULL);
	for (int i = 0; i < p; i++)
		pthread_join(t[i], NULL);
	double wall = now_us() - t0;
	if (all) {
		for (int i = 0; i < total; i++)
			printf("%.0f\n", times[i]);
		return 0;
	}
	qsort(times, (size_t)total, sizeof(*times), cmp);
	printf("%.0f %.0f %.0f %.1f\n", times[total / 2], times[total / 10], times[total * 9 / 10],
	       total / (wall / 1e6));
	return 0;
}
