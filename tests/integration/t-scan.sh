#!/usr/bin/env bash
# clawbox scan: what a user sees (exit codes, output formats, bad input).
. "$(dirname "$0")/lib.sh"

GL=${SHARED:-}/data/gitleaks/gitleaks.toml
AWS=AKIAQWERTYUIOPASDFGH
GHP=ghp_0123456789abcdefghijABCDEFGHIJ123456

mktree() {
	mkdir -p tree/sub
	echo "int main(void) { return 0; }" >tree/clean.c
	printf 'line one\naws_key = "%s"\n' "$AWS" >tree/sub/conf.py
	printf 'token: %s\n' "$GHP" >tree/b.yml
}

t_help() {
	"$CLAWBOX" scan --help >out
	for o in --config --format --redact --jobs --max-size --binary --ignore-file --known-secret-env; do
		grep -q -- "$o" out || fail "help lacks $o"
	done
	"$CLAWBOX" --help | grep -q '^  scan ' || fail "scan missing from clawbox --help"
	rc=0; "$CLAWBOX" scan --bogus >/dev/null 2>err || rc=$?
	[ $rc -eq 2 ] || fail "unknown option: exit $rc"
}

t_clean_and_findings() {
	mktree
	"$CLAWBOX" scan -q tree/clean.c >out
	[ ! -s out ] || fail "output for a clean file"
	rc=0; "$CLAWBOX" scan tree >out 2>err || rc=$?
	[ $rc -eq 1 ] || fail "findings: exit $rc"
	grep -q '^tree/sub/conf.py:2:12: aws-access-token' out || { cat out; fail "aws finding"; }
	grep -q 'fingerprint: tree/b.yml:github-token:1' out || fail "github finding"
	grep -q "$AWS" out && fail "text output shows the secret"
	grep -q 'scanned 3 files' err || { cat err; fail "summary"; }
	"$CLAWBOX" scan --no-redact tree >out || true
	grep -q "$AWS" out || fail "--no-redact hides the secret"
}

t_json_sarif() {
	mktree
	rc=0; "$CLAWBOX" scan -q --format json tree >out.json || rc=$?
	[ $rc -eq 1 ] || fail "json: exit $rc"
	for k in RuleID File StartLine EndLine StartColumn EndColumn Match Secret Entropy Fingerprint Description; do
		grep -q "\"$k\"" out.json || fail "json lacks $k"
	done
	grep -q "\"Secret\": \"$AWS\"" out.json || fail "json secret"
	grep -q '"Fingerprint": "tree/sub/conf.py:aws-access-token:2"' out.json || fail "json fingerprint"
	"$CLAWBOX" scan -q --format json --redact tree >red.json || true
	grep -q "$AWS" red.json && fail "--redact leaks"
	"$CLAWBOX" scan -q --format sarif tree >out.sarif || true
	grep -q '"version": "2.1.0"' out.sarif || fail "sarif version"
	grep -q '"ruleId": "aws-access-token"' out.sarif || fail "sarif result"
	grep -q '"uri": "tree/sub/conf.py"' out.sarif || fail "sarif location"
	"$CLAWBOX" scan -q --format json tree/clean.c >empty.json
	[ "$(tr -d ' \n' <empty.json)" = "[]" ] || fail "clean json is not []"
}

t_stdin() {
	rc=0; printf 'x = %s\n' "$GHP" | "$CLAWBOX" scan -q - >out || rc=$?
	[ $rc -eq 1 ] || fail "stdin: exit $rc"
	grep -q '^-:1:5: github-token' out || { cat out; fail "stdin finding"; }
}

t_bad_config() {
	mktree
	printf '[[rules]]\nid = "x"\nregex = "a"\nbogus = 1\n' >bad.toml
	rc=0; "$CLAWBOX" scan --config bad.toml tree >out 2>err || rc=$?
	[ $rc -eq 2 ] || fail "unknown key: exit $rc"
	[ "$(wc -l <err)" -eq 1 ] || fail "more than one line: $(cat err)"
	grep -q "^clawbox: bad.toml:4: unknown key 'bogus'" err || fail "message: $(cat err)"
	printf '[[rules]]\nid = "x"\n\nregex = '"'''"'(a'"'''"'\n' >re.toml
	rc=0; "$CLAWBOX" scan --config re.toml tree 2>err || rc=$?
	[ $rc -eq 2 ] && grep -q '^clawbox: re.toml:4: .*invalid regex' err || fail "bad regex: $rc $(cat err)"
	printf 'x = "unterminated\n' >syn.toml
	rc=0; "$CLAWBOX" scan --config syn.toml tree 2>err || rc=$?
	[ $rc -eq 2 ] && grep -q '^clawbox: syn.toml:1: ' err || fail "bad toml: $rc $(cat err)"
	rc=0; "$CLAWBOX" scan --config /nonexistent.toml tree 2>err || rc=$?
	[ $rc -eq 2 ] || fail "missing config: exit $rc"
}

