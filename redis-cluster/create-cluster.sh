#!/bin/sh
# Forms a Redis Cluster of the nodes in REDIS_NODES ("host:port host:port …"): three primaries
# sharing the 16384 slots and one replica each, made by
#   redis-cli --cluster create <six ip:port> --cluster-replicas 1 --cluster-yes
# then waits until the cluster serves. docker-compose.cluster.yml runs it at every
# `docker compose up` (the one-shot service redis-cluster-create); the services start once it
# has exited 0.
#
# Safe to run again: a first node that already knows other nodes means the cluster exists
# (formed before: each node keeps it in nodes.conf on its volume, and finds the others again
# at the addresses written there), and it is left alone; only the wait until it serves is
# done again.
#
# Needs redis-cli and getent (both in the redis image) and the admin password, in REDISCLI_AUTH
# or in the file ADMIN_PASSWORD_FILE names (compose's credentials volume): CLUSTER MEET and
# ADDSLOTS are admin commands, and the variable keeps the password off the command line.
# POSIX sh (the image's /bin/sh is dash).
set -eu

: "${REDIS_NODES:?host:port of every node, separated by spaces}"
if [ -z "${REDISCLI_AUTH:-}" ] && [ -n "${ADMIN_PASSWORD_FILE:-}" ]; then
    REDISCLI_AUTH=$(cat "$ADMIN_PASSWORD_FILE")
    export REDISCLI_AUTH
fi
# Give up after this long (120 s unless CREATE_CLUSTER_TIMEOUT_S says otherwise), so that `up`
# stops saying why instead of waiting for ever.
deadline=$(($(date +%s) + ${CREATE_CLUSTER_TIMEOUT_S:-120}))

cli() { redis-cli --user admin --no-auth-warning "$@"; }
# at <ip:port> <command…>: a command to one node.
at() {
    target=$1
    shift
    cli -h "${target%:*}" -p "${target##*:}" "$@"
}
# until_ok <what> <command…>: runs the command every second until it succeeds.
until_ok() {
    what=$1
    shift
    until "$@"; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "create-cluster: gave up waiting for $what" >&2
            exit 1
        fi
        echo "waiting for $what"
        sleep 1
    done
}
# CLUSTER MEET takes an IP address, not a name: the first one the name resolves to.
ip_of() { getent hosts "$1" | awk '{ print $1; exit }'; }
resolves() { [ -n "$(ip_of "$1")" ]; }
answers() { [ "$(at "$1" ping 2>/dev/null)" = PONG ]; }
field() { tr -d '\r' | sed -n "s/^$1://p"; }
# Serving: every node sees every slot served (cluster_state:ok), every replica's link to its
# primary is up (it logged in as admin and has synced), and the first node names every node
# it lists to clients (`?` until gossip has brought a node's announced hostname).
serving() {
    for node in "$@"; do
        [ "$(at "$node" cluster info | field cluster_state)" = ok ] || return 1
        [ "$(at "$node" info replication | field master_link_status)" != down ] || return 1
    done
    ! at "$1" cluster slots | grep -qx '?'
}

addresses=""
for node in $REDIS_NODES; do
    host=${node%:*} port=${node##*:}
    until_ok "$host to resolve" resolves "$host"
    address="$(ip_of "$host"):$port"
    until_ok "$node ($address) to answer" answers "$address"
    addresses="$addresses $address"
done
# $addresses unquoted on purpose: one argument per node, "$@" from here on.
# shellcheck disable=SC2086
set -- $addresses

known=$(at "$1" cluster info | field cluster_known_nodes)
if [ "$known" -le 1 ]; then
    cli --cluster create "$@" --cluster-replicas 1 --cluster-yes
else
    echo "$1 already knows $known nodes: the cluster exists, nothing to do"
    # Nodes find one another by the IP addresses kept in their nodes.conf: a node given
    # another address is found again only if it still reaches the others where they were;
    # nodes that all moved never are. Say so, to explain a wait that may not end.
    view=$(at "$1" cluster nodes)
    for node in "$@"; do
        case "$view" in
        *" $node@"*) ;;
        *) echo "create-cluster: $node is not where $1 knows it (CLUSTER NODES); see docs/containers.md" >&2 ;;
        esac
    done
fi
until_ok "the cluster to serve every slot" serving "$@"
echo "cluster ready:" "$@"
