/* A tiny unit-test framework: TEST(name) { ... } registers a test; the runner
 * (tests/unit/main.c) forks per test, so a test that crashes, unshares or
 * loads a seccomp filter cannot poison the others. */
#ifndef CLAWBOX_UNIT_H
#define CLAWBOX_UNIT_H
#include "util/common.h"

void unit_register(const char *file, const char *name, void (*fn)(void));

#define TEST(name)                                                     \
	static void test_##name(void);                                 \
	__attribute__((constructor)) static void register_##name(void) \
	{                                                              \
		unit_register(__FILE__, #name, test_##name);           \
	}                                                              \
	static void test_##name(void)

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			exit(1);                                                                 \
		}                                                                                \
	} while (0)

#define CHECK_STREQ(a, b)                                                                 \
	do {                                                                              \
		const char *a_ = (a), *b_ = (b);                                          \
		if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                  \
			fprintf(stderr, "%s:%d: expected \"%s\", got \"%s\"\n", __FILE__, \
				__LINE__, b_ ? b_ : "(null)", a_ ? a_ : "(null)");        \
			exit(1);                                                          \
		}                                                                         \
	} while (0)

#define CHECK_INT(a, b)                                                                   \
	do {                                                                              \
		long long a_ = (long long)(a), b_ = (long long)(b);                       \
		if (a_ != b_) {                                                           \
			fprintf(stderr, "%s:%d: %s: expected %lld, got %lld\n", __FILE__, \
				__LINE__, #a, b_, a_);                                    \
			exit(1);                                                          \
		}                                                                         \
	} while (0)

#define SKIP(...)                                      \
	do {                                           \
		fprintf(stderr, "skip: " __VA_ARGS__); \
		fprintf(stderr, "\n");                 \
		exit(77);                              \
	} while (0)

#endif
