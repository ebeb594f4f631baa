#!/usr/bin/env bash
# make run: the main job on the built-in demo. A copy of demo/project is the
# project; demo/agent.sh is the agent. Shows what the box contained and what
# is pending in its overlay, then lets the sync gate bring home what passes
# its checks. Uses its own state dir; leaves nothing behind.
set -euo pipefail
cd "$(dirname "$0")/.."
clawbox=$(realpath "${1:-build/clawbox}")
tmp=$(mktemp -d /tmp/clawbox-demo.XXXXXX)
trap 'scripts/unmount-boxes.sh "$tmp"; chmod -R u+rwx "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
export CLAWBOX_STATE_DIR="$tmp/state"
proj="$tmp/greeter"
cp -a demo/project "$proj"
before=$(cd "$proj" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum)

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
bold "the project on the host: $proj"
(cd "$proj" && find . -type f | sort)
bold "the agent runs in a box: clawbox run --project $proj -- bash -s < demo/agent.sh"
set +e
(cd "$proj" && "$clawbox" run --box demo -- bash -s -- "$HOME") <demo/agent.sh
rc=$?
set -e
echo "(agent exit status $rc)"

bold "contained: the host project is unchanged"
after=$(cd "$proj" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum)
if [ "$before" = "$after" ] && [ ! -e "$proj/PWNED" ] && [ ! -e /etc/clawbox-was-here ]; then
	echo "yes: every file of $proj is as it was; /etc/clawbox-was-here does not exist"
else
	echo "NO: the host changed" >&2
	exit 1
fi
bold "pending in the box's overlay (clawbox status)"
"$clawbox" status --box demo
upper="$CLAWBOX_STATE_DIR/boxes/demo/upper"
(cd "$upper" && find . -mindepth 1 \( -type c -printf 'deleted   %P\n' \) -o \( -type f -printf 'written   %P (%s bytes)\n' \) | sort -k2)
bold "the gate: what would come home (clawbox sync --dry-run)"
"$clawbox" sync --box demo --dry-run || true
bold "the gate applies what passes every check (clawbox sync --auto)"
set +e
"$clawbox" sync --box demo --auto
rc=$?
set -e
echo "(sync exit status $rc: 1 means something stays pending)"
bold "the project on the host now"
(cd "$proj" && find . -type f | sort)
echo "--- src/app.py:"
cat "$proj/src/app.py"
if [ -e "$proj/config.py" ]; then
	echo "NO: config.py (an API key) reached the host" >&2
	exit 1
fi
echo "config.py (an API key) stayed in the box: $("$clawbox" status --box demo | grep pending)"
bold "the audit log (clawbox audit)"
"$clawbox" audit --box demo
"$clawbox" audit verify --box demo
