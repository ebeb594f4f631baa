#!/usr/bin/env bash
# Install the Debian packages clawbox needs (scripts/packages.txt) that are missing.
# Runs apt-get only when something is missing; as non-root, prints what to install.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t want < <(grep -v '^[[:space:]]*\(#\|$\)' scripts/packages.txt)
missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "clawbox: missing packages: ${missing[*]}" >&2
	echo "clawbox: run as root: apt-get install ${missing[*]}" >&2
	exit 1
fi
echo "clawbox: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
