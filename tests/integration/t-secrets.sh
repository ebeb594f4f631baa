#!/usr/bin/env bash
# Secrets: sources and their precedence, the store, injection by environment
# only, redaction everywhere clawbox writes, argv scrubbing, and the bad
# inputs of issue 6.
. "$(dirname "$0")/lib.sh"

V_CLI=cli-Value-7f3a9c21e0
V_FILE=file-Value-5b1d88aa42
V_CONF=conf-Value-c0ffee9911
V_STORE=store-Value-9e8d7c6b5a
V_AZURE=azure-Value-0a0b0c0d0e

# secfile PATH TEXT: a dotenv file of the caller's, mode 0600.
secfile() { printf '%b' "$2" >"$1"; chmod 600 "$1"; }

# no_value_in WHAT TEXT VALUE...: fail when TEXT holds any of the values.
no_value_in() {
	local what=$1 text=$2 v
	shift 2
	for v in "$@"; do
		case "$text" in *"$v"*) fail "$what holds '$v'" ;; esac
	done
}

precedence_and_parsing() {
	mkproj "$P"
	echo "$V_STORE" | "$CLAWBOX" secrets set --project "$P" ONLY_STORED >/dev/null
	echo "stored-loses-aaaa" | "$CLAWBOX" secrets set --project "$P" OPENAI_API_KEY >/dev/null
	mkdir "$C/conf"
	secfile "$C/conf/.env" "ONLY_CONFIG=$V_CONF\nOPENAI_API_KEY=config-loses-bbbb\nTELEGRAM_BOT_TOKEN=config-wins-cccc\n"
	secfile "$C/s.env" "# comment\r\nexport AZURE_OPENAI_API_KEY=$V_AZURE\r\n#OPENAI_API_KEY=commented-dddd\r\nOPENAI_API_KEY=file-loses-eeee\r\nONLY_FILE='$V_FILE'\r\nHASH=a#b=c # gone\r\nDQ=\"x\\\\ty\"\r\nDUP=first\r\nDUP=second\r\n"
	out=$("$CLAWBOX" run --project "$P" --secrets "$C/s.env" --config "$C/conf" \
		-e OPENAI_API_KEY="$V_CLI" -- sh -c 'env' 2>"$C/err")
	for kv in "OPENAI_API_KEY=$V_CLI" "AZURE_OPENAI_API_KEY=$V_AZURE" "ONLY_FILE=$V_FILE" \
		"ONLY_CONFIG=$V_CONF" "ONLY_STORED=$V_STORE" "TELEGRAM_BOT_TOKEN=config-wins-cccc" \
		"HASH=a#b=c" "DQ=x	y" "DUP=second"; do
		echo "$out" | grep -qxF "$kv" || fail "missing '$kv' in: $out"
	done
	grep -q "line 9: 'DUP' is set again (first on line 8); the last one wins" "$C/err" ||
		fail "no duplicate warning: $(cat "$C/err")"
}

