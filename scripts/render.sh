#!/usr/bin/env bash
# The main job, on a fresh machine: install what the build needs, build in release mode, start
# dbrenderd on a model (models/shapes unless --model is given), render one prompt with the dbrender
# client, stop the daemon.
#
#   scripts/render.sh ["prompt"] [out.png] [--model PATH] [any dbrender flags: --seed 42 --steps 30 …]
set -euo pipefail
prompt=${1:-"a red circle on a blue background"}
out=${2:-dbrender.png}
shift $(( $# < 2 ? $# : 2 ))
case $out in /*) ;; *) out="$PWD/$out" ;; esac
root="$(cd "$(dirname "$0")/.." && pwd)"
model="$root/models/shapes"
client_args=()
while (($#)); do
    case $1 in
        --model) model=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
        *) client_args+=("$1"); shift ;;
    esac
done
cd "$root"
scripts/setup.sh
echo "render: building (release)…" >&2
swift build -c release --product dbrenderd >/dev/null
swift build -c release --product dbrender >/dev/null

workdir=$(mktemp -d)
socket="$workdir/dbrender.sock"
.build/release/dbrenderd --model "$model" --socket "$socket" 2>"$workdir/dbrenderd.log" &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; rm -rf "$workdir"' EXIT
for _ in $(seq 1 600); do
    grep -q " ready" "$workdir/dbrenderd.log" 2>/dev/null && break
    kill -0 $daemon 2>/dev/null || { cat "$workdir/dbrenderd.log" >&2; exit 1; }
    sleep 0.1
done
grep " ready" "$workdir/dbrenderd.log" >&2
.build/release/dbrender "$prompt" --socket "$socket" --out "$out" "${client_args[@]}"
