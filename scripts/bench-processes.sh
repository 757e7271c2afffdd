# Sourced by the benchmark scripts: the processes a benchmark starts, and
# waiting for them to listen. Each script adds its server pids to `pids`.

pids=()

# Kills every process in `pids` and waits for it, so its ports are free again.
cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    pids=()
}

# Waits up to 10 s for something to listen on 127.0.0.1:$1.
wait_for_port() {
    for _ in $(seq 1 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "nothing listens on port $1" >&2
    return 1
}