# One run with every source; then look everywhere clawbox writes.
nothing_leaks() {
	mkproj "$P"
	echo "$V_STORE" | "$CLAWBOX" secrets set --project "$P" STORED_KEY >/dev/null
	mkdir "$C/conf"
	secfile "$C/conf/.env" "CONF_KEY=$V_CONF\n"
	secfile "$C/s.env" "FILE_KEY=$V_FILE\n"
	b64=$(printf '%s' "$V_FILE" | base64 -w0)
	# The values reach the command (stdout), while its argv names one raw
	# and one in base64, so the audit's run.start would hold them.
	"$CLAWBOX" run --project "$P" --secrets "$C/s.env" --config "$C/conf" -e CLI_KEY="$V_CLI" \
		-- sh -c 'echo "$CLI_KEY $FILE_KEY $CONF_KEY $STORED_KEY"; : '"$V_STORE $b64" \
		>"$C/out" 2>"$C/err"
	grep -qx "$V_CLI $V_FILE $V_CONF $V_STORE" "$C/out" || fail "values not given: $(cat "$C/out")"
	# clawbox's own messages: a command named like a secret is reported.
	set +e
	"$CLAWBOX" run --project "$P" -e CLI_KEY="$V_CLI" -- "$V_CLI" 2>>"$C/err"
	rc=$?
	set -e
	[ $rc -eq 127 ] || fail "expected 127, got $rc"
	grep -q "command not found in the box: '\[REDACTED:CLI_KEY\]'" "$C/err" ||
		fail "message not redacted: $(cat "$C/err")"
	all=("$V_CLI" "$V_FILE" "$V_CONF" "$V_STORE" "$b64")
	no_value_in "clawbox's stderr" "$(cat "$C/err")" "${all[@]}"
	box=$(echo "$CLAWBOX_STATE_DIR"/boxes/*)
	grep -q '"argv":\["sh","-c","echo .*; : \[REDACTED:STORED_KEY\] \[REDACTED:FILE_KEY\]"\]' "$box/audit.jsonl" ||
		fail "run.start argv not redacted: $(grep run.start "$box/audit.jsonl")"
	"$CLAWBOX" audit verify --project "$P" >/dev/null || fail "audit chain broken"
	while IFS= read -r -d '' f; do
		[ "$f" = "$box/secrets.env" ] || [ "$f" = "$box/secrets.known" ] && continue
		for v in "${all[@]}"; do
			! grep -qF "$v" "$f" || fail "'$f' holds '$v'"
		done
	done < <(find "$CLAWBOX_STATE_DIR" -type f -print0)
	grep -qF "$V_STORE" "$box/secrets.env" || fail "the store lost its value"
	# Every value the box was given is remembered, with the store's protections.
	for v in "$V_CLI" "$V_FILE" "$V_CONF" "$V_STORE"; do
		grep -qF "\"$v\"" "$box/secrets.known" || fail "secrets.known lacks '$v'"
	done
	[ "$(stat -c %a.%u "$box/secrets.known")" = "600.$(id -u)" ] ||
		fail "secrets.known: $(stat -c %a.%u "$box/secrets.known")"
	[ "$(stat -c %a "$box/secrets.env")" = 600 ] || fail "store mode $(stat -c %a "$box/secrets.env")"
	[ "$(stat -c %a "$box")" = 700 ] || fail "box dir mode $(stat -c %a "$box")"
	[ "$(stat -c %u "$box/secrets.env")" = "$(id -u)" ] || fail "store not owned by the caller"
	out=$("$CLAWBOX" secrets list --project "$P")
	echo "$out" | grep -q "^STORED_KEY  *stored  *\*\*\*\*\*\*\*\* (22 bytes)" || fail "list: $out"
	no_value_in "secrets list" "$out" "${all[@]}"
}

# descendants PID: PID's descendants, one per line.
descendants() {
	local c
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		echo "$c"
		descendants "$c"
	done
}

# While a box runs: clawbox's own cmdline no longer shows the -e value, no
# process of the box has it on its cmdline, and the agent's environment is
# readable by its own uid only.
argv_scrubbed_and_environ_private() {
	need_root
	id nobody >/dev/null 2>&1 || skip "no user 'nobody'"
	mkproj "$P"
	"$CLAWBOX_RELEASE" run --project "$P" -e CLI_KEY="$V_CLI" -- sh -c \
		'cat /proc/1/environ >/dev/null 2>&1 && echo INIT_ENVIRON_READABLE; head -c1 /proc/1/mem >/dev/null 2>&1 && echo INIT_MEM_READABLE; exec sleep 30' \
		>"$C/out" 2>&1 &
	cb=$!
	agent=
	for _ in $(seq 100); do
		for p in $(descendants $cb); do
			[ "$(cat /proc/"$p"/comm 2>/dev/null)" = sleep ] && agent=$p
		done
		[ -n "$agent" ] && break
		sleep 0.05
	done
	[ -n "$agent" ] || { kill $cb; fail "the box did not start: $(cat "$C/out")"; }
	cmd=$(tr '\0' ' ' </proc/$cb/cmdline)
	echo "$cmd" | grep -q -- "-e CLI_KEY=\*\*\*\*" || { kill $cb; fail "cmdline: $cmd"; }
	for p in $cb $(descendants $cb); do
		no_value_in "/proc/$p/cmdline" "$(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null)" "$V_CLI"
	done
	# The check can see it: root reads the agent's environment...
	tr '\0' '\n' </proc/$agent/environ | grep -qx "CLI_KEY=$V_CLI" || { kill $cb; fail "value not in the agent's environment"; }
	# ...another uid cannot.
	if runuser -u nobody -- cat /proc/$agent/environ >"$C/other" 2>&1; then
		kill $cb
		fail "another user read the agent's environment: $(cat "$C/other")"
	fi
	no_value_in "another user's read" "$(cat "$C/other")" "$V_CLI"
	kill $cb
	wait $cb || true
	! grep -q READABLE "$C/out" || fail "inside the box: $(cat "$C/out")"
}

# An ordinary user's box (user namespace): another uid on the host cannot
# read the agent's environment; inside, the agent cannot become another uid.
user_box_environ_private() {
	need_root
	id nobody >/dev/null 2>&1 || skip "no user 'nobody'"
	TUSER=clawbox-t
	id "$TUSER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$TUSER" >/dev/null 2>&1 ||
		skip "cannot create a test user"
	U="$C/u"
	mkdir -p "$U/proj"
	cp "$CLAWBOX_RELEASE" "$U/clawbox"
	chown -R "$TUSER": "$U"
	chmod 755 "$U"
	runuser -u "$TUSER" -- env -i PATH=/usr/bin:/bin HOME="/home/$TUSER" CLAWBOX_STATE_DIR="$U/state" \
		SECRET_FROM_ENV="$V_CLI" bash -c "cd '$U' && ./clawbox run --project proj -e SECRET_FROM_ENV -- sh -c 'setpriv --reuid 65534 true 2>/dev/null && echo BECAME_OTHER; exec sleep 30'" \
		>"$C/out" 2>&1 &
	rb=$!
	agent=
	for _ in $(seq 100); do
		agent=$(pgrep -u "$TUSER" -x sleep | head -1) && [ -n "$agent" ] && break
		sleep 0.05
	done
	[ -n "$agent" ] || { kill $rb; fail "the box did not start: $(cat "$C/out")"; }
	tr '\0' '\n' </proc/$agent/environ | grep -qx "SECRET_FROM_ENV=$V_CLI" || { pkill -P $rb; fail "value not given"; }
	if runuser -u nobody -- cat /proc/$agent/environ >"$C/other" 2>&1; then
		kill "$agent"
		fail "another user read the agent's environment"
	fi
	kill "$agent"
	wait $rb || true
	! grep -q BECAME_OTHER "$C/out" || fail "the agent changed its uid: $(cat "$C/out")"
}

config_dir_mounted_read_only() {
	mkproj "$P"
	mkdir -p "$C/conf/sub"
	echo '{"gateway":{}}' >"$C/conf/openclaw.json"
	echo nested >"$C/conf/sub/x"
	secfile "$C/conf/.env" "OPENCLAW_GATEWAY_TOKEN=$V_CONF\n"
	out=$("$CLAWBOX" run --project "$P" --config "$C/conf" -- sh -c '
		cd /home/clawbox/.openclaw && cat openclaw.json sub/x
		echo "env:[$(cat .env)]" ; echo "tok:$OPENCLAW_GATEWAY_TOKEN"
		touch new 2>/dev/null && echo WRITABLE; echo x >> openclaw.json 2>/dev/null && echo WRITABLE; true')
	echo "$out" | grep -qx '{"gateway":{}}' || fail "config not visible: $out"
	echo "$out" | grep -qx nested || fail "subdir not visible: $out"
	echo "$out" | grep -qx 'env:\[\]' || fail ".env visible in the box: $out"
	echo "$out" | grep -qx "tok:$V_CONF" || fail "token not in the environment: $out"
	! echo "$out" | grep -q WRITABLE || fail "config dir writable: $out"
	out=$("$CLAWBOX" run --project "$P" --config "$C/conf:/home/clawbox/.config/agent" -- \
		sh -c 'cat /home/clawbox/.config/agent/openclaw.json')
	[ "$out" = '{"gateway":{}}' ] || fail "custom config path: $out"
	set +e
	err=$("$CLAWBOX" run --project "$P" --config "$C/conf:/etc/agent" -- true 2>&1)
	rc=$?
	set -e
	[ $rc -eq 125 ] && echo "$err" | grep -q "beneath /home/clawbox" || fail "bad config path: $rc $err"
	ln -s openclaw.json "$C/conf2" 2>/dev/null || true
	mkdir "$C/conf3" && ln -s ../conf/.env "$C/conf3/.env"
	set +e
	err=$("$CLAWBOX" run --project "$P" --config "$C/conf3" -- true 2>&1)
	rc=$?
	set -e
	[ $rc -eq 125 ] && echo "$err" | grep -q "symlink" || fail "symlinked .env: $rc $err"
}

bad_input() {
	mkproj "$P"
	run_err() { # expected-code, args...
		local want=$1 rc
		shift
		set +e
		err=$("$CLAWBOX" "$@" 2>&1 </dev/null)
		rc=$?
		set -e
		[ $rc -eq "$want" ] || fail "'$*': exit $rc, want $want: $err"
	}
	run_err 125 run --project "$P" -e "1BAD=$V_CLI" -- true
	echo "$err" | grep -q "invalid secret name" || fail "$err"
	no_value_in "error" "$err" "$V_CLI"
	run_err 125 run --project "$P" -e "$V_CLI" -- true
	no_value_in "error" "$err" "$V_CLI"
	run_err 125 run --project "$P" -e UNSET_VARIABLE_XYZ -- true
	echo "$err" | grep -q 'is not set in your environment' || fail "$err"
	run_err 125 run --project "$P" -e "BIG=$(head -c 40000 /dev/zero | tr '\0' x)" -- true
	echo "$err" | grep -q "longer than 32768" || fail "$err"
	# files
	printf 'A=1\nB=x\0y\n' >"$C/nul.env"; chmod 600 "$C/nul.env"
	run_err 125 run --project "$P" --secrets "$C/nul.env" -- true
	echo "$err" | grep -q "/nul.env:2: NUL byte" || fail "$err"
	secfile "$C/q.env" "A=1\nB=\"$V_FILE\n"
	run_err 125 run --project "$P" --secrets "$C/q.env" -- true
	echo "$err" | grep -q "/q.env:2: unterminated double quote" || fail "$err"
	no_value_in "error" "$err" "$V_FILE"
	secfile "$C/open.env" "OPEN_KEY=$V_FILE\n"
	chmod 644 "$C/open.env"
	run_err 125 run --project "$P" --strict --secrets "$C/open.env" -- true
	echo "$err" | grep -q "readable by others" || fail "$err"
	run_err 0 run --project "$P" --secrets "$C/open.env" -- true
	echo "$err" | grep -q "warning: secrets file '.*open.env' is readable by others" || fail "$err"
	ln -s /proc/self/environ "$C/odd.env"
	run_err 125 run --project "$P" --secrets "$C/odd.env" -- true
	echo "$err" | grep -q "symlink to '/proc/" || fail "$err"
	mkfifo "$C/fifo.env"
	run_err 125 run --project "$P" --secrets "$C/fifo.env" -- true
	echo "$err" | grep -q "not a regular file" || fail "$err"
	run_err 125 run --project "$P" --secrets "$C/missing.env" -- true
	# import and set: nothing stored on a bad input
	echo "$V_STORE" | "$CLAWBOX" secrets set --project "$P" KEEP >/dev/null
	box=$(echo "$CLAWBOX_STATE_DIR"/boxes/*)
	before=$(sha256sum "$box/secrets.env")
	secfile "$C/half.env" "GOOD=$V_FILE\nbad-name=x\n"
	run_err 1 secrets import --project "$P" "$C/half.env"
	echo "$err" | grep -q "/half.env:2: invalid name.*nothing stored" || fail "$err"
	run_err 1 secrets import --project "$P" "$C/nul.env"
	run_err 1 secrets set --project "$P" 'BAD-NAME'
	run_err 1 secrets set --project "$P" EMPTY
	echo "$err" | grep -q "no value for 'EMPTY'" || fail "$err"
	set +e
	err=$(head -c 40000 /dev/zero | tr '\0' x | "$CLAWBOX" secrets set --project "$P" BIG 2>&1)
	rc=$?
	printf 'a\0b' | "$CLAWBOX" secrets set --project "$P" NUL 2>&1 | grep -q "NUL byte" || rc=99
	set -e
	[ $rc -eq 1 ] && echo "$err" | grep -q "longer than" || fail "big value: $rc $err"
	run_err 2 secrets set --project "$P" NAME "$V_CLI"
	[ "$(sha256sum "$box/secrets.env")" = "$before" ] || fail "the store changed"
	run_err 1 secrets unset --project "$P" NOT_THERE
	out=$("$CLAWBOX" secrets list --project "$P")
	# KEEP, and OPEN_KEY that a run was given (remembered, not listed)
	echo "$out" | grep -q "^KEEP " && [ "$(echo "$out" | wc -l)" -eq 3 ] &&
		echo "$out" | grep -q "^the box also remembers 1 earlier value" || fail "list: $out"
}

store_commands() {
	mkproj "$P"
	cd "$P"
	! "$CLAWBOX" secrets list 2>"$C/err" || fail "list of a missing box succeeded"
	grep -q "no box" "$C/err" || fail "$(cat "$C/err")"
	[ ! -d "$CLAWBOX_STATE_DIR/boxes" ] || [ -z "$(ls "$CLAWBOX_STATE_DIR/boxes")" ] ||
		fail "list created a box"
	printf '%s\n' "$V_STORE" | "$CLAWBOX" secrets set ANTHROPIC_API_KEY >/dev/null
	"$CLAWBOX" secrets unset ANTHROPIC_API_KEY >/dev/null
	out=$("$CLAWBOX" secrets list)
	echo "$out" | grep -q "no secrets" || fail "$out"
	printf '%s\n' "$V_STORE" | "$CLAWBOX" secrets set ANTHROPIC_API_KEY >/dev/null
	printf 'multi\nline "q" $x\\' | "$CLAWBOX" secrets set MULTI >/dev/null
	secfile "$C/imp.env" "SLACK_BOT_TOKEN=$V_FILE\nANTHROPIC_API_KEY=$V_AZURE\n"
	out=$("$CLAWBOX" secrets import "$C/imp.env")
	echo "$out" | grep -q "imported 2 secrets" || fail "$out"
	out=$("$CLAWBOX" run -- sh -c 'printf "%s|%s|%s" "$ANTHROPIC_API_KEY" "$SLACK_BOT_TOKEN" "$MULTI"')
	[ "$out" = "$V_AZURE|$V_FILE|multi
line \"q\" \$x\\" ] || fail "values: $out"
	"$CLAWBOX" secrets unset MULTI >/dev/null
	out=$("$CLAWBOX" run -- sh -c 'echo "${MULTI-unset}"')
	[ "$out" = unset ] || fail "unset: $out"
	box=$(echo "$CLAWBOX_STATE_DIR"/boxes/*)
	for e in secrets.set secrets.import secrets.unset; do
		grep -q "\"event\":\"$e\"" "$box/audit.jsonl" || fail "no $e event"
	done
	"$CLAWBOX" run --help | grep -q "prefer NAME alone" || fail "--help does not advise"
}

# With a terminal, clawbox relays what the box prints: each value, whole, cut
# between two writes, or in base64, shows as [REDACTED:NAME]. (Without one,
# the command writes to the caller's own stdout: nothing is relayed.)
terminal_output_redacted() {
	mkproj "$P"
	secfile "$C/s.env" "FILE_KEY=$V_FILE\n"
	b64=$(printf '%s' "$V_FILE" | base64 -w0)
	half=${V_FILE:0:9}
	rest=${V_FILE:9}
	out=$(timeout 30 env SHELL=/bin/bash script -qec "$CLAWBOX run --project $P --secrets $C/s.env -- sh -c 'stty -echo; echo A=\$FILE_KEY; printf B=$half; sleep 0.005; echo $rest; echo C=$b64; printf D=$half; sleep 0.3; echo $rest; echo E=file-Value-end'" /dev/null 2>&1 </dev/null | tr -d '\r')
	# script(1), its stdin at EOF, types a NUL into the terminal: the box's
	# terminal would echo it (^@) anywhere in the output, so the command
	# turns the echo off first (a NUL before that shows at the start).
	out=${out#^@}
	want=$(printf 'A=[REDACTED:FILE_KEY]\nB=[REDACTED:FILE_KEY]\nC=[REDACTED:FILE_KEY]\nD=[REDACTED:FILE_KEY]\nE=file-Value-end')
	[ "$out" = "$want" ] || fail "terminal output: $(echo "$out" | cat -v)"
	no_value_in "the terminal output" "$out" "$V_FILE" "$b64"
	# Control: the same command without a terminal prints the values.
	out=$("$CLAWBOX" run --project "$P" --secrets "$C/s.env" -- sh -c 'echo A=$FILE_KEY')
	[ "$out" = "A=$V_FILE" ] || fail "without a terminal: $out"
}

# no_value_anywhere_user_sees WHAT VALUE...: the host project, the audit log
# and the last sync's output ($C/sync.out, $C/sync.err) hold none of the
# values (in the raw form, in names too).
no_value_seen() {
	local box v
	box=$(echo "$CLAWBOX_STATE_DIR"/boxes/*)
	for v in "$@"; do
		! grep -rqF "$v" "$P" || fail "the host project holds '$v': $(grep -rlF "$v" "$P")"
		! find "$P" -name "*$v*" | grep -q . || fail "a host file name holds '$v'"
		! grep -qF "$v" "$box/audit.jsonl" || fail "the audit log holds '$v'"
		! grep -qF "$v" "$C/sync.out" "$C/sync.err" || fail "sync printed '$v'"
	done
}

# Values given only at a run (-e, --secrets, --config), and a stored value
# unset since, are known to the gate: written raw, in base64 or hex, none
# reaches the host; the reasons name them.
run_values_known_to_gate() {
	mkproj "$P"
	mkdir "$C/conf"
	secfile "$C/conf/.env" "CONF_KEY=$V_CONF\n"
	secfile "$C/s.env" "FILE_KEY=$V_FILE\n"
	echo "$V_STORE" | "$CLAWBOX" secrets set --project "$P" STORED_KEY >/dev/null
	"$CLAWBOX" run --project "$P" --secrets "$C/s.env" --config "$C/conf" -e CLI_KEY="$V_CLI" \
		-- sh -c 'echo "$CLI_KEY" >cli.txt; printf %s "$FILE_KEY" | base64 >file.b64
			printf %s "$CONF_KEY" | od -An -tx1 | tr -d " \n" >conf.hex
			echo "x=$STORED_KEY" >stored.txt; echo plain >ok.txt' >/dev/null
	"$CLAWBOX" secrets unset --project "$P" STORED_KEY >/dev/null
	out=$("$CLAWBOX" secrets list --project "$P")
	echo "$out" | grep -q "^the box also remembers 4 earlier values (unset, or given to a run)" ||
		fail "list: $out"
	"$CLAWBOX" sync --project "$P" --auto >"$C/sync.out" 2>"$C/sync.err" || true
	[ -f "$P/ok.txt" ] || fail "the harmless file did not sync: $(cat "$C/sync.out" "$C/sync.err")"
	for f in cli.txt file.b64 conf.hex stored.txt; do
		[ ! -e "$P/$f" ] || fail "$f reached the host: $(cat "$P/$f")"
	done
	out=$("$CLAWBOX" sync --project "$P" --dry-run 2>&1 || true)
	for n in CLI_KEY FILE_KEY CONF_KEY STORED_KEY; do
		echo "$out" | grep -q "known-secret:$n" || fail "no known-secret:$n in: $out"
	done
	no_value_seen "$V_CLI" "$V_FILE" "$V_CONF" "$V_STORE"
	box=$(echo "$CLAWBOX_STATE_DIR"/boxes/*)
	# reset keeps what the box knows (its home may still hold a value)...
	"$CLAWBOX" reset --project "$P" --yes >/dev/null
	grep -qF "\"$V_CLI\"" "$box/secrets.known" || fail "reset forgot the run's value"
	"$CLAWBOX" run --project "$P" -- sh -c 'echo "'"$V_CLI"'" >again.txt' >/dev/null
	"$CLAWBOX" sync --project "$P" --auto >"$C/sync.out" 2>"$C/sync.err" || true
	[ ! -e "$P/again.txt" ] || fail "after reset, the value reached the host"
	# ...delete removes it with the box.
	"$CLAWBOX" delete --project "$P" --yes >/dev/null
	[ ! -e "$box/secrets.known" ] || fail "delete left secrets.known"
}

# A value in a file or directory name (raw, base64, hex) or a link's
# target, or a name a scanner rule matches: blocked; the plan, the
# sync output and the audit log show the name redacted.
names_scanned_and_redacted() {
	mkproj "$P"
	b64=$(printf %s "$V_CLI" | base64 -w0 | tr -d =)
	hex=$(printf %s "$V_CLI" | od -An -tx1 | tr -d ' \n')
	"$CLAWBOX" run --project "$P" -e CLI_KEY="$V_CLI" -- sh -c '
		touch "n-$CLI_KEY.txt" "b-'"$b64"'" "h-'"$hex"'" AKIAZ3MSJV4WWNKWW5FG
		mkdir -p "d-$CLI_KEY"; touch "d-$CLI_KEY/inner" fine.txt
		ln -s "src/$CLI_KEY" lnk' >/dev/null
	"$CLAWBOX" sync --project "$P" --dry-run >"$C/plan" 2>&1 || true
	grep -q "n-\[REDACTED:CLI_KEY\].txt  \[blocked\]" "$C/plan" || fail "plan: $(cat "$C/plan")"
	grep -q "the file name holds the box's secret CLI_KEY" "$C/plan" || fail "plan: $(cat "$C/plan")"
	grep -q "aws-access-token: the file name holds a secret" "$C/plan" || fail "plan: $(cat "$C/plan")"
	"$CLAWBOX" sync --project "$P" --auto >"$C/sync.out" 2>"$C/sync.err" || true
	[ -f "$P/fine.txt" ] || fail "fine.txt did not sync: $(cat "$C/sync.out" "$C/sync.err")"
	[ "$(ls "$P" | tr '\n' ' ')" = "README fine.txt src " ] || fail "synced: $(ls "$P")"
	no_value_seen "$V_CLI" "$b64" "$hex"
	[ ! -e "$P/AKIAZ3MSJV4WWNKWW5FG" ] || fail "a name the scanner matches reached the host"
	[ ! -L "$P/lnk" ] || fail "a link whose target holds the value reached the host"
	grep -q "lnk  \[blocked\]" "$C/plan" || fail "plan: $(cat "$C/plan")"
	! grep -qF "$V_CLI" "$C/plan" || fail "the plan shows the value"
	box=$(echo "$CLAWBOX_STATE_DIR"/boxes/*)
	grep -q '"event":"sync.blocked".*"path":"n-\[REDACTED:CLI_KEY\].txt"' "$box/audit.jsonl" ||
		fail "no redacted sync.blocked event: $(grep sync. "$box/audit.jsonl")"
	# A name only a scanner rule finds (no known value) is redacted too.
	grep -q "\[REDACTED:aws-access-token\]  \[blocked\]" "$C/plan" || fail "plan: $(cat "$C/plan")"
	# (the run.start event holds it: this test's own command line)
	grep '"event":"sync' "$box/audit.jsonl" >"$C/sync-events"
	grep -q '"path":"\[REDACTED:aws-access-token\]"' "$C/sync-events" || fail "events: $(cat "$C/sync-events")"
	! grep -q AKIAZ3MSJV4WWNKWW5FG "$C/plan" "$C/sync.out" "$C/sync-events" ||
		fail "the rule-found name is shown raw: $(grep -h AKIAZ3MSJV4WWNKWW5FG "$C/plan" "$C/sync.out" "$C/sync-events")"
	"$CLAWBOX" audit verify --project "$P" >/dev/null || fail "audit chain broken"
}

# The proxy and the DNS stub log the names the box asks for: redacted.
net_events_redacted() {
	need_root
	command -v curl >/dev/null || skip "no curl"
	mkproj "$P"
	"$CLAWBOX" run --project "$P" -e CLI_KEY="$V_CLI" -- sh -c \
		'curl -s -m 3 "http://$CLI_KEY.example/" ; getent hosts "$CLI_KEY.example"
		 curl -s -m 3 -x "" --socks5-hostname "$ALL_PROXY" "http://x$CLI_KEY.example/" ; true' \
		>/dev/null 2>&1 || true
	box=$(echo "$CLAWBOX_STATE_DIR"/boxes/*)
	grep -q '"event":"net.connect".*"host":"\[REDACTED:CLI_KEY\].example"' "$box/audit.jsonl" ||
		fail "no redacted net.connect: $(grep net. "$box/audit.jsonl")"
	grep -q '"event":"net.dns".*"host":"\[REDACTED:CLI_KEY\].example"' "$box/audit.jsonl" ||
		fail "no redacted net.dns: $(grep net. "$box/audit.jsonl")"
	! grep -qF "$V_CLI" "$box/audit.jsonl" || fail "the audit log holds the value"
	out=$("$CLAWBOX" audit --net --project "$P" 2>&1)
	! echo "$out" | grep -qF "$V_CLI" || fail "audit --net shows it: $out"
}

# The files secrets come from are hidden from the box at their host paths:
# --secrets FILE given relative, through a symlink, or inside the project
# (then at /workspace too), and the --config DIR's .env. The value -e
# overrode reaches the box nowhere, not in /proc; the init's environ (it
# holds clawbox's, with ENV_KEY of -e ENV_KEY) is unreadable.
secrets_files_hidden() {
	mkproj "$P"
	# The host's /tmp is not the box's: the files live where the box sees
	# the host (the control at the end proves it).
	H=$(mktemp -d /var/tmp/clawbox-test-secrets.XXXXXX)
	trap 'rm -rf "$H"' EXIT
	chmod 755 "$H"
	mkdir -p "$H/conf" "$H/sec"
	secfile "$H/conf/.env" "CONF_KEY=$V_CONF\n"
	secfile "$H/sec/s.env" "FILE_KEY=$V_FILE\nOVER_KEY=over-Value-77aa88bb99\n"
	ln -s sec/s.env "$H/link.env"
	secfile "$P/in.env" "IN_KEY=$V_AZURE\n"
	chmod 755 "$H/sec"
	look='for f in "$@"; do echo "[$f:$(cat "$f" 2>/dev/null)]"; done
		cat /proc/1/environ >/dev/null 2>&1 && echo INIT_ENVIRON_READABLE
		for p in /proc/[0-9]*; do
			tr "\0" " " <$p/cmdline 2>/dev/null | grep -q "clawbox ru[n] " &&
				cat $p/environ >/dev/null 2>&1 && echo CLAWBOX_ENVIRON_READABLE
		done
		cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null | tr "\0" "\n" |
			grep -c -e "over-Valu[e]"'
	(cd "$H" && ENV_KEY="$V_CLI" "$CLAWBOX" run --project "$P" --secrets sec/s.env \
		--config "$H/conf" -e OVER_KEY=new-Value-1234 -e ENV_KEY -- sh -c "$look" sh \
		"$H/sec/s.env" "$H/conf/.env" >"$C/out1") || true
	(cd "$H" && "$CLAWBOX" run --project "$P" --secrets link.env -- sh -c "$look" sh \
		"$H/link.env" "$H/sec/s.env" >"$C/out2") || true
	(cd "$P" && "$CLAWBOX" run --project "$P" --secrets in.env -- sh -c "$look" sh \
		"$P/in.env" /workspace/in.env >"$C/out3") || true
	for o in "$C/out1" "$C/out2" "$C/out3"; do
		no_value_in "$o" "$(cat "$o")" "$V_FILE" "$V_CONF" "$V_AZURE" over-Value
		! grep -q READABLE "$o" || fail "$(cat "$o")"
	done
	grep -qx 0 "$C/out1" || fail "the box's /proc holds the overridden value: $(cat "$C/out1")"
	grep -qxF "[$H/sec/s.env:]" "$C/out1" || fail "secrets file visible: $(cat "$C/out1")"
	grep -qxF "[$H/conf/.env:]" "$C/out1" || fail "config .env visible: $(cat "$C/out1")"
	grep -qxF "[$H/link.env:]" "$C/out2" || fail "linked file visible: $(cat "$C/out2")"
	grep -qxF "[/workspace/in.env:]" "$C/out3" || fail "in-project file visible: $(cat "$C/out3")"
	grep -qxF "[$P/in.env:]" "$C/out3" || fail "in-project file visible: $(cat "$C/out3")"
	# Control: an ordinary file beside them is visible.
	echo visible >"$H/sec/other"
	out=$("$CLAWBOX" run --project "$P" --secrets "$H/sec/s.env" -- cat "$H/sec/other")
	[ "$out" = visible ] || fail "control: $out"
}

# Short values, a common word, regex metacharacters: what a user sees.
redaction_edges() {
	mkproj "$P"
	out=$("$CLAWBOX" run --project "$P" -e W=hello -e S=abc -e M='p.a$s*w+o?r[d]' -- sh -c \
		'echo "say $W / $S"; echo "$M" >meta.txt; echo "pXa\$s*w+o?r[d] hellx" >near.txt
		 echo "greet hello" >word.txt' 2>"$C/err")
	[ "$out" = "say hello / abc" ] || fail "values not given: $out"
	grep -q "secret 'W' is only 5 bytes: it is redacted, and blocked by the sync gate" "$C/err" ||
		fail "no short-value warning: $(cat "$C/err")"
	grep -q "secret 'S' is shorter than 4 bytes" "$C/err" || fail "no too-short warning: $(cat "$C/err")"
	"$CLAWBOX" sync --project "$P" --auto >"$C/sync.out" 2>"$C/sync.err" || true
	[ ! -e "$P/meta.txt" ] || fail "the metacharacter value reached the host"
	[ ! -e "$P/word.txt" ] || fail "the word value reached the host"
	[ -f "$P/near.txt" ] || fail "a near miss was blocked: $(cat "$C/sync.out")"
	box=$(echo "$CLAWBOX_STATE_DIR"/boxes/*)
	"$CLAWBOX" run --project "$P" -- echo 'x hello p.a$s*w+o?r[d] pXa$s' >/dev/null
	grep -qF '"argv":["echo","x [REDACTED:W] [REDACTED:M] pXa$s"]' "$box/audit.jsonl" ||
		fail "argv: $(grep run.start "$box/audit.jsonl" | tail -1)"
	# Names: only letters, digits and '_'; the value is never echoed.
	for n in 'A-B' 'A B' 'A.B' 'Ä' 'A$B'; do
		set +e
		err=$("$CLAWBOX" run --project "$P" -e "$n=$V_CLI" -- true 2>&1)
		rc=$?
		set -e
		[ $rc -eq 125 ] || fail "name '$n' accepted"
		no_value_in "error" "$err" "$V_CLI"
	done
}

# A box never forgets a value: past its bound, a new one is refused with a
# clear message, and nothing is stored.
known_values_bounded() {
	mkproj "$P"
	for f in 1 2 3 4 5; do
		: >"$C/bulk$f.env"
		for i in $(seq 1 256); do echo "K$i=bulk-$f-$i-value" >>"$C/bulk$f.env"; done
		chmod 600 "$C/bulk$f.env"
	done
	for f in 1 2 3 4; do
		"$CLAWBOX" secrets import --project "$P" "$C/bulk$f.env" >/dev/null
	done
	set +e
	err=$("$CLAWBOX" secrets import --project "$P" "$C/bulk5.env" 2>&1)
	rc=$?
	set -e
	[ $rc -eq 1 ] || fail "the 1025th value was taken: $err"
	echo "$err" | grep -q "keeps at most 1024.*never forgets one.*clawbox delete" || fail "$err"
	box=$(echo "$CLAWBOX_STATE_DIR"/boxes/*)
	grep -qF bulk-1-1-value "$box/secrets.known" || fail "an old value was forgotten"
	set +e
	err=$("$CLAWBOX" run --project "$P" -e K1=new-value-xyz -- true 2>&1)
	rc=$?
	set -e
	[ $rc -eq 125 ] && echo "$err" | grep -q "keeps at most 1024" || fail "run: $rc $err"
}

# A value given to an earlier run, kept by the box in its home, is still
# known to a later run that was not given it: its terminal and its audit
# events show it redacted; reset keeps it known (the home survives reset).
remembered_values_redacted_later() {
	mkproj "$P"
	"$CLAWBOX" run --project "$P" -e OLD_KEY="$V_CLI" -- sh -c 'echo "$OLD_KEY" >/home/clawbox/kept'
	"$CLAWBOX" reset --project "$P" --yes >/dev/null
	# Control: the value is there, and without a terminal nothing is relayed.
	out=$("$CLAWBOX" run --project "$P" -- cat /home/clawbox/kept)
	[ "$out" = "$V_CLI" ] || fail "control: $out"
	out=$(timeout 30 env SHELL=/bin/bash script -qec "$CLAWBOX run --project $P -- sh -c 'stty -echo; echo A=\$(cat /home/clawbox/kept); echo E=end'" /dev/null 2>&1 </dev/null | tr -d '\r')
	out=${out#^@}
	[ "$out" = "$(printf 'A=[REDACTED:OLD_KEY]\nE=end')" ] || fail "terminal: $(echo "$out" | cat -v)"
	"$CLAWBOX" run --project "$P" -- true "$V_CLI" >/dev/null
	box=$(echo "$CLAWBOX_STATE_DIR"/boxes/*)
	grep -qF '"argv":["true","[REDACTED:OLD_KEY]"]' "$box/audit.jsonl" ||
		fail "argv: $(grep run.start "$box/audit.jsonl" | tail -1)"
	! grep -qF "$V_CLI" "$box/audit.jsonl" || fail "the audit log holds the value"
}

# yolo mode applies what passes on a timer, with no user action: a value
# given only to this run, in a file's content or name, is held.
yolo_holds_run_values() {
	mkproj "$P"
	"$CLAWBOX" run --mode yolo --project "$P" -- true
	box=$(echo "$CLAWBOX_STATE_DIR"/boxes/*)
	printf '[sync]\nauto_interval = 1\n' >"$box/config.toml"
	mkfifo "$C/go"
	"$CLAWBOX" run --project "$P" -e RUN_KEY="$V_CLI" -- sh -c \
		'echo "$RUN_KEY" >s.txt; touch "n-$RUN_KEY"; echo clean >c.txt; read x' \
		<"$C/go" >/dev/null 2>&1 &
	exec 7>"$C/go"
	ok=0
	for _ in $(seq 50); do [ -f "$P/c.txt" ] && { ok=1; break; }; sleep 0.1; done
	echo stop >&7
	exec 7>&-
	wait
	[ $ok = 1 ] || fail "clean file not applied within the interval"
	[ ! -e "$P/s.txt" ] || fail "the run's value reached the host"
	[ ! -e "$P/n-$V_CLI" ] || fail "a name holding the run's value reached the host"
	! grep -rqF "$V_CLI" "$box/audit.jsonl" "$box/sync.log" 2>/dev/null || fail "logged raw"
	grep -q '"event":"sync.blocked".*"path":"n-\[REDACTED:RUN_KEY\]"' "$box/audit.jsonl" ||
		fail "no redacted sync.blocked: $(grep sync. "$box/audit.jsonl")"
}

case_run "precedence: -e > --secrets > --config > stored; dotenv parsing" precedence_and_parsing
case_run "what the box prints on its terminal is redacted" terminal_output_redacted
case_run "no value in state, audit, stderr; argv redacted" nothing_leaks
case_run "-e value scrubbed from clawbox's cmdline; environ private" argv_scrubbed_and_environ_private
case_run "a user's box: other uids cannot read the agent's environment" user_box_environ_private
case_run "--config DIR read-only in the box, its .env hidden" config_dir_mounted_read_only
case_run "bad input: clear errors, nothing stored" bad_input
case_run "clawbox secrets list/set/unset/import" store_commands
case_run "values given at a run, and unset ones, are known to the gate" run_values_known_to_gate
case_run "file names are scanned; events and the plan redact them" names_scanned_and_redacted
case_run "net.connect and net.dns events are redacted" net_events_redacted
case_run "--secrets FILE and the config's .env are hidden at their host paths" secrets_files_hidden
case_run "short values, a word, metacharacters, odd names" redaction_edges
case_run "the known values are bounded, never forgotten" known_values_bounded
case_run "a value of an earlier run stays redacted in later runs" remembered_values_redacted_later
case_run "yolo mode holds a value given only to the run" yolo_holds_run_values
