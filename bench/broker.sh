#!/usr/bin/env bash
# Brokered credentials' cost (issue 14), in one run, against the mock HTTPS
# upstream of the tests (tests/broker/upstream.py, Python) in a "remote"
# network namespace this script creates (veth pair, 10.77.253.0/24; nothing
# else is touched): the same client (bench/brokerload.py, Python, in a box;
# keep-alive and timings its own) to the same upstream
#   brokered  api.broker.test: the proxy ends TLS and puts the value in
#   tunnel    tunnel.broker.test: a plain CONNECT tunnel (not brokered)
#   direct    from the host's namespace, no proxy, no box
# for: a request on a new connection (CONNECT, handshake, GET, answer), a
# request on a kept-alive connection, the delay of each event of a streamed
# response (SSE) and a 64 MiB download. Rounds alternate the three, so a
# change of load falls on all alike; each figure is the median over the
# rounds of each round's median. Targets, brokered over tunnel: <= 1 ms added
# a new connection, <= 0.1 ms kept alive, <= 1 ms to the first byte of an
# event, >= 0.5x throughput. Needs root (namespaces, veth), openssl, python3.
# BASELINE=BINARY: the brokered rounds through another clawbox too.
# usage: [BASELINE=BINARY] bench/broker.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}
bulk=$((64 << 20))
[ "$(id -u)" -eq 0 ] || { echo "bench/broker: skipped (needs root for network namespaces)" >&2; exit 0; }
for c in ip openssl /usr/bin/python3; do
	command -v $c >/dev/null || { echo "bench/broker: skipped (needs $c)" >&2; exit 0; }
done
make -s build/clawbox
tmp=$(mktemp -d /tmp/clawbox-bench-broker.XXXXXX)
ns=cbbb$$ vh=cbbbh$$ vr=cbbbr$$ host=10.77.253.1 remote=10.77.253.2
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
chmod 755 "$tmp"
bash tests/broker/certs.sh "$tmp/certs"
chmod 755 "$tmp/certs"
mkdir -p "$tmp/proj"
cp bench/brokerload.py "$tmp/certs/ca.crt" "$tmp/proj/"
. scripts/remote-ns.sh
remote_ns "$ns" "$vh" "$vr" "$host" "$remote"
ip netns exec "$ns" /usr/bin/python3 tests/broker/upstream.py --log "$tmp/up.log" --addr "$remote" \
	--tls "443:$tmp/certs/api.crt:$tmp/certs/api.key" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	curl -s -m 1 -o /dev/null --cacert "$tmp/certs/ca.crt" --resolve "api.broker.test:443:$remote" \
		https://api.broker.test/small && break
	sleep 0.1
done
printf '127.0.0.1 localhost\n%s api.broker.test tunnel.broker.test\n' "$remote" >"$tmp/hosts"
chmod 644 "$tmp/hosts"

export CLAWBOX_STATE_DIR="$tmp/state"
export CLAWBOX_UPSTREAM_CA_FILE="$tmp/certs/ca.crt"
value=sk-bench-$(head -c 32 /dev/urandom | base64 -w0 | tr -dc A-Za-z0-9 | head -c 40)
# bx BINARY BOX ARGS...: the client in a box of BINARY with the test hosts.
bx() {
	local bin=$1 name=$2
	shift 2
	unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$tmp/hosts" \
		"$bin" run --box "$name" --project "$tmp/proj" --net proxy --allow-domain api.broker.test \
		--allow-domain tunnel.broker.test --allow-ip "$remote" -- "$@"
}
printf %s "$value" | build/clawbox secrets set --box benchbroker --project "$tmp/proj" BENCH_KEY \
	--broker api.broker.test=header:x-api-key >/dev/null
bx build/clawbox benchbroker true
if [ -n "${BASELINE:-}" ]; then
	printf %s "$value" | "$BASELINE" secrets set --box benchbase --project "$tmp/proj" BENCH_KEY \
		--broker api.broker.test=header:x-api-key >/dev/null
	bx "$BASELINE" benchbase true
