#!/usr/bin/env bash
# N Streamlit server processes behind nginx with sticky sessions (deploy/nginx.conf), all on this machine.
#
#   deploy/serve_many.sh [N=2] [PORT=8600]
#
# Starts `streamlit run streamlit_app.py` N times on 127.0.0.1:PORT+1 .. PORT+N, writes nginx.conf for them into a
# run dir (BML_RUN_DIR, default a fresh /tmp/bml-serve.*), starts nginx in front on BML_LISTEN (default
# 127.0.0.1:PORT), prints the URL and the pids, and stops everything on Ctrl-C / SIGTERM. The app processes' pids
# are in RUN/app.pids (comma-separated: serve_bench.py --pids "$(cat RUN/app.pids)").
# Environment: PYTHON (default python), NICE (niceness of the app processes, default 0), BML_LISTEN, BML_RUN_DIR,
# STREAMLIT_* (passed to every process; one shared server.cookieSecret is generated unless you set one).
set -euo pipefail

N=${1:-2}
PORT=${2:-8600}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python}
NICE=${NICE:-0}
LISTEN=${BML_LISTEN:-127.0.0.1:$PORT}
RUN=${BML_RUN_DIR:-$(mktemp -d /tmp/bml-serve.XXXXXX)}
mkdir -p "$RUN/tmp"
command -v nginx >/dev/null || { echo "error: nginx is not installed (Debian: apt-get install nginx)" >&2; exit 2; }
# Every process must sign cookies alike (st.login and friends), whichever process a browser lands on.
export STREAMLIT_SERVER_COOKIE_SECRET=${STREAMLIT_SERVER_COOKIE_SECRET:-$("$PYTHON" -c 'import secrets; print(secrets.token_hex(32))')}

pids=()
nginx_pid=""
cleanup() {
  trap - EXIT INT TERM
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

for i in $(seq 1 "$N"); do
  p=$((PORT + i))
  (cd "$ROOT" && exec nice -n "$NICE" "$PYTHON" -m streamlit run streamlit_app.py --server.port "$p" \
      --server.address 127.0.0.1 --server.headless true) >"$RUN/app$i.log" 2>&1 &
  pids+=("$!")
done

# nginx.conf with this run's upstream list and listen address
ups=""
for i in $(seq 1 "$N"); do ups+="        server 127.0.0.1:$((PORT + i));"$'\n'; done
awk -v ups="$ups" -v listen="$LISTEN" '
  /# BEGIN upstreams/ { print; printf "%s", ups; skip = 1; next }
  /# END upstreams/   { skip = 0 }
  skip { next }
  /^ *listen / { sub(/listen [^;]*;/, "listen " listen ";") }
  { print }' "$ROOT/deploy/nginx.conf" >"$RUN/nginx.conf"

"$PYTHON" - "$PORT" "$N" <<'PY'
import sys, time, urllib.request
port, n = int(sys.argv[1]), int(sys.argv[2])
deadline = time.time() + 180
for i in range(1, n + 1):
    url = f"http://127.0.0.1:{port + i}/_stcore/health"
    while True:
        try:
            if urllib.request.urlopen(url, timeout=2).read().strip() == b"ok":
                break
        except OSError:
            pass
        if time.time() > deadline:
            sys.exit(f"error: {url} not healthy after 180 s")
        time.sleep(0.3)
PY

nginx -p "$RUN" -c "$RUN/nginx.conf" &
nginx_pid=$!
(IFS=,; echo "${pids[*]}") >"$RUN/app.pids"
echo "$nginx_pid" >"$RUN/nginx.pid.outer"
echo "serving http://$LISTEN  ($N app processes: $(cat "$RUN/app.pids"); nginx $nginx_pid; run dir $RUN)"
wait "$nginx_pid"
