# Sourced by the daemon benchmarks (daemon.sh, memory.sh), from the package root.
#   prepare_daemon MODEL        install and build what they need; make the random SD 1.5 folder if missing
#   start_daemon MODEL SOCKET LOG   start dbrenderd (its pid in $daemon) and wait for its ready line

prepare_daemon() {
    scripts/setup.sh
    swift build -c release --product dbrenderd >/dev/null
    swift build -c release --product dbtrain >/dev/null
    [[ -d $1/unet || -f $1 ]] || .build/release/dbtrain init --preset sd15 --out "$1" --seed 0
}

start_daemon() {
    rm -f "$2" "$3"
    .build/release/dbrenderd --model "$1" --socket "$2" 2>"$3" &
    daemon=$!
    until grep -q " ready" "$3" 2>/dev/null; do kill -0 $daemon || { cat "$3"; exit 1; }; sleep 0.05; done
}
