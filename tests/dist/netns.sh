#!/usr/bin/env bash
# Two simulated hosts: two network namespaces joined by a veth pair, with
# 1 ms of latency and a 1 Gbit/s limit each way (tc netem) when the kernel
# has netem, and one MPI rank in each, over Open MPI's TCP transport.
# mpirun reaches the hosts through a launcher agent (plm_rsh_agent) that
# enters the namespace instead of ssh. The namespaces go away on any exit.
#
#   bash tests/dist/netns.sh BUILD_DIR                 the equivalence check
#   bash tests/dist/netns.sh BUILD_DIR PROGRAM ARGS... PROGRAM on the two hosts
#
# The check runs tests/dist/ddp_worker on 2 ranks, one per host, and
# compares its parameters with one process on the whole batch (within
# 1e-6). Needs root (it says so and succeeds without doing anything
# otherwise) and iproute2.
set -euo pipefail
build=$(cd "$1" && pwd)
shift
if [ "$(id -u)" -ne 0 ]; then
    echo "netns.sh: not root: the two-host check needs network namespaces; skipped"
    exit 0
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1

tag=tg$$
ns_a=${tag}a ns_b=${tag}b
work=$(mktemp -d)
cleanup() {
    ip netns del "$ns_a" 2>/dev/null || true
    ip netns del "$ns_b" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$ns_a"
ip netns add "$ns_b"
ip link add "${tag}va" type veth peer name "${tag}vb"
ip link set "${tag}va" netns "$ns_a"
ip link set "${tag}vb" netns "$ns_b"
ip -n "$ns_a" addr add 10.231.0.1/24 dev "${tag}va"
ip -n "$ns_b" addr add 10.231.0.2/24 dev "${tag}vb"
for ns in "$ns_a" "$ns_b"; do
    ip -n "$ns" link set lo up
done
ip -n "$ns_a" link set "${tag}va" up
ip -n "$ns_b" link set "${tag}vb" up

if ip netns exec "$ns_a" tc qdisc add dev "${tag}va" root netem delay 1ms rate 1gbit 2>"$work/tc.log" &&
    ip netns exec "$ns_b" tc qdisc add dev "${tag}vb" root netem delay 1ms rate 1gbit 2>>"$work/tc.log"; then
    echo "netns.sh: two hosts joined by a veth pair, 1 ms and 1 Gbit/s each way (tc netem)"
else
    echo "netns.sh: tc netem is not available here ($(head -1 "$work/tc.log")):" \
         "two hosts joined by a veth pair WITHOUT added latency or bandwidth limit"
fi

# The agent is called as ssh would be: agent HOST COMMAND...; the command
# (mpirun's daemon) runs in the host's namespace. Each host, and mpirun,
# gets a temporary directory of its own, as separate machines would: the
# three share one hostname, and Open MPI names its session directories
# after it, so in a shared /tmp two daemons raced to create the same one
# and the loser never reported back (mpirun waited until the timeout).
mkdir "$work/hosta" "$work/hostb" "$work/launcher"
cat >"$work/agent" <<EOF
#!/bin/sh
host=\$1
shift
case "\$host" in
    hosta) ns=$ns_a ;;
    hostb) ns=$ns_b ;;
    *) echo "netns agent: unknown host \$host" >&2; exit 1 ;;
esac
export TMPDIR="$work/\$host"
exec ip netns exec "\$ns" /bin/sh -c "\$*"
EOF
chmod +x "$work/agent"
printf 'hosta slots=1\nhostb slots=1\n' >"$work/hosts"

# mpirun itself runs in the first namespace; both ranks are "remote", one
# per host, and talk over TCP on the veth pair only.
two_hosts() {
    TMPDIR="$work/launcher" ip netns exec "$ns_a" timeout -k 5 "${NETNS_TIMEOUT:-60}" mpirun --hostfile "$work/hosts" -np 2 --map-by node \
        --mca plm_rsh_agent "$work/agent" --mca plm_rsh_no_tree_spawn 1 \
        --mca btl tcp,self --mca btl_tcp_if_include 10.231.0.0/24 \
        --mca oob_tcp_if_include 10.231.0.0/24 "$@"
}

if [ $# -gt 0 ]; then
    two_hosts "$@"
    exit
fi

worker=$build/tests/ddp_worker
"$worker" --out "$work/single_"
two_hosts "$worker" --dist --out "$work/hosts_"
"$worker" --compare "$work/hosts_" "$work/single_"
echo "netns.sh: two ranks on two hosts take the step of one process on the whole batch"
