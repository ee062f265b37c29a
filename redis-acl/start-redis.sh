#!/bin/sh
# Start Redis in the compose stack: the ACL file rendered with the passwords that
# credentials.sh wrote, then redis-server with the given arguments.
#
#   start-redis.sh <secrets dir> [redis-server arguments…]
#
# <secrets dir>/<user>/redis_password holds each Redis user's password (one volume each).
# The passwords reach render-acl.sh through its environment only, and leave it before Redis
# starts: they are on no command line and not in redis-server's environment. The rendered
# ACL file (mode 600) is in the container's /tmp only, never on the host's disk.
# A replica logs in to its primary as admin (the default user's password is unknown by
# design): `masteruser`/`masterauth` in a configuration file of mode 600, which redis-server
# takes only as its first argument; unused on a primary.
set -eu
secrets=$1
shift
for user in admin payments orders notifications console; do
    var=$(printf '%s' "$user" | tr 'a-z' 'A-Z')_REDIS_PASSWORD
    file="$secrets/$user/redis_password"
    if [ ! -s "$file" ]; then
        echo "start-redis: $file is missing (the credentials service makes it)" >&2
        exit 1
    fi
    export "$var=$(cat "$file")"
done
sh "$(dirname "$0")/render-acl.sh" "$(dirname "$0")/users.acl" /tmp/users.acl
(umask 077 && printf 'masteruser admin\nmasterauth %s\n' "$ADMIN_REDIS_PASSWORD" >/tmp/redis.conf)
unset ADMIN_REDIS_PASSWORD PAYMENTS_REDIS_PASSWORD ORDERS_REDIS_PASSWORD \
    NOTIFICATIONS_REDIS_PASSWORD CONSOLE_REDIS_PASSWORD
exec redis-server /tmp/redis.conf --aclfile /tmp/users.acl "$@"
