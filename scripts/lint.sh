#!/usr/bin/env bash
# make lint: the layers (scripts/layers.sh), formatting (clang-format), static
# analysis (clang-tidy, cppcheck with its leak checks through scripts/leaks.py).
set -uo pipefail
cd "$(dirname "$0")/.."
for t in clang-format clang-tidy cppcheck; do
	command -v $t >/dev/null || { echo "lint: $t missing (apt-get install clang-format clang-tidy cppcheck)" >&2; exit 2; }
done
files=$(ls src/*/*.c src/*/*.h)
rc=0
echo "== layers"
bash scripts/layers.sh || rc=1
echo "== clang-format"
clang-format --dry-run -Werror $files || rc=1
echo "== clang-tidy"
make -s build/gen/sysfilter_bpf.h build/gen/nftrules.h build/gen/agents_builtin.h
flags="-std=gnu17 -Isrc -Ibuild/gen $(pkg-config --cflags $(cat scripts/pkg-config.txt scripts/pkg-config-dlopen.txt scripts/pkg-config-build.txt))"
# Off: clang's malloc checker (it does not follow __attribute__((cleanup))
# on early returns: every _cleanup_free_ variable would be a leak; leaks are
# cppcheck's below, and LeakSanitizer's at run time in make test), the
# x86-64 va_list false positive, and style-only widening warnings.
checks='-*,bugprone-*,clang-analyzer-*,cert-err34-c,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,-bugprone-narrowing-conversions,-bugprone-assignment-in-if-condition,-bugprone-branch-clone,-bugprone-implicit-widening-of-multiplication-result,-bugprone-misplaced-widening-cast,-clang-analyzer-unix.Malloc,-clang-analyzer-valist.Uninitialized,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling'
out=$(clang-tidy --quiet -checks="$checks" --warnings-as-errors='*' $(ls src/*/*.c) \
	-- $flags 2>&1) || rc=1
grep -v "warnings generated" <<<"$out" || true
echo "== cppcheck"
# Leaks (memleak, resourceLeak, with the POSIX library's fds) go through
# scripts/leaks.py, which drops only reports about a variable declared
# with a cleanup attribute (cppcheck does not model those); every other
# report fails lint.
cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
	--suppress=missingIncludeSystem --suppress=memleak --suppress=resourceLeak -Isrc src || rc=1
cppcheck --quiet --library=posix --inline-suppr --suppress=missingIncludeSystem \
	--template='{file}:{line}:{column}: {id}: {message}' -Isrc src 2>&1 |
	python3 scripts/leaks.py || rc=1
[ $rc -eq 0 ] && echo "lint: clean" || echo "lint: problems found"
exit $rc
