#!/usr/bin/env bash
# Runs a command with a fresh moto server (DynamoDB, SES, SNS) on a free loopback port, exported
# as PORTICO_TEST_MOTO_ENDPOINT; the server stops when the command ends.
set -euo pipefail
python="${MOTO_PYTHON:-.venv/bin/python}"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
log=$(mktemp)
"$python" infra/local/moto_server.py -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
  if curl -sf "http://127.0.0.1:$port/_portico/outbox?mail_since=1000000000&sms_since=1000000000" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then cat "$log" >&2; echo "moto failed to start" >&2; exit 1; fi
  sleep 0.1
done
export PORTICO_TEST_MOTO_ENDPOINT="http://127.0.0.1:$port"
"$@"
