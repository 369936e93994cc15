#!/usr/bin/env bash
# A throwaway Ceph radosgw (a real S3 server) on loopback for the S3 tests and benchmark.
#
#   tests/services/radosgw.sh start   # start (or reuse) it; prints the environment to use
#   tests/services/radosgw.sh env     # print the environment only
#   tests/services/radosgw.sh stop    # stop it and delete its data
#
# One monitor, one memstore OSD (objects live in memory), pools of size 1, and radosgw's
# beast frontend on 127.0.0.1:$THUNDERLINE_RADOSGW_PORT (default 7480). Authentication inside
# the cluster is off (loopback only); S3 requests are signed with the fixed test users below.
# Needs the Debian packages radosgw, ceph-mon and ceph-osd (installed by .ci/run).
# Every step is idempotent: `start` on a running server only prints the environment.
set -euo pipefail

PORT="${THUNDERLINE_RADOSGW_PORT:-7480}"
DIR="${THUNDERLINE_RADOSGW_DIR:-${TMPDIR:-/tmp}/thunderline-radosgw-$PORT}"
CONF="$DIR/ceph.conf"
ENDPOINT="http://127.0.0.1:$PORT"
# Fixed credentials of throwaway test users on a loopback-only server: not secrets.
ACCESS_KEY="thunderline-test"
SECRET_KEY="thunderline-test-secret"
OTHER_ACCESS_KEY="thunderline-other"
OTHER_SECRET_KEY="thunderline-other-secret"

say() { printf 'radosgw: %s\n' "$*" >&2; }

print_env() {
  cat <<EOF
export AWS_ENDPOINT_URL=$ENDPOINT
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export AWS_REGION=us-east-1
export THUNDERLINE_S3_PATH_STYLE=true
export THUNDERLINE_TEST_S3_OTHER_ACCESS_KEY=$OTHER_ACCESS_KEY
export THUNDERLINE_TEST_S3_OTHER_SECRET_KEY=$OTHER_SECRET_KEY
EOF
}

answers() { curl -s -o /dev/null --max-time 2 "$ENDPOINT/"; }

require_binaries() {
  local missing=()
  for bin in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph; do
    command -v "$bin" >/dev/null || missing+=("$bin")
  done
  if ((${#missing[@]})); then
    say "missing ${missing[*]}: apt-get install radosgw ceph-mon ceph-osd"
    exit 3
  fi
}

write_conf() {
  mkdir -p "$DIR"/{mon/a,osd/0,run,log,rgw}
  cat >"$CONF" <<EOF
[global]
fsid = $(cat /proc/sys/kernel/random/uuid)
mon host = [v2:127.0.0.1:3300,v1:127.0.0.1:6789]
mon initial members = a
public network = 127.0.0.1/32
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms client mode = crc
osd objectstore = memstore
memstore device bytes = 6442450944
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool delete = true
mon warn on pool no redundancy = false
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
pid file = $DIR/run/\$name.pid
log file = $DIR/log/\$name.log
[mon.a]
mon data = $DIR/mon/a
[osd.0]
osd data = $DIR/osd/0
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $DIR/rgw
# Reclaim deleted and overwritten objects within seconds (default: hours), so repeated
# benchmark uploads do not fill the in-memory OSD.
rgw gc obj min wait = 0
rgw gc processor period = 5
rgw gc processor max time = 5
EOF
}

start_mon() {
  local fsid
  fsid=$(sed -n 's/^fsid = //p' "$CONF")
  monmaptool --create --clobber --fsid "$fsid" \
    --addv a '[v2:127.0.0.1:3300,v1:127.0.0.1:6789]' "$DIR/monmap" >/dev/null
  ceph-authtool --create-keyring "$DIR/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/mon.keyring"
  ceph-mon -c "$CONF" -i a 2>>"$DIR/log/startup.log" 9>&-
}

start_osd() {
  local uuid id
  uuid=$(cat /proc/sys/kernel/random/uuid)
  id=$(ceph -c "$CONF" osd new "$uuid")
  ceph-osd -c "$CONF" -i "$id" --mkfs --osd-uuid "$uuid" >/dev/null 2>&1
  ceph-osd -c "$CONF" -i "$id" 2>>"$DIR/log/startup.log" 9>&-
}

admin() { radosgw-admin -c "$CONF" -n client.rgw.a --admin-socket='' "$@"; }

create_user() {  # uid access secret
  admin user info --uid="$1" >/dev/null 2>&1 && return
  admin user create --uid="$1" --display-name="$1" --access-key="$2" --secret="$3" >/dev/null
}

wait_until_answers() {
  for _ in $(seq 120); do answers && return; sleep 0.5; done
  say "radosgw did not answer on $ENDPOINT; logs in $DIR/log"
  exit 1
}

start() {
  if answers; then print_env; return; fi
  require_binaries
  if [[ -e "$DIR/run/mon.a.pid" ]]; then stop_daemons; fi
  rm -rf "$DIR"
  write_conf
  say "starting a monitor, a memstore OSD and radosgw under $DIR"
  start_mon
  start_osd
  radosgw -c "$CONF" -n client.rgw.a 2>>"$DIR/log/startup.log" 9>&-
  wait_until_answers
  create_user thunderline "$ACCESS_KEY" "$SECRET_KEY"
  create_user thunderline-other "$OTHER_ACCESS_KEY" "$OTHER_SECRET_KEY"
  say "ready on $ENDPOINT"
  print_env
}

stop_daemons() {
  local pidfile pid
  for name in client.rgw.a osd.0 mon.a; do
    pidfile="$DIR/run/$name.pid"
    [[ -f "$pidfile" ]] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

stop() {
  [[ -d "$DIR" ]] || return 0
  stop_daemons
  rm -rf "$DIR"
  say "stopped"
}

# One start or stop at a time: test sessions running side by side share this server.
# The daemons are started with fd 9 closed, so they do not hold the lock.
locked() {
  exec 9>"$DIR.lock"
  flock 9
  "$@"
}

case "${1:-}" in
  start) locked start ;;
  stop) locked stop ;;
  env) print_env ;;
  *)
    echo "usage: $0 start|stop|env" >&2
    exit 2
    ;;
esac
