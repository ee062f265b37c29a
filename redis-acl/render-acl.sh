#!/bin/sh
# Render redis-acl/users.acl with the passwords from the environment: render-acl.sh <template> <out>
# POSIX sh and sed only, so it runs in the redis image, under `make run` and in the tests.
# Redis 7.0 reads no comments in an ACL file, so comment and blank lines are dropped here.
# Passwords are letters and digits, 16 to 128 of them: nothing sed or the ACL syntax could
# misread, and long enough.
# Secrets stay off command lines (anyone on the host sees those in `ps`): the sed script that
# holds them is read from a pipe fed by printf, a shell builtin. The rendered file holds them
# too: it is written to a new file of mode 600 and moved over <out>, so an <out> that existed
# with a looser mode is replaced, not reused.
set -eu
template=$1
out=$2
script=""
for name in ADMIN PAYMENTS ORDERS NOTIFICATIONS CONSOLE; do
    var="${name}_REDIS_PASSWORD"
    eval "value=\${$var:-}"
    if [ -z "$value" ]; then
        echo "render-acl: $var is not set (see .env.example)" >&2
        exit 1
    fi
    if ! printf '%s' "$value" | grep -Eq '^[A-Za-z0-9]{16,128}$'; then
        echo "render-acl: $var must be 16 to 128 letters and digits" >&2
        exit 1
    fi
    script="$script s/\${$var}/$value/g;"
done
# The default user's password: the SHA-256 of random bytes, so that no password matches it.
hash=$(head -c 32 /dev/urandom | sha256sum | cut -c1-64)
script="$script s/\${DEFAULT_PASSWORD_HASH}/#$hash/g;"
umask 077
tmp=$(mktemp "$out.XXXXXX")
trap 'rm -f "$tmp"' EXIT
printf '%s\n' "$script" | sed -e '/^#/d' -e '/^[[:space:]]*$/d' -f /dev/stdin "$template" > "$tmp"
if grep -q '\${' "$tmp"; then
    echo "render-acl: unknown placeholder left in $out" >&2
    exit 1
fi
chmod 600 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
