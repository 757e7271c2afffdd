#!/bin/bash
# PUBLISH and the cluster's append-and-publish script through one redis-server with N subscribers (docs/SCALING.md).
redis-server --port 16395 --save '' --appendonly no --dir "$(mktemp -d)" --bind 127.0.0.1 >/dev/null 2>&1 &
sleep 0.5
payload=$(python3 -c "print('x'*200)")
script="redis.call('LPUSH', KEYS[1], ARGV[1]) redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1) return redis.call('PUBLISH', KEYS[2], ARGV[1])"
rps() { tail -1 | awk -F, '{gsub(/"/, "", $(NF-6)); print $(NF-6)}'; }
for subs in 0 3 10 30 100; do
  pids=()
  for i in $(seq 1 $subs); do redis-cli -p 16395 subscribe chat:events > /dev/null & pids+=($!); done
  sleep 1
  p16=$(redis-benchmark -p 16395 --csv -n 300000 -P 16 -c 4 PUBLISH chat:events "$payload" 2>/dev/null | rps)
  p1=$(redis-benchmark -p 16395 --csv -n 100000 -c 50 PUBLISH chat:events "$payload" 2>/dev/null | rps)
  ev=$(redis-benchmark -p 16395 --csv -n 100000 -c 50 EVAL "$script" 2 chat:history chat:events "$payload" 1000 2>/dev/null | rps)
  echo "subscribers=$subs publish_pipelined16=$p16 publish_c50=$p1 append_script_c50=$ev"
  if [ ${#pids[@]} -gt 0 ]; then kill "${pids[@]}" 2>/dev/null; fi
  sleep 0.5
done
redis-cli -p 16395 shutdown nosave >/dev/null 2>&1
