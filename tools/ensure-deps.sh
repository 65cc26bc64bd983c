#!/bin/sh
# Install the Debian packages Coffer needs, if any is missing (as root, or
# through sudo).  Used by `make demo` and `make check` so that a newcomer's
# first command works on a fresh Debian 12 machine.
pkgs="build-essential pkg-config libfuse3-dev fuse3 libsodium-dev liblmdb-dev lmdb-utils libjansson-dev libzip-dev zip unzip rsync restic borgbackup valgrind procps python3-jsonschema"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "ensure-deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
	sudo=""
elif command -v sudo >/dev/null 2>&1; then
	sudo="sudo"
else
	echo "ensure-deps: missing packages:$missing; install them as root" >&2
	exit 1
fi
$sudo apt-get update -q >/dev/null || exit 1
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q $missing >/dev/null || exit 1
