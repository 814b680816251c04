#!/bin/bash
# A real mosquitto on a free loopback port, for the player's tests.
#
#   mosquitto.sh start DIR [conf line...]   start; print the port
#   mosquitto.sh stop DIR                   stop (no error if not running)
#
# start writes DIR/mosquitto.conf (one listener on 127.0.0.1, anonymous
# clients allowed, no persistence, log in DIR/mosquitto.log), then every
# extra argument as one more line of that file, so a test can ask for
# "allow_anonymous false", "password_file DIR/passwd", "acl_file F" or
# "persistence true" (later lines win in mosquitto).  It waits, at most
# 10 s, until the broker accepts connections, and writes DIR/port and
# DIR/pid.
#
# The port is free by binding port 0; set MC_MOSQUITTO_PORT to reuse a
# given port instead, e.g. to restart a broker where a client expects it.
# Only 127.0.0.1 is ever used.
set -u

die() {
	echo "mosquitto.sh: $*" >&2
	exit 1
}

find_mosquitto() {
	local p
	for p in "$(command -v mosquitto 2>/dev/null)" /usr/sbin/mosquitto \
		/usr/local/sbin/mosquitto; do
		if [ -n "$p" ] && [ -x "$p" ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# A port nothing listens on: the kernel picks one for port 0.
free_port() {
	/usr/bin/python3 - <<'EOF'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

# True when something accepts TCP connections on 127.0.0.1:$1.
accepting() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
	local dir=$1 port bin pid i line
	shift
	mkdir -p "$dir" || die "cannot create $dir"
	dir=$(cd "$dir" && pwd)
	bin=$(find_mosquitto) || die "mosquitto not installed (apt-get install mosquitto)"
	if [ -f "$dir/pid" ] && running "$(cat "$dir/pid")"; then
		die "a broker already runs from $dir (pid $(cat "$dir/pid"))"
	fi
	port=${MC_MOSQUITTO_PORT:-$(free_port)} || die "no free port"
	[ -n "$port" ] || die "no free port"
	{
		echo "# written by tests/tools/mosquitto.sh"
		echo "listener $port 127.0.0.1"
		echo "allow_anonymous true"
		# As root, mosquitto would drop to user "mosquitto", which may
		# not write to DIR; stay who we are.
		echo "user $(id -un)"
		echo "persistence false"
		echo "persistence_location $dir/"
		echo "log_dest file $dir/mosquitto.log"
		echo "log_type all"
		echo "connection_messages true"
		for line in "$@"; do
			echo "$line"
		done
	} >"$dir/mosquitto.conf"
	: >"$dir/mosquitto.log"
	"$bin" -c "$dir/mosquitto.conf" >>"$dir/mosquitto.out" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/pid"
	echo "$port" >"$dir/port"
	# Bounded wait: 100 tries of 0.1 s.
	for ((i = 0; i < 100; i++)); do
		if ! running "$pid"; then
			rm -f "$dir/pid"
			die "mosquitto exited at start; see $dir/mosquitto.log and $dir/mosquitto.out: $(tail -n 3 "$dir/mosquitto.out" "$dir/mosquitto.log" 2>/dev/null | tr '\n' ' ')"
		fi
		if accepting "$port"; then
			echo "$port"
			return 0
		fi
		sleep 0.1
	done
	kill "$pid" 2>/dev/null
	rm -f "$dir/pid"
	die "mosquitto did not accept connections on 127.0.0.1:$port within 10 s"
}

# True while pid runs; a zombie (exited, not yet reaped by whoever
# inherited it) counts as gone.
running() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

stop() {
	local dir=$1 pid i
	[ -f "$dir/pid" ] || return 0
	pid=$(cat "$dir/pid")
	rm -f "$dir/pid"
	kill "$pid" 2>/dev/null || return 0
	# mosquitto takes up to a second to exit on SIGTERM; bound the
	# wait, then force.
	for ((i = 0; i < 100; i++)); do
		running "$pid" || return 0
		sleep 0.05
	done
	kill -9 "$pid" 2>/dev/null
	return 0
}

case ${1:-} in
start)
	[ $# -ge 2 ] || die "usage: mosquitto.sh start DIR [conf line...]"
	shift
	start "$@"
	;;
stop)
	[ $# -eq 2 ] || die "usage: mosquitto.sh stop DIR"
	stop "$2"
	;;
*)
	echo "usage: mosquitto.sh start DIR [conf line...] | stop DIR" >&2
	exit 2
	;;
esac
