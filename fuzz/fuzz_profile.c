/* libFuzzer harness for the agent profile reader: any input parses into a
 * profile whose every entry holds the documented invariants, or fails with
 * -EINVAL (a line number in the error), -E2BIG or -ENOMEM; never a crash or
 * a leak. */
#include "util/common.h"

#include "agents/profile.h"
#include "secrets/dotenv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_list(const struct agent_list *l, bool paths)
{
	if (l->n > AGENT_ITEMS_MAX)
		abort();
	for (size_t i = 0; i < l->n; i++) {
		if (!l->v[i].name || l->v[i].line == 0 || l->v[i].mode > 0777)
			abort();
		if (paths && !agent_path_valid(l->v[i].name))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_profile *p = NULL;
	struct error err = { 0 };
	int r = agent_profile_parse("fuzz", (const char *)data, size, "fuzz.toml", &p, &err);
	if (r == 0) {
		check_list(&p->env, false);
		check_list(&p->allow, false);
		check_list(&p->files, true);
		check_list(&p->state, true);
		for (size_t i = 0; i < p->env.n; i++)
			if (!dotenv_name_valid(p->env.v[i].name) || !p->env.v[i].value)
				abort();
		for (size_t i = 0; i < p->files.n; i++)
			if (!p->files.v[i].value || strlen(p->files.v[i].value) > AGENT_CONTENT_MAX)
				abort();
		char *argv[] = { (char *)"npx", (char *)"-y", (char *)"x@1", NULL };
		(void)agent_pick(argv, &p, 1);
		agent_profile_free(p);
	} else if (r != -EINVAL && r != -E2BIG && r != -ENOMEM) {
		abort();
	} else if (r == -EINVAL && !err.message[0] && err.code == 0) {
		abort();
	}
	return 0;
}
