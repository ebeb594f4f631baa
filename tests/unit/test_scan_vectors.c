/* Compatibility with gitleaks: every true-positive sample of vectors.json is
 * reported by its rule, no false-positive sample is; and the default rules
 * find the listed providers' samples. Prints the figures. */
#include "unit.h"

#include <jansson.h>

#include "scan/gitleaks.h"
#include "scan/scan.h"

struct want {
	const char *rule; /* NULL: any rule */
	bool found;
};

static int on_finding(const struct scan_finding *f, void *ud)
{
	struct want *w = ud;
	if (!w->rule || STREQ(f->rule_id, w->rule))
		w->found = true;
	return 0;
}

static json_t *load_vectors(void)
{
	char path[PATH_MAX];
	const char *shared = secure_getenv("SHARED");
	if (!shared)
		SKIP("SHARED is not set (tests/run sets it)");
	snprintf(path, sizeof(path), "%s/data/gitleaks/vectors.json", shared);
	if (access(path, R_OK) < 0)
		SKIP("%s is absent", path);
	json_error_t e;
	json_t *v = json_load_file(path, 0, &e);
	CHECK(v && json_is_array(v));
	return v;
}

static bool sample_found(const struct scan_rules *rs, struct scan_ctx *ctx, json_t *sample,
			 const char *rule)
{
	const char *text = json_string_value(json_object_get(sample, "text"));
	const char *path = json_string_value(json_object_get(sample, "path"));
	struct want w = { rule, false };
	CHECK(text);
	int r = scan_ctx_buffer(ctx, path, text, strlen(text), on_finding, &w);
	CHECK(r >= 0);
	return w.found;
}

TEST(scan_gitleaks_vectors)
{
	json_t *v = load_vectors();
	char path[PATH_MAX];
	struct scan_rules *rs = NULL;
	struct scan_ctx *ctx = NULL;
	struct error ge, err;
	size_t i, tp = 0, tp_found = 0, fp = 0, fp_found = 0;
	json_t *rule;

	snprintf(path, sizeof(path), "%s/data/gitleaks/gitleaks.toml", secure_getenv("SHARED"));
	CHECK_INT(scan_rules_new(&rs), 0);
	int r = gitleaks_load_file(rs, path, &ge);
	if (r < 0)
		fprintf(stderr, "%s:%u: %s\n", ge.where, ge.line, ge.message);
	CHECK_INT(r, 0);
	CHECK_INT(scan_rules_count(rs), 222);
	CHECK_INT(scan_rules_compile(rs, &err), 0);
	CHECK_INT(scan_ctx_new(rs, &ctx), 0);
	json_array_foreach(v, i, rule)
	{
		const char *id = json_string_value(json_object_get(rule, "id"));
		size_t k;
		json_t *s;
		json_array_foreach(json_object_get(rule, "tps"), k, s)
		{
			tp++;
			if (sample_found(rs, ctx, s, id))
				tp_found++;
			else if (secure_getenv("SCAN_VECTORS_VERBOSE"))
				fprintf(stderr, "missed TP %s: %s\n", id,
					json_string_value(json_object_get(s, "text")));
		}
		json_array_foreach(json_object_get(rule, "fps"), k, s)
		{
			fp++;
			if (sample_found(rs, ctx, s, id)) {
				fp_found++;
				if (secure_getenv("SCAN_VECTORS_VERBOSE"))
					fprintf(stderr, "reported FP %s: %s\n", id,
						json_string_value(json_object_get(s, "text")));
			}
		}
	}
	printf("# gitleaks vectors: true positives %zu/%zu (%.2f%%), false positives %zu/%zu "
	       "(%.2f%%)\n",
	       tp_found, tp, 100.0 * (double)tp_found / (double)tp, fp_found, fp,
	       100.0 * (double)fp_found / (double)fp);
	fflush(stdout);
	CHECK_INT(tp, 6396);
	CHECK_INT(fp, 374);
	CHECK(tp_found * 1000 >= tp * 995);
	CHECK(fp_found * 100 <= fp);
	scan_ctx_free(ctx);
	scan_rules_free(rs);
	json_decref(v);
}

/* vectors.json rule ids of the providers the default rules must cover */
static bool listed_provider(const char *id)
{
	static const char *const prefixes[] = {
		"anthropic-",
		"openai-",
		"openrouter-",
		"gcp-api-key",
		"aws-access-token",
		"aws-amazon-bedrock",
		"azure-ad-client-secret",
		"github-",
		"gitlab-",
		"slack-",
		"discord-",
		"telegram-",
		"stripe-",
		"twilio-",
		"sendgrid-",
		"npm-access-token",
		"pypi-",
		"private-key",
		"jwt",
	};
	for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
		if (!strncmp(id, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

TEST(scan_default_rules_cover_providers)
{
	json_t *v = load_vectors();
	struct scan_rules *rs = NULL;
	struct scan_ctx *ctx = NULL;
	struct error ge, err;
	size_t i, n = 0, found = 0;
	json_t *rule;

	CHECK_INT(scan_rules_new(&rs), 0);
	CHECK_INT(gitleaks_load_default(rs, &ge), 0);
	CHECK_INT(scan_rules_compile(rs, &err), 0);
	CHECK_INT(scan_ctx_new(rs, &ctx), 0);
	json_array_foreach(v, i, rule)
	{
		const char *id = json_string_value(json_object_get(rule, "id"));
		size_t k;
		json_t *s;
		if (!listed_provider(id))
			continue;
		json_array_foreach(json_object_get(rule, "tps"), k, s)
		{
			n++;
			if (sample_found(rs, ctx, s, NULL))
				found++;
			else if (secure_getenv("SCAN_VECTORS_VERBOSE"))
				fprintf(stderr, "default rules missed %s: %s\n", id,
					json_string_value(json_object_get(s, "text")));
		}
	}
	printf("# default rules: provider samples found %zu/%zu (%.2f%%)\n", found, n,
	       100.0 * (double)found / (double)n);
	fflush(stdout);
	CHECK(n > 1000);
	CHECK(found * 100 >= n * 95);
	scan_ctx_free(ctx);
	scan_rules_free(rs);
	json_decref(v);
}
