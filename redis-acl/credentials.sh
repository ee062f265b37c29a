#!/bin/sh
# The compose stack's credentials, made at its first start: docker-compose.yml's one-shot
# `credentials` service runs this (as root) before Redis starts. Each credential is one file in
# a volume of its own, and each container mounts only the volumes it may read: a service its
# own Redis password, Redis all of them (to load its ACL), Grafana its admin password. So no
# password is in the compose file, in `docker inspect`, or on a command line.
#
# For each credential: a value in the environment (from .env) wins and is written; else the
# file already in the volume is kept (restarts and `down` keep the volumes); else a new random
# one is made. `docker compose down -v` removes the volumes, and with them every credential.
#
#   credentials.sh <dir>   where <dir>/<name>/ is each credential's volume
set -eu
root=$1

# new_secret: 32 random letters and digits (190 bits), what render-acl.sh accepts.
new_secret() {
    LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32
}

# credential <volume> <file> <value from the environment> <owner uid> <group gid>
credential() {
    dir="$root/$1"
    file="$dir/$2"
    if [ -n "$3" ]; then
        if ! printf '%s' "$3" | grep -Eq '^[A-Za-z0-9]{16,128}$'; then
            echo "credentials: the value given for $1/$2 must be 16 to 128 letters and digits" >&2
            exit 1
        fi
        value=$3
        said="from the environment"
    elif [ -s "$file" ]; then
        value=""
        said="kept"
    else
        value=$(new_secret)
        said="generated"
    fi
    if [ -n "$value" ]; then
        # Written beside and moved over: a reader never sees half a file.
        (umask 077 && printf '%s' "$value" >"$file.new")
        mv -f "$file.new" "$file"
    fi
    # Readable by its owner (the service's user) and by the group (Redis's, which loads them
    # all); nobody else. The directory likewise.
    chown "$4:$5" "$dir" "$file"
    chmod 750 "$dir"
    chmod 440 "$file"
    echo "credentials: $1/$2 $said"
}

# The services' images run as uid 10001; the redis image's user is 999:999; Grafana's 472.
credential admin redis_password "${ADMIN_REDIS_PASSWORD:-}" 999 999
credential payments redis_password "${PAYMENTS_REDIS_PASSWORD:-}" 10001 999
credential orders redis_password "${ORDERS_REDIS_PASSWORD:-}" 10001 999
credential notifications redis_password "${NOTIFICATIONS_REDIS_PASSWORD:-}" 10001 999
credential console redis_password "${CONSOLE_REDIS_PASSWORD:-}" 10001 999
credential grafana admin_password "${GRAFANA_ADMIN_PASSWORD:-}" 472 472
