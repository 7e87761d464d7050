#!/usr/bin/env bash
# Interoperability with the clients users already have: the real `webuiapi` and `openai` packages from
# PyPI (pinned, in a virtualenv this script makes, .venv-interop) drive a real dbrenderd over TCP with an
# API key file, and curl reaches it on its Unix socket. Run by scripts/test.sh after the Swift tests
# (which build dbrenderd); the Swift suite itself needs no Python.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

# Debian's Python needs python3-venv for `python3 -m venv`.
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    sudo_cmd=()
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq python3 python3-venv >/dev/null
fi
venv="$root/.venv-interop"
requirements="webuiapi==0.9.17 openai==3.60.0"
if [[ ! -f "$venv/.installed" || "$(cat "$venv/.installed")" != "$requirements" ]]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q $requirements
    echo "$requirements" > "$venv/.installed"
fi

[[ -x .build/release/dbrenderd ]] || swift build -c release --product dbrenderd
work=$(mktemp -d)
daemon=""
cleanup() {
    [[ -n "$daemon" ]] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
key="sk-$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s\nalice:%s\n' "$key" "pw-$key" > "$work/keys"
chmod 600 "$work/keys"
XDG_CACHE_HOME="$work/cache" .build/release/dbrenderd --model models/tiny --socket "$work/d.sock" \
    --listen 127.0.0.1:0 --api-key-file "$work/keys" 2> "$work/daemon.log" &
daemon=$!
for _ in $(seq 1 1800); do
    grep -q '\] ready' "$work/daemon.log" && break
    kill -0 "$daemon" 2>/dev/null || { cat "$work/daemon.log"; echo "interop: dbrenderd exited" >&2; exit 1; }
    sleep 0.1
done
port=$(grep -o 'listen=127\.0\.0\.1:[0-9]*' "$work/daemon.log" | head -1 | cut -d: -f2)
[[ -n "$port" ]] || { cat "$work/daemon.log"; echo "interop: no TCP port in the ready line" >&2; exit 1; }

# curl on the Unix socket: no key needed there.
health=$(curl -s --unix-socket "$work/d.sock" http://localhost/v1/health)
[[ "$health" == *'"status":"ok"'* ]] || { echo "interop: curl on the Unix socket: $health" >&2; exit 1; }
echo "interop: curl on the Unix socket: ok"

DBRENDER_PORT=$port DBRENDER_KEY=$key DBRENDER_BASIC="alice:pw-$key" HF_HUB_OFFLINE=1 \
    "$venv/bin/python" Tests/Interop/test_clients.py
