#!/usr/bin/env bash
# Network proxy cost, in one run, against a "remote" network namespace this
# script creates (veth pair, 10.77.254.0/24; nothing else is touched):
# new-connection latency (connect, tunnel, one byte each way; median and p90
# of N) and bulk throughput (1 GiB down) direct, through clawbox's proxy
# (client in a box with --net proxy) and through Debian's tinyproxy
# (installed here when missing). Targets: <= 0.3 ms added per connection,
# >= 0.6x direct throughput. Needs root (namespaces, veth).
# BASELINE=BINARY runs the same latency rounds through another clawbox
# (e.g. the build before a change) and prints the ratio of the two.
# usage: [BASELINE=BINARY] bench/net.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-300}
[ "$(id -u)" -eq 0 ] || { echo "bench/net: skipped (needs root for network namespaces)" >&2; exit 0; }
if ! command -v tinyproxy >/dev/null; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tinyproxy >/dev/null
fi
make -s build/clawbox
tmp=$(mktemp -d /tmp/clawbox-bench-net.XXXXXX)
ns=cbbench$$ vh=cbbh$$ vr=cbbr$$ host=10.77.254.1 remote=10.77.254.2 port=9000
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ip link del "$vh" 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
	scripts/unmount-boxes.sh "$tmp"
	chmod -R u+rwx "$tmp" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
# Static, in the project: the client runs inside the box too (whose /tmp is
# its own).
mkdir -p "$tmp/proj"
gcc -O2 -static -o "$tmp/proj/netload" bench/netload.c
. scripts/remote-ns.sh
remote_ns "$ns" "$vh" "$vr" "$host" "$remote"
ip netns exec "$ns" "$tmp/proj/netload" serve "$remote" $port &
pids+=($!)
cat >"$tmp/tinyproxy.conf" <<EOT
Port 8899
Listen 127.0.0.1
Timeout 600
MaxClients 100
Allow 127.0.0.1
ConnectPort $port
LogLevel Critical
PidFile "$tmp/tinyproxy.pid"
EOT
tinyproxy -d -c "$tmp/tinyproxy.conf" >/dev/null 2>&1 &
pids+=($!)
sleep 0.5

export CLAWBOX_STATE_DIR="$tmp/state"
box() { build/clawbox run --box benchnet --project "$tmp/proj" --net proxy --allow-ip "$remote" -- "$@"; }
box true
# The same with a box that knows 1024 secret values (the most it keeps):
# every audit event of the proxy passes the redactor against all of them.
kbox() { build/clawbox run --box benchknown --project "$tmp/proj" --net proxy --allow-ip "$remote" -- "$@"; }
for f in 1 2 3 4; do
	for i in $(seq 256); do echo "K$i=bench-known-$f-$i-$RANDOM$RANDOM"; done >"$tmp/k$f.env"
	chmod 600 "$tmp/k$f.env"
	build/clawbox secrets import --box benchknown --project "$tmp/proj" "$tmp/k$f.env" >/dev/null
done
kbox true
bbox() { "$BASELINE" run --box benchbase --project "$tmp/proj" --net proxy --allow-ip "$remote" -- "$@"; }
[ -z "${BASELINE:-}" ] || bbox true
nev() { grep -c '"event":"net\.' "$tmp/state/boxes/$1/audit.jsonl" || true; }

# Rounds alternate direct, clawbox and tinyproxy, so that a change of load
# on the machine falls on all of them alike; each figure is the median over
# the rounds.
rounds=5
per=$(((n + rounds - 1) / rounds))
for _ in $(seq $rounds); do
	"$tmp/proj/netload" latency "$per" $remote $port >>"$tmp/d.lat"
	box "$tmp/proj/netload" latency "$per" $remote $port 127.0.0.1 3128 >>"$tmp/c.lat"
	kbox "$tmp/proj/netload" latency "$per" $remote $port 127.0.0.1 3128 >>"$tmp/k.lat"
	[ -z "${BASELINE:-}" ] || bbox "$tmp/proj/netload" latency "$per" $remote $port 127.0.0.1 3128 >>"$tmp/b.lat"
	"$tmp/proj/netload" latency "$per" $remote $port 127.0.0.1 8899 >>"$tmp/t.lat"
	"$tmp/proj/netload" bulk $remote $port >>"$tmp/d.bw"
	box "$tmp/proj/netload" bulk $remote $port 127.0.0.1 3128 >>"$tmp/c.bw"
	"$tmp/proj/netload" bulk $remote $port 127.0.0.1 8899 >>"$tmp/t.bw"
done
med() { awk -v c="$2" '{print $c}' "$1" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
d_lat=$(med "$tmp/d.lat" 1) d_p90=$(med "$tmp/d.lat" 2)
c_lat=$(med "$tmp/c.lat" 1) c_p90=$(med "$tmp/c.lat" 2)
t_lat=$(med "$tmp/t.lat" 1) t_p90=$(med "$tmp/t.lat" 2)
k_lat=$(med "$tmp/k.lat" 1) k_p90=$(med "$tmp/k.lat" 2)
d_bw=$(med "$tmp/d.bw" 1) c_bw=$(med "$tmp/c.bw" 1) t_bw=$(med "$tmp/t.bw" 1)
n=$((per * rounds))

awk -v n="$n" -v dl="$d_lat" -v d9="$d_p90" -v cl="$c_lat" -v c9="$c_p90" -v tl="$t_lat" \
	-v t9="$t_p90" -v kl="$k_lat" -v k9="$k_p90" -v db="$d_bw" -v cb="$c_bw" -v tb="$t_bw" 'BEGIN {
	printf "network proxy, %d new connections each (median, p90) and 1 GiB bulk, medians of 5 rounds:\n", n
	printf "  direct            %6d us (%6d)   %6d MB/s\n", dl, d9, db
	printf "  clawbox proxy     %6d us (%6d)   %6d MB/s\n", cl, c9, cb
	printf "  tinyproxy         %6d us (%6d)   %6d MB/s\n", tl, t9, tb
	printf "  clawbox, box knowing 1024 secret values: %6d us (%6d)\n", kl, k9
	printf "  clawbox added     %6.3f ms per connection (target <= 0.3)\n", (cl - dl) / 1000
	printf "  clawbox/direct    %6.2fx throughput (target >= 0.6)\n", cb / db
}'
echo "  net.* audit events written: $(nev benchnet) (plain box), $(nev benchknown) (knowing 1024 values)"
if [ -n "${BASELINE:-}" ]; then
	b_lat=$(med "$tmp/b.lat" 1)
	awk -v c="$c_lat" -v b="$b_lat" -v bin="$BASELINE" 'BEGIN {
	printf "  baseline %s proxy %6d us; clawbox/baseline latency %.3f\n", bin, b, c / b }'
fi
