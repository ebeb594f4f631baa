/* libFuzzer harness for the box's brokered-secret rules ($BOX/broker.toml)
 * and --broker specs: any input parses or fails with a line-numbered
 * message and an empty set; a parsed set written back reads the same; a
 * spec (the input's first line, after a '#') makes a rule or says why not. */
#include "util/common.h"

#include "secrets/broker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const struct broker_set *a, const struct broker_set *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct broker_rule *x = &a->rule[i], *y = &b->rule[i];
		if (strcmp(x->name, y->name) || strcmp(x->preset, y->preset) ||
		    x->nhosts != y->nhosts || x->ninject != y->ninject)
			return false;
		for (size_t j = 0; j < x->nhosts; j++)
			if (strcmp(x->hosts[j], y->hosts[j]))
				return false;
		for (size_t j = 0; j < x->ninject; j++)
			if (x->inject[j].where != y->inject[j].where ||
			    strcmp(x->inject[j].param, y->inject[j].param))
				return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct broker_set s, back;
	struct error err;
	int r = broker_parse((const char *)data, size, "broker.toml", &s, &err);
	if (r < 0 && (!err.message[0] || err.code != r || s.n != 0))
		abort();
	if (r == 0 && s.n > 0) {
		char dir[] = "/tmp/clawbox-fuzz.XXXXXX";
		if (!mkdtemp(dir))
			abort();
		int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || broker_save(fd, &s, &err) < 0 || broker_load(fd, &back, &err) < 0 ||
		    !same(&s, &back))
			abort();
		unlinkat(fd, BROKER_FILE, 0);
		close(fd);
		rmdir(dir);
	}
	/* the spec: the first line, after a '#' (a TOML comment) */
	char spec[512];
	size_t n = 0, from = size && data[0] == '#';
	while (from + n < size && n < sizeof(spec) - 1 && data[from + n] != '\n' &&
	       data[from + n] != '\0')
		n++;
	memcpy(spec, data + from, n);
	spec[n] = '\0';
	struct broker_rule rule;
	r = broker_rule_from_spec("NAME", spec, &rule, &err);
	if (r < 0 && r != -ENOMEM && !err.message[0])
		abort();
	if (r == 0 && (rule.nhosts == 0 || rule.ninject == 0))
		abort();
	return 0;
}
