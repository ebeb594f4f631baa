#!/usr/bin/env bash
# Builds every libFuzzer harness fuzz/fuzz_X.c with clang (-fsanitize=fuzzer,
# address,undefined) and fuzzes each for FUZZ_SECONDS (default 60), starting
# from fuzz/corpus/X/. New interesting inputs go to build/fuzz/corpus-X/ (copy
# the ones worth keeping into fuzz/corpus/X/); crashes go to build/fuzz/ and
# make the script fail.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
CLANG=${CLANG:-clang}
command -v "$CLANG" >/dev/null || { echo "clawbox: fuzz needs clang" >&2; exit 1; }
pkgs=$(cat scripts/pkg-config.txt)
# shellcheck disable=SC2086
pkg_cflags=$(pkg-config --cflags $pkgs $(cat scripts/pkg-config-dlopen.txt))
# shellcheck disable=SC2086
pkg_libs="$(pkg-config --libs $pkgs)"
out=build/fuzz
mkdir -p "$out"
make -s build/gen/sysfilter_bpf.h build/gen/agents_builtin.h
lib_src=$(ls src/*/*.c | grep -v -e '^src/cli/main\.c$' -e '^src/box/sysfilter_rules\.c$')
failed=0
for h in fuzz/fuzz_*.c; do
	name=$(basename "$h" .c)
	corpus_name=${name#fuzz_}
	bin=$out/$name
	echo "clawbox: building $bin" >&2
	# shellcheck disable=SC2086
	$CLANG -std=gnu17 -g -O1 -Isrc -Ibuild/gen $pkg_cflags -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -o "$bin" "$h" $lib_src $pkg_libs
	work=$out/corpus-$corpus_name
	mkdir -p "$work"
	echo "clawbox: fuzzing $name for ${seconds}s" >&2
	if ! "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$out/$name-" "$work" "fuzz/corpus/$corpus_name"; then
		echo "clawbox: $name found a problem, see $out/$name-*" >&2
		failed=1
	fi
done
exit $failed
