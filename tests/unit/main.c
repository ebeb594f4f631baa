/* Unit-test runner: one fork per test, TAP-like output, a closing summary. */
#include "unit.h"

#include <signal.h>
#include <sys/wait.h>

struct unit_test {
	const char *file, *name;
	void (*fn)(void);
};

static struct unit_test tests[1024];
static size_t ntests;

void unit_register(const char *file, const char *name, void (*fn)(void))
{
	if (ntests < ELEMENTSOF(tests))
		tests[ntests++] = (struct unit_test){ file, name, fn };
}

static bool selected(const struct unit_test *t, int argc, char **argv)
{
	if (argc < 2)
		return true;
	for (int i = 1; i < argc; i++)
		if (strstr(t->name, argv[i]) || strstr(t->file, argv[i]))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	unsigned passed = 0, failed = 0, skipped = 0, n = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < ntests; i++) {
		const struct unit_test *t = &tests[i];
		if (!selected(t, argc, argv))
			continue;
		n++;
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 2;
		}
		if (pid == 0) {
			alarm(120);
			t->fn();
			fflush(NULL);
			_exit(0);
		}
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			printf("ok %u - unit: %s\n", n, t->name);
			passed++;
		} else if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
			printf("ok %u - unit: %s # SKIP\n", n, t->name);
			skipped++;
		} else {
			if (WIFSIGNALED(st))
				printf("# %s: killed by signal %d\n", t->name, WTERMSIG(st));
			printf("not ok %u - unit: %s\n", n, t->name);
			failed++;
		}
	}
	printf("%u passed, %u failed, %u skipped\n", passed, failed, skipped);
	return failed ? 1 : 0;
}
