# Sourced by the network tests (tests/integration/lib.sh) and bench/net.sh.
# remote_ns NS VH VR HOST_IP REMOTE_IP: a "remote" network namespace NS
# joined to the host by the veth pair VH (host side, HOST_IP/24) and VR (in
# NS, REMOTE_IP/24). Root only; the caller removes VH and NS.
remote_ns() {
	ip netns add "$1" || return 1
	ip link add "$2" type veth peer name "$3" || return 1
	ip link set "$3" netns "$1"
	ip addr add "$4/24" dev "$2"
	ip link set "$2" up
	ip -n "$1" addr add "$5/24" dev "$3"
	ip -n "$1" link set "$3" up
	ip -n "$1" link set lo up
}