fi
load() { # WHERE MODE N: one measurement
	case $1 in
	brokered) bx build/clawbox benchbroker python3 brokerload.py "$2" "$3" api.broker.test ca.crt ;;
	baseline) bx "$BASELINE" benchbase python3 brokerload.py "$2" "$3" api.broker.test ca.crt ;;
	tunnel) bx build/clawbox benchbroker python3 brokerload.py "$2" "$3" tunnel.broker.test ca.crt ;;
	direct) (cd "$tmp/proj" && BENCH_KEY=$value /usr/bin/python3 brokerload.py "$2" "$3" api.broker.test ca.crt "$remote") ;;
	esac
}
rounds=5
per=$(((n + rounds - 1) / rounds))
wheres="direct tunnel brokered"
[ -z "${BASELINE:-}" ] || wheres="$wheres baseline"
for _ in $(seq $rounds); do
	for w in $wheres; do
		load $w new "$per" >>"$tmp/$w.new"
		load $w keep "$per" >>"$tmp/$w.keep"
		load $w firstbyte "$per" >>"$tmp/$w.fb"
		load $w bulk "$bulk" >>"$tmp/$w.bw"
	done
done
med() { awk -v c="${2:-1}" '{print $c}' "$1" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# A control: the brokered requests did go through the broker and reached
# the upstream with the value; the tunnel's with the placeholder.
nb=$(grep -c '"event":"net.broker"' "$tmp/state/boxes/benchbroker/audit.jsonl" || true)
nv=$(grep '"sni": "api.broker.test"' "$tmp/up.log" | grep -cF "\"x-api-key\", \"$value\"" || true)
na=$(grep -c '"sni": "api.broker.test"' "$tmp/up.log" || true)
nt=$(grep '"sni": "tunnel.broker.test"' "$tmp/up.log" | grep -cF "$value" || true)
printf 'brokered credentials: %d requests a kind (new connection, kept alive, SSE events x3), 64 MiB down; medians of %d rounds (p90 in brackets):\n' \
	$((per * rounds)) $rounds
printf '  %-10s %16s %16s %16s %10s\n' "" "new connection" "kept alive" "first byte" "64 MiB"
for w in $wheres; do
	printf '  %-10s %7d us (%5d) %7d us (%5d) %7d us (%5d) %5d MB/s\n' "$w" \
		"$(med "$tmp/$w.new")" "$(med "$tmp/$w.new" 2)" "$(med "$tmp/$w.keep")" "$(med "$tmp/$w.keep" 2)" \
		"$(med "$tmp/$w.fb")" "$(med "$tmp/$w.fb" 2)" "$(med "$tmp/$w.bw")"
done
awk -v bn="$(med "$tmp/brokered.new")" -v tn="$(med "$tmp/tunnel.new")" \
	-v bk="$(med "$tmp/brokered.keep")" -v tk="$(med "$tmp/tunnel.keep")" \
	-v bf="$(med "$tmp/brokered.fb")" -v tf="$(med "$tmp/tunnel.fb")" \
	-v bb="$(med "$tmp/brokered.bw")" -v tb="$(med "$tmp/tunnel.bw")" 'BEGIN {
	printf "  brokered over tunnel: new connection %+.3f ms (target <= 1), kept alive %+.3f ms (target <= 0.1),\n", (bn - tn) / 1000, (bk - tk) / 1000
	printf "                        first byte %+.3f ms (target <= 1), throughput %.2fx (target >= 0.5)\n", (bf - tf) / 1000, bb / tb
}'
printf '  a new connection, its parts (medians): TCP and CONNECT / TLS handshake / request and answer\n'
for w in $wheres; do
	printf '  %-10s %7d us / %7d us / %7d us\n' "$w" "$(med "$tmp/$w.new" 3)" "$(med "$tmp/$w.new" 5)" "$(med "$tmp/$w.new" 7)"
done
if [ -n "${BASELINE:-}" ]; then
	awk -v bn="$(med "$tmp/brokered.new")" -v an="$(med "$tmp/baseline.new")" \
		-v bk="$(med "$tmp/brokered.keep")" -v ak="$(med "$tmp/baseline.keep")" 'BEGIN {
	printf "  clawbox/baseline: new connection %.3f, kept alive %.3f\n", bn / an, bk / ak }'
fi
echo "  control: net.broker events of the brokered box $nb; requests to api.broker.test with the value $nv of $na (direct and brokered); tunnel requests with the value $nt (must be 0)"