t_gitleaks_config() {
	[ -r "$GL" ] || skip "$GL is absent"
	mktree
	rc=0; "$CLAWBOX" scan -q --config "$GL" --format json tree >out.json || rc=$?
	[ $rc -eq 1 ] || fail "exit $rc"
	grep -q '"RuleID": "github-pat"' out.json || fail "github-pat"
	grep -q '"RuleID": "aws-access-token"' out.json || fail "aws"
}

t_binary_size_unreadable() {
	mkdir d
	printf 'x\0y token = %s\n' "$GHP" >d/blob.bin
	head -c 3000 /dev/zero | tr '\0' 'a' >d/big.txt
	rc=0; "$CLAWBOX" scan --max-size 2K d >out 2>err || rc=$?
	[ $rc -eq 0 ] || fail "binary/size: exit $rc"
	grep -q "'d/big.txt' is larger than the size cap" err || fail "size cap not reported: $(cat err)"
	grep -q 'skipped 1 binary, 1 too large' err || fail "summary: $(cat err)"
	rc=0; "$CLAWBOX" scan --binary d >out 2>/dev/null || rc=$?
	[ $rc -eq 1 ] || fail "--binary: exit $rc"
	rc=0; "$CLAWBOX" scan d/missing 2>err || rc=$?
	[ $rc -eq 2 ] && grep -q "cannot read 'd/missing'" err || fail "missing file: $rc $(cat err)"
	mkfifo d/fifo
	rc=0; timeout 10 "$CLAWBOX" scan d/fifo 2>err || rc=$?
	[ $rc -eq 2 ] && grep -q "not a regular file" err || fail "fifo: $rc $(cat err)"
}

t_symlinks_not_followed() {
	mkdir -p outside proj
	printf 'k = %s\n' "$GHP" >outside/secret.txt
	ln -s ../outside/secret.txt proj/link.txt
	ln -s ../outside proj/linkdir
	echo clean >proj/a.txt
	"$CLAWBOX" scan -q proj >out || fail "a symlink was followed: $(cat out)"
}

t_allow_and_ignore() {
	mkdir p
	printf 'a = %s # gitleaks:allow\n' "$GHP" >p/allowed.txt
	printf '\nb = %s\n' "$GHP" >p/ignored.txt
	echo "p/ignored.txt:github-token:2" >p/.gitleaksignore
	"$CLAWBOX" scan -q p >out || fail "allow/ignore not honoured: $(cat out)"
	echo "# nothing" >other.ignore
	rc=0; "$CLAWBOX" scan -q --ignore-file other.ignore p >out || rc=$?
	[ $rc -eq 1 ] || fail "--ignore-file did not replace .gitleaksignore"
}

t_known_secret() {
	mkdir k
	val='my-Box-Secret/42+xyz'
	printf 'plain %s\n' "$val" >k/raw.txt
	printf 'b64 %s\n' "$(printf '%s' "$val" | base64)" >k/b64.txt
	printf 'hex %s\n' "$(printf '%s' "$val" | od -An -tx1 | tr -d ' \n')" >k/hex.txt
	printf 'url my-Box-Secret%%2F42%%2Bxyz\n' >k/url.txt
	for fmt in text json sarif; do
		rc=0; BOX_TOKEN=$val "$CLAWBOX" scan -q --format $fmt --known-secret-env BOX_TOKEN k >out 2>&1 || rc=$?
		[ $rc -eq 1 ] || fail "$fmt: exit $rc"
		grep -q "$val" out && fail "$fmt output shows the known secret"
		[ "$(grep -c 'known-secret:BOX_TOKEN' out)" -ge 4 ] || { cat out; fail "$fmt: not all 4 forms found"; }
	done
	rc=0; "$CLAWBOX" scan --known-secret-env UNSET_VAR_X k 2>err || rc=$?
	[ $rc -eq 2 ] || fail "unset env: exit $rc"
}

t_jobs_same_output() {
	mkdir -p j
	for i in $(seq 1 40); do
		mkdir -p j/d$i
		printf 'x\ntoken = %s\n' "$GHP" >j/d$i/f.txt
		echo clean >j/d$i/g.txt
	done
	"$CLAWBOX_RELEASE" scan -q --jobs 1 --format json j >one.json || true
	"$CLAWBOX" scan -q --jobs 4 --format json j >four.json || true
	cmp one.json four.json || fail "--jobs changes the output"
	[ "$(grep -c '"RuleID"' four.json)" -eq 40 ] || fail "not 40 findings"
}

case_run "help lists every option" t_help
case_run "clean exits 0, findings exit 1, text redacted" t_clean_and_findings
case_run "json and sarif reports" t_json_sarif
case_run "stdin" t_stdin
case_run "bad configuration: one line with file and line, exit 2" t_bad_config
case_run "gitleaks.toml as --config" t_gitleaks_config
case_run "binary skipped, size cap reported, unreadable reported" t_binary_size_unreadable
case_run "symlinks are not followed" t_symlinks_not_followed
case_run "gitleaks:allow and .gitleaksignore" t_allow_and_ignore
case_run "known secrets in raw/base64/hex/url forms, never printed" t_known_secret
case_run "--jobs gives the same report" t_jobs_same_output
