# The demo "agent" (run by scripts/demo.sh as: clawbox run -- bash -s -- HOST_HOME < agent.sh).
# It does what a coding agent does, good and bad, and prints what happened.
host_home=$1
say() { printf 'agent: %s\n' "$*"; }
try() { # description, command...: run it, print "ok" or the error
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then
		say "$what: ok${out:+ ($out)}"
	else
		out=${out%%$'\n'*}
		[ -n "$out" ] && out=${out##*: } || out="nothing there"
		say "$what: BLOCKED ($out)"
	fi
}

say "I am $(id -un) in $(pwd) on host '$(hostname)'"
try "edit src/app.py" sed -i 's/Hello/Hello from the agent/' src/app.py
try "delete notes.txt" rm notes.txt
try "add src/cli.py" sh -c 'printf "import app\n" > src/cli.py'
try "write config.py with an API key" sh -c \
	'echo "ANTHROPIC_API_KEY = \"sk-ant-api03-demo0000000000000000000000000000000000000000000000000000000000000000000000000000000000000AA\"" > config.py'
try "list the user's ~/.ssh ($host_home/.ssh)" sh -c "ls -A '$host_home/.ssh' | head -3; test -n \"\$(ls -A '$host_home/.ssh' 2>/dev/null)\""
try "read /etc/shadow" sh -c 'test -s /etc/shadow && head -c 20 /etc/shadow'
try "write the host project through /proc/1/root" sh -c "echo pwned > /proc/1/root$PWD/PWNED"
try "write outside the project (/etc/clawbox-was-here)" sh -c 'echo pwned > /etc/clawbox-was-here'
try "reach the network (1.1.1.1:443)" timeout 3 bash -c 'exec 3<>/dev/tcp/1.1.1.1/443'
try "remount / read-write" mount -o remount,rw /
say "done"
