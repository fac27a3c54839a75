#!/usr/bin/env bash
# make demo: two xalived nodes and a client on one L2 segment, each in its own network namespace.
# Shows the election, kills the master (SIGKILL plus link down: a crashed host), shows the VIP
# moving and the outage the client measured, then removes everything it made.
# Needs root, iproute2 and ping (make deps installs them). Touches nothing outside its namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: needs root (network namespaces)" >&2
	exit 1
fi
for c in ip ping awk; do
	command -v "$c" >/dev/null || { echo "demo: needs $c; run 'make deps'" >&2; exit 1; }
done
[ -x bin/xalived ] && [ -x bin/xalivectl ] || { echo "demo: bin/xalived missing; run 'make build'" >&2; exit 1; }

ADVERT=${ADVERT:-0.1}
DATAPLANE=${DATAPLANE:-auto} # auto (XDP where it attaches, else raw sockets), xdp or socket
VIP=198.51.100.100
tag=$$
BR=xa-demo-br-$tag N1=xa-demo-n1-$tag N2=xa-demo-n2-$tag CL=xa-demo-cl-$tag
work=$(mktemp -d /tmp/xalived-demo.XXXXXX)
pids=()

cleanup() {
	set +e
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.3
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	for ns in "$N1" "$N2" "$CL" "$BR"; do ip netns del "$ns" 2>/dev/null; done
	for i in 1 2 3; do ip link del "xd${i}a$tag" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
now_ms() { date +%s%3N; }

say "topology: bridge namespace, nodes n1 (198.51.100.11) and n2 (198.51.100.12), client (198.51.100.200)"
ip netns add "$BR"
ip -n "$BR" link set lo up
ip -n "$BR" link add br0 type bridge
ip -n "$BR" link set br0 type bridge mcast_snooping 0
ip -n "$BR" link set br0 up
i=0
for ns in "$N1" "$N2" "$CL"; do
	i=$((i + 1))
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	a=xd${i}a$tag b=xd${i}b$tag
	ip link add "$a" type veth peer name "$b"
	ip link set "$a" netns "$ns"
	ip -n "$ns" link set "$a" name eth0
	ip link set "$b" netns "$BR"
	ip -n "$BR" link set "$b" master br0 up
	ip -n "$ns" link set eth0 up
done
ip -n "$N1" addr add 198.51.100.11/24 dev eth0
ip -n "$N2" addr add 198.51.100.12/24 dev eth0
ip -n "$CL" addr add 198.51.100.200/24 dev eth0

conf() { # name priority
	cat <<EOC
global_defs {
  router_id $1
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority $2
  version 3
  advert_int $ADVERT
  virtual_ipaddress {
    $VIP/24
  }
}
EOC
}
conf n1 150 >"$work/n1.conf"
conf n2 100 >"$work/n2.conf"

start() { # node ns
	rm -f "$work/$1.ready"
	XALIVED_READY_FILE="$work/$1.ready" ip netns exec "$2" bin/xalived -n -l -f "$work/$1.conf" -p "$work/$1.pid" --name "demo-$1-$tag" --dataplane "$DATAPLANE" \
		--control "$work/$1.sock" >"$work/$1.log" 2>&1 &
	pids+=($!)
	eval "pid_$1=$!"
	for _ in $(seq 100); do [ -e "$work/$1.ready" ] && return 0; sleep 0.05; done
	echo "demo: xalived on $1 did not get ready:" >&2
	cat "$work/$1.log" >&2
	exit 1
}
state() { bin/xalivectl --control "$work/$1.sock" status --json 2>/dev/null | awk -F'"' '/"state"/ {print $4; exit}'; }
wait_state() { # node state
	for _ in $(seq 200); do [ "$(state "$1")" = "$2" ] && return 0; sleep 0.02; done
	echo "demo: $1 never reached $2" >&2
	exit 1
}

say "starting xalived on n1 (priority 150) and n2 (priority 100), VRRPv3, advert_int ${ADVERT}s, dataplane $DATAPLANE"
start n1 "$N1"
start n2 "$N2"
wait_state n1 MASTER
wait_state n2 BACKUP
say "election done"
echo "-- n1:"; bin/xalivectl --control "$work/n1.sock" status
echo "-- n2:"; bin/xalivectl --control "$work/n2.sock" status
echo "-- VIP on n1: $(ip -n "$N1" -o -4 addr show dev eth0 | awk '{print $4}' | tr '\n' ' ')"

say "client pings $VIP every 5 ms"
ip netns exec "$CL" ping -D -n -i 0.005 -W 1 "$VIP" >"$work/ping.log" 2>&1 &
ping_pid=$!
pids+=("$ping_pid")
sleep 1

say "killing the master (n1's link down and xalived SIGKILLed: a crashed host)"
t0=$(now_ms)
ip -n "$N1" link set eth0 down
kill -KILL "$pid_n1"
wait "$pid_n1" 2>/dev/null || true
wait_state n2 MASTER
t1=$(now_ms)
echo "n2 became MASTER $((t1 - t0)) ms after the kill"
sleep 1
kill "$ping_pid" 2>/dev/null || true
wait "$ping_pid" 2>/dev/null || true

echo "-- n2:"; bin/xalivectl --control "$work/n2.sock" status
echo "-- VIP on n2: $(ip -n "$N2" -o -4 addr show dev eth0 | awk '{print $4}' | tr '\n' ' ')"

say "client-side outage"
awk -v t0="$t0" '
	/bytes from/ { gsub(/[\[\]]/, "", $1); t = $1 * 1000; n++
		if (prev && t - prev > gap) { gap = t - prev }
		prev = t }
	END {
		if (n == 0) { print "no replies at all"; exit 1 }
		printf "replies: %d, longest gap between replies: %.1f ms\n", n, gap
		printf "(master-down interval: 3 x advert_int + skew = %.0f ms)\n", 3 * '"$ADVERT"' * 1000 + 156 / 256 * '"$ADVERT"' * 1000
	}' "$work/ping.log"
say "done; cleaning up"
