#!/usr/bin/env bash
# spor local stack: a real single-node Kafka (KRaft) and a real Elasticsearch on 127.0.0.1.
#
#   stack/stack.sh up     [kafka|es|all]   download once, start, wait until ready (default: all)
#   stack/stack.sh down   [kafka|es|all]   stop by pid (SIGTERM, SIGKILL after 30 s); data is kept
#   stack/stack.sh status [kafka|es|all]   one line per service; exit 0 if all running, 3 if not
#   stack/stack.sh wipe   [kafka|es|all]   down, then delete the instance state (never the cache)
#   stack/stack.sh paths                    print KAFKA_LIB, ES_HOME and ES_JAVA_HOME (for tools on their jars)
#
# Environment (all optional):
#   SPOR_CACHE_DIR   downloads shared by every instance         (default <repo>/.spor/cache)
#   SPOR_STACK_DIR   state of this instance: kafka/, es/         (default <repo>/.spor/stack)
#   SPOR_KAFKA_PORT (9092) SPOR_KAFKA_CONTROLLER_PORT (9093) SPOR_KAFKA_HEAP (512m)
#   SPOR_KAFKA_SASL_PORT (9094)  the SASL_SSL listener (SCRAM-SHA-512/256, PLAIN; TLS from a local CA)
#   SPOR_ES_PORT (9200) SPOR_ES_TRANSPORT_PORT (9300) SPOR_ES_HEAP (512m)
#   SPOR_KAFKA_BROKERS / SPOR_ES_URL   use an external service: up/down leave it alone
#   SPOR_ES_JAVA_HOME or ES_JAVA_HOME  JDK >= 21 for Elasticsearch (found under /usr/lib/jvm if unset)
#   JAVA_HOME                          JDK >= 17 for Kafka (default: `java` on PATH)
#   SPOR_STACK_TIMEOUT                 seconds to wait for readiness (default 120)
#
# Several instances can run side by side: point SPOR_STACK_DIR elsewhere and pick other ports.
# No Docker and no OS packages: both services come from Maven Central through `mvn` (see
# /work/shared/DESIGN.md, "The local stack").
set -euo pipefail

KAFKA_VERSION=4.4.0
LOG4J_VERSION=2.24.3
ES_VERSION=9.5.0
ES_USER=spor                # Elasticsearch refuses to run as root; CI runs as root
KAFKA_MIN_JAVA=17
ES_MIN_JAVA=21
STOP_TIMEOUT=30

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)     # .../stack
REPO_DIR=$(cd "$SRC_DIR/.." && pwd)
# Where state lives by default: <repo>/.spor. As root, Elasticsearch runs as another user, who
# must be able to traverse every parent directory; a clone under a private folder (e.g. /root)
# falls back to a per-clone folder under /var/tmp instead of failing. That name is predictable
# and /var/tmp is writable by everyone, so the folder is only used when this script created it
# (ensure_state_dir below): one made by someone else first is refused, never trusted.
default_state_dir() {
  local dir=$REPO_DIR
  if [[ $(id -u) -eq 0 ]]; then
    while [[ $dir != / ]]; do
      if [[ $(( 0$(stat -c %a "$dir") & 1 )) -eq 0 ]]; then
        echo "/var/tmp/spor-$(printf %s "$REPO_DIR" | md5sum | cut -c1-12)"
        return
      fi
      dir=$(dirname "$dir")
    done
  fi
  echo "$REPO_DIR/.spor"
}
STATE_DIR=$(default_state_dir)
# Absolute paths: the ES process runs as another user from another working directory.
CACHE_DIR=$(realpath -m "${SPOR_CACHE_DIR:-$STATE_DIR/cache}")
STACK_DIR=$(realpath -m "${SPOR_STACK_DIR:-$STATE_DIR/stack}")
READY_TIMEOUT=${SPOR_STACK_TIMEOUT:-120}

KAFKA_PORT=${SPOR_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${SPOR_KAFKA_CONTROLLER_PORT:-9093}
KAFKA_SASL_PORT=${SPOR_KAFKA_SASL_PORT:-9094}
KAFKA_HEAP=${SPOR_KAFKA_HEAP:-512m}
ES_PORT=${SPOR_ES_PORT:-9200}
ES_TRANSPORT_PORT=${SPOR_ES_TRANSPORT_PORT:-9300}
ES_HEAP=${SPOR_ES_HEAP:-512m}

KAFKA_LIB=$CACHE_DIR/kafka/lib
KAFKA_DIR=$STACK_DIR/kafka
# The secured listener's material: CA and broker keystores, the CA certificate for clients, and
# client.env with the SCRAM/PLAIN user (SPOR_KAFKA_* lines). Private to this instance.
KAFKA_TLS_DIR=$KAFKA_DIR/tls
KAFKA_SASL_USER=spor
ES_HOME=$CACHE_DIR/es/elasticsearch-$ES_VERSION
ES_DIR=$STACK_DIR/es

# Printed by KafkaRaftServer once the broker is unfenced and its listeners accept requests.
KAFKA_READY_LINE='Kafka Server started (kafka.server.KafkaRaftServer)'

# ---------------------------------------------------------------------------------------------
# small helpers

say() { printf 'spor stack: %s\n' "$*"; }
die() { printf 'spor stack: error: %s\n' "$*" >&2; exit 1; }

need_cmd() { # need_cmd NAME WHY
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not on PATH; it is needed $2"
}

is_root() { [[ $(id -u) -eq 0 ]]; }

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# True if something accepts TCP connections on 127.0.0.1:PORT. bash's /dev/tcp avoids needing nc;
# `timeout` guards against a listener whose backlog is full.
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# Name the process that holds a port, when ss can tell (it needs privileges for other users).
port_owner() {
  command -v ss >/dev/null 2>&1 || return 0
  ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))$/ (held by \1)/p' | head -n1
}

die_port_taken() { # die_port_taken PORT VARNAME WHAT
  die "port $1 ($3) is already in use by another process$(port_owner "$1"); stop it or set $2 to a free port"
}

# The pid in PIDFILE, if that process is alive and its command line contains MARKER (guards
# against a recycled pid after a reboot or a crash). Prints the pid; fails otherwise.
# (Pipelines here avoid `grep -q`: with pipefail an early-exiting grep can fail the pipeline.)
live_pid() { # live_pid PIDFILE MARKER
  local pid cmdline
  [[ -s $1 ]] || return 1
  pid=$(tr -dc '0-9' <"$1")
  [[ -n $pid && -r /proc/$pid/cmdline ]] || return 1
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmdline == *"$2"* ]] || return 1
  echo "$pid"
}

# State folders (cache, instance state) hold jars and configs that are run, as root when the
# script runs as root: they must be ours. A folder is accepted when it is a real directory (not a
# symlink), owned by the current user and writable by nobody else; one whose parent is writable
# by others (e.g. /var/tmp) must in addition carry the marker this script leaves when it creates
# it, so a folder planted there in advance under the predictable name is refused.
STATE_MARKER=.spor-state-dir
world_writable() { [[ $(( 0$(stat -c %a "$1") & 2 )) -ne 0 ]]; }
ensure_state_dir() { # ensure_state_dir DIR
  local dir=$1 parent uid
  parent=$(dirname "$dir")
  uid=$(id -u)
  if [[ ! -e $dir && ! -L $dir ]]; then
    [[ -d $parent ]] || ensure_state_dir "$parent"
    # mkdir without -p fails if someone created it in between: then the checks below decide.
    if mkdir -m 0755 "$dir" 2>/dev/null; then
      world_writable "$parent" && : >"$dir/$STATE_MARKER"
      return 0
    fi
  fi
  [[ ! -L $dir ]] || die "refusing state folder $dir: it is a symbolic link"
  [[ -d $dir ]] || die "refusing state folder $dir: not a directory"
  [[ $(stat -c %u "$dir") -eq $uid ]] ||
    die "refusing state folder $dir: owned by $(stat -c %U "$dir"), not by $(id -un); remove it or point SPOR_CACHE_DIR / SPOR_STACK_DIR elsewhere"
  [[ $(( 0$(stat -c %a "$dir") & 022 )) -eq 0 ]] ||
    die "refusing state folder $dir: writable by group or others (mode $(stat -c %a "$dir"))"
  if world_writable "$parent"; then
    [[ -f $dir/$STATE_MARKER && ! -L $dir/$STATE_MARKER && $(stat -c %u "$dir/$STATE_MARKER") -eq $uid ]] ||
      die "refusing state folder $dir: it is in a folder anyone can write to and was not created by spor stack; remove it"
  fi
}

# Serialise concurrent calls (parallel test files may all run `up`): one lock per instance and
# service, one for the shared cache. take_lock VAR FILE stores the fd in VAR.
# Every child we start must close these fds (close_lock_fds), or a long-running Kafka/ES would
# inherit the open file and keep the lock held for ever.
LOCK_FDS=()
take_lock() { # take_lock VAR FILE
  local fd
  mkdir -p "$(dirname "$2")"
  # Never through a symlink: opening one for writing would create or truncate its target (as root).
  # The folder is ours and not writable by others (ensure_state_dir), so the check cannot race.
  [[ ! -L $2 ]] || die "refusing lock file $2: it is a symbolic link"
  exec {fd}>>"$2"
  flock -w 600 "$fd" || die "timed out waiting for lock $2"
  printf -v "$1" '%s' "$fd"
  LOCK_FDS+=("$fd")
}
drop_lock() { # drop_lock FD
  flock -u "$1" || true
  eval "exec $1>&-"
}
close_lock_fds() {
  local fd
  for fd in "${LOCK_FDS[@]}"; do eval "exec $fd>&-" 2>/dev/null || true; done
}

# Major version of a java binary ("17.0.15" -> 17, "1.8.0" -> 1, which is < 17 as intended).
java_major() {
  local out
  out=$("$1" -version 2>&1) || return 0
  sed -n 's/.* version "\([0-9]*\).*/\1/p' <<<"$out" | sed -n 1p
}

# For start-up failures: the last lines a log got since byte offset FROM (logs are appended
# across restarts; older runs would only mislead).
show_log() { # show_log FILE [FROM]
  local f=$1 from=${2:-0} text
  [[ -s $f ]] || return 0
  text=$(tail -c +"$((from + 1))" "$f" | tail -n 30)
  [[ -n $text ]] || return 0
  printf -- '----- %s -----\n%s\n' "$f" "$text" >&2
}

file_size() { stat -c %s "$1" 2>/dev/null || echo 0; }

# Send SIGTERM, wait up to STOP_TIMEOUT s, then SIGKILL. Both services shut down cleanly on TERM.
stop_pid() { # stop_pid PID NAME
  local pid=$1 name=$2 waited=0
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null; do
    if ((waited >= STOP_TIMEOUT * 5)); then
      say "$name (pid $pid) did not stop within ${STOP_TIMEOUT} s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
    waited=$((waited + 1))
  done
}

# A start that failed or timed out must not leave a half-started server behind (a later `up`
# would race it for the data dir). Both services are launched with setsid, so the launcher's pid
# is also the process group of everything it started (for ES: the CLI and the server JVM).
stop_group() { # stop_group PGID NAME
  local pgid=$1 waited=0
  kill -TERM -- "-$pgid" 2>/dev/null || return 0
  say "stopping the $2 start-up (process group $pgid)"
  while kill -0 -- "-$pgid" 2>/dev/null; do
    if ((waited >= STOP_TIMEOUT * 5)); then
      kill -KILL -- "-$pgid" 2>/dev/null || true
      break
    fi
    sleep 0.2
    waited=$((waited + 1))
  done
}

# ---------------------------------------------------------------------------------------------
# Kafka

kafka_java() {
  local java
  if [[ -n ${JAVA_HOME:-} ]]; then
    java=$JAVA_HOME/bin/java
    [[ -x $java ]] || die "JAVA_HOME=$JAVA_HOME has no bin/java"
  else
    need_cmd java "to run Kafka (install a JDK >= $KAFKA_MIN_JAVA or set JAVA_HOME)"
    java=$(command -v java)
  fi
  local major
  major=$(java_major "$java")
  [[ -n $major && $major -ge $KAFKA_MIN_JAVA ]] ||
    die "Kafka $KAFKA_VERSION needs Java >= $KAFKA_MIN_JAVA but $java is version ${major:-unknown}; set JAVA_HOME"
  echo "$java"
}

# The broker as plain jars: `mvn dependency:copy-dependencies` on stack/kafka/pom.xml. A marker
# file records the versions so a version bump here re-downloads.
kafka_fetch() {
  local marker=$KAFKA_LIB/.spor-complete want="kafka $KAFKA_VERSION log4j $LOG4J_VERSION"
  [[ -f $marker && $(<"$marker") == "$want" ]] && return 0
  local lock
  take_lock lock "$CACHE_DIR/.lock"
  if [[ ! -f $marker || $(<"$marker") != "$want" ]]; then
    need_cmd mvn "to download Kafka jars from Maven Central (or ~/.m2)"
    say "downloading Kafka $KAFKA_VERSION jars into $KAFKA_LIB…"
    local tmp=$CACHE_DIR/kafka/lib.tmp.$$ log=$CACHE_DIR/kafka/mvn.log
    rm -rf "$tmp" && mkdir -p "$tmp"
    # Output goes to a file: mvn -q still writes terminal colour codes, and we only need it on error.
    if ! mvn -q -B -f "$SRC_DIR/kafka/pom.xml" dependency:copy-dependencies \
      -Dkafka.version="$KAFKA_VERSION" -Dlog4j.version="$LOG4J_VERSION" \
      -DoutputDirectory="$tmp" -DincludeScope=runtime >"$log" 2>&1; then
      rm -rf "$tmp"
      show_log "$log"
      die "mvn could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION (log: $log)"
    fi
    echo "$want" >"$tmp/.spor-complete"
    rm -rf "$KAFKA_LIB" && mv "$tmp" "$KAFKA_LIB"      # atomic: a half download never counts
    say "kafka: $(find "$KAFKA_LIB" -name '*.jar' | wc -l) jars ready"
  fi
  drop_lock "$lock"
}

# A local CA and a broker certificate it signs (SAN localhost and 127.0.0.1), made once with the
# JDK's keytool, plus the SCRAM/PLAIN password and client.env that tests and users read.
kafka_tls_once() { # kafka_tls_once JAVA
  [[ -f $KAFKA_TLS_DIR/client.env && -f $KAFKA_TLS_DIR/broker.p12 ]] && return 0
  local keytool pass user_pass tmp log
  keytool=$(dirname "$1")/keytool
  [[ -x $keytool ]] || keytool=$(command -v keytool) || die "keytool (from the JDK) is needed for the SASL_SSL listener's certificates"
  tmp=$KAFKA_TLS_DIR.tmp.$$
  log=$KAFKA_DIR/logs/keytool.out
  rm -rf "$tmp" && mkdir -p "$tmp" "$KAFKA_DIR/logs"
  chmod 700 "$tmp"
  pass=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
  user_pass=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
  say "kafka: making a local CA and the SASL_SSL listener's certificate (keytool)"
  {
    "$keytool" -genkeypair -alias ca -dname "CN=spor local test CA" -ext bc:c -keyalg RSA -keysize 2048 \
      -validity 3650 -keystore "$tmp/ca.p12" -storetype PKCS12 -storepass "$pass" &&
      "$keytool" -exportcert -rfc -alias ca -keystore "$tmp/ca.p12" -storepass "$pass" -file "$tmp/ca.pem" &&
      "$keytool" -genkeypair -alias broker -dname "CN=localhost" -keyalg RSA -keysize 2048 -validity 3650 \
        -keystore "$tmp/broker.p12" -storetype PKCS12 -storepass "$pass" &&
      "$keytool" -certreq -alias broker -keystore "$tmp/broker.p12" -storepass "$pass" -file "$tmp/broker.csr" &&
      "$keytool" -gencert -alias ca -keystore "$tmp/ca.p12" -storepass "$pass" -infile "$tmp/broker.csr" \
        -outfile "$tmp/broker.pem" -rfc -validity 3650 -ext SAN=dns:localhost,ip:127.0.0.1 \
        -ext KU=digitalSignature,keyEncipherment -ext EKU=serverAuth &&
      "$keytool" -importcert -noprompt -alias ca -file "$tmp/ca.pem" -keystore "$tmp/broker.p12" -storepass "$pass" &&
      "$keytool" -importcert -noprompt -alias broker -file "$tmp/broker.pem" -keystore "$tmp/broker.p12" -storepass "$pass"
  } >"$log" 2>&1 || { show_log "$log"; rm -rf "$tmp"; die "keytool could not make the SASL_SSL certificates"; }
  printf '%s\n' "$pass" >"$tmp/keystore.password"
  {
    echo "# The local broker's SASL_SSL listener (stack/stack.sh); source it to point spor there."
    echo "SPOR_KAFKA_SECURITY_PROTOCOL=SASL_SSL"
    echo "SPOR_KAFKA_SASL_MECHANISM=SCRAM-SHA-512"
    echo "SPOR_KAFKA_SASL_USERNAME=$KAFKA_SASL_USER"
    echo "SPOR_KAFKA_SASL_PASSWORD=$user_pass"
    echo "SPOR_KAFKA_SSL_CA_FILE=$KAFKA_TLS_DIR/ca.pem"
  } >"$tmp/client.env"
  rm -f "$tmp/broker.csr" "$tmp/broker.pem"
  rm -rf "$KAFKA_TLS_DIR" && mv "$tmp" "$KAFKA_TLS_DIR"
}

kafka_sasl_password() { sed -n 's/^SPOR_KAFKA_SASL_PASSWORD=//p' "$KAFKA_TLS_DIR/client.env"; }

# Regenerated on every start so the port variables always take effect.
kafka_write_config() {
  mkdir -p "$KAFKA_DIR/data" "$KAFKA_DIR/logs"
  local config=$KAFKA_DIR/server.properties
  sed -e "s|@PORT@|$KAFKA_PORT|g" \
    -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
    -e "s|@SASL_PORT@|$KAFKA_SASL_PORT|g" \
    -e "s|@DATA_DIR@|$KAFKA_DIR/data|g" \
    -e "s|@TLS_DIR@|$KAFKA_TLS_DIR|g" \
    -e "s|@SASL_USER@|$KAFKA_SASL_USER|g" \
    -e "s|@SASL_PASSWORD@|$(kafka_sasl_password)|g" \
    -e "s|@KEYSTORE_PASSWORD@|$(<"$KAFKA_TLS_DIR/keystore.password")|g" \
    "$SRC_DIR/kafka/server.properties.tmpl" >"$config.tmp"
  chmod 600 "$config.tmp" # it holds the PLAIN password and the keystore password
  mv "$config.tmp" "$config"
}

# KRaft refuses to start on an unformatted log dir; formatting again would wipe the cluster id,
# so only the first start formats (meta.properties is what `format` writes).
kafka_format_once() { # kafka_format_once JAVA
  [[ -f $KAFKA_DIR/data/meta.properties ]] && return 0
  local cluster_id
  cluster_id=$("$1" -cp "$KAFKA_LIB/*" kafka.tools.StorageTool random-uuid 2>"$KAFKA_DIR/logs/format.out")
  say "kafka: formatting new KRaft storage (cluster id $cluster_id)"
  local password
  password=$(kafka_sasl_password)
  # The SCRAM users of the SASL_SSL listener are part of the formatted metadata.
  "$1" -cp "$KAFKA_LIB/*" -Dlog4j2.configurationFile="$SRC_DIR/kafka/log4j2.properties" \
    -Dkafka.logs.dir="$KAFKA_DIR/logs" \
    kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_DIR/server.properties" \
    --add-scram "SCRAM-SHA-512=[name=$KAFKA_SASL_USER,password=$password]" \
    --add-scram "SCRAM-SHA-256=[name=$KAFKA_SASL_USER,password=$password]" \
    >>"$KAFKA_DIR/logs/format.out" 2>&1 ||
    { show_log "$KAFKA_DIR/logs/format.out"; die "kafka storage format failed"; }
  echo "$cluster_id" >"$KAFKA_DIR/cluster.id"
  touch "$KAFKA_TLS_DIR/.scram-users"
}

# A storage formatted before the SASL_SSL listener existed has no SCRAM users: add them once
# through the admin API on the plaintext listener (stack/kafka/ScramUsers.java).
kafka_scram_users_once() { # kafka_scram_users_once JAVA
  [[ -f $KAFKA_TLS_DIR/.scram-users ]] && return 0
  say "kafka: adding the SCRAM users of the SASL_SSL listener to existing storage"
  SPOR_SCRAM_PASSWORD=$(kafka_sasl_password) "$1" -cp "$KAFKA_LIB/*" \
    -Dlog4j2.configurationFile="$SRC_DIR/kafka/log4j2.properties" -Dkafka.logs.dir="$KAFKA_DIR/logs" \
    "$SRC_DIR/kafka/ScramUsers.java" "127.0.0.1:$KAFKA_PORT" "$KAFKA_SASL_USER" \
    >>"$KAFKA_DIR/logs/scram.out" 2>&1 ||
    { show_log "$KAFKA_DIR/logs/scram.out"; die "could not add the SCRAM users"; }
  touch "$KAFKA_TLS_DIR/.scram-users"
}

# Starts the broker detached (own session, so Ctrl-C or a test runner killing its process group
# does not take Kafka down) and writes the pid file.
kafka_start() { # kafka_start JAVA
  local java=$1
  (
    close_lock_fds
    cd "$KAFKA_DIR"
    # In a subshell without job control the child is not a group leader, so setsid execs in place
    # and $! below is the JVM's own pid.
    exec setsid nohup "$java" -Xmx"$KAFKA_HEAP" -Xms"$KAFKA_HEAP" \
      -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$SRC_DIR/kafka/log4j2.properties" \
      -Dkafka.logs.dir="$KAFKA_DIR/logs" \
      -cp "$KAFKA_LIB/*" kafka.Kafka "$KAFKA_DIR/server.properties" \
      >"$KAFKA_DIR/logs/kafka.out" 2>&1 </dev/null
  ) &
  echo $! >"$KAFKA_DIR/pid"
}

# Ready = the broker logged KAFKA_READY_LINE after byte offset FROM of server.log (older
# "started" lines must not count) and the port accepts.
kafka_wait_ready() { # kafka_wait_ready PID FROM
  local pid=$1 from=$2 log=$KAFKA_DIR/logs/server.log deadline=$((SECONDS + READY_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      show_log "$KAFKA_DIR/logs/kafka.out"
      show_log "$log" "$from"
      rm -f "$KAFKA_DIR/pid"
      die "kafka exited during start-up (logs: $KAFKA_DIR/logs)"
    fi
    # log4j rolls server.log at start-up (and at 20 MB): a file now shorter than FROM is new.
    [[ -f $log ]] && (($(file_size "$log") < from)) && from=0
    if [[ -f $log ]] && tail -c +"$((from + 1))" "$log" | grep -F "$KAFKA_READY_LINE" >/dev/null &&
      port_open "$KAFKA_PORT"; then
      return 0
    fi
    sleep 0.2
  done
  show_log "$KAFKA_DIR/logs/kafka.out"
  show_log "$log" "$from"
  stop_group "$pid" kafka
  rm -f "$KAFKA_DIR/pid"
  die "kafka not ready on 127.0.0.1:$KAFKA_PORT after ${READY_TIMEOUT} s (SPOR_STACK_TIMEOUT); see $KAFKA_DIR/logs"
}

kafka_pid() { live_pid "$KAFKA_DIR/pid" " $KAFKA_DIR/server.properties"; }

kafka_up() {
  if [[ -n ${SPOR_KAFKA_BROKERS:-} ]]; then
    say "kafka is external (SPOR_KAFKA_BROKERS=$SPOR_KAFKA_BROKERS); not starting a local broker"
    return 0
  fi
  local lock
  take_lock lock "$STACK_DIR/.kafka.lock"
  local pid t0
  if pid=$(kafka_pid); then
    if ! port_open "$KAFKA_PORT"; then   # alive but not listening yet (or hung): give it the timeout
      say "kafka (pid $pid) is running but 127.0.0.1:$KAFKA_PORT does not answer yet; waiting…"
      local deadline=$((SECONDS + READY_TIMEOUT))
      until port_open "$KAFKA_PORT"; do
        ((SECONDS < deadline)) || die "kafka (pid $pid) does not answer on 127.0.0.1:$KAFKA_PORT; see $KAFKA_DIR/logs, or run stack.sh down kafka"
        sleep 0.5
      done
    fi
    # Started by an older stack.sh (or stopped midway): the SASL_SSL users may still be missing.
    [[ -f $KAFKA_TLS_DIR/client.env ]] && kafka_scram_users_once "$(kafka_java)"
    say "kafka already running on 127.0.0.1:$KAFKA_PORT (pid $pid)"
    drop_lock "$lock"
    return 0
  fi
  [[ -f $KAFKA_DIR/pid ]] && { say "kafka: removing stale pid file"; rm -f "$KAFKA_DIR/pid"; }
  port_open "$KAFKA_PORT" && die_port_taken "$KAFKA_PORT" SPOR_KAFKA_PORT "kafka broker"
  port_open "$KAFKA_CONTROLLER_PORT" &&
    die_port_taken "$KAFKA_CONTROLLER_PORT" SPOR_KAFKA_CONTROLLER_PORT "kafka controller"
  port_open "$KAFKA_SASL_PORT" && die_port_taken "$KAFKA_SASL_PORT" SPOR_KAFKA_SASL_PORT "kafka SASL_SSL listener"

  local java from
  java=$(kafka_java)
  kafka_fetch
  kafka_tls_once "$java"
  kafka_write_config
  kafka_format_once "$java"
  from=$(file_size "$KAFKA_DIR/logs/server.log")
  say "starting kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT…"
  t0=$(now)
  kafka_start "$java"
  pid=$(<"$KAFKA_DIR/pid")
  kafka_wait_ready "$pid" "$from"
  kafka_scram_users_once "$java"
  say "kafka up on 127.0.0.1:$KAFKA_PORT, SASL_SSL on 127.0.0.1:$KAFKA_SASL_PORT (pid $pid) in $(since "$t0") s"
  drop_lock "$lock"
}

kafka_down() {
  if [[ -n ${SPOR_KAFKA_BROKERS:-} ]]; then
    say "kafka is external (SPOR_KAFKA_BROKERS=$SPOR_KAFKA_BROKERS); nothing to stop"
    return 0
  fi
  local lock
  take_lock lock "$STACK_DIR/.kafka.lock"
  local pid
  if pid=$(kafka_pid); then
    say "stopping kafka (pid $pid)…"
    stop_pid "$pid" kafka
    say "kafka stopped"
  else
    say "kafka is not running"
  fi
  rm -f "$KAFKA_DIR/pid"
  drop_lock "$lock"
}

kafka_status() { # returns 0 if running
  local pid first
  if [[ -n ${SPOR_KAFKA_BROKERS:-} ]]; then
    first=${SPOR_KAFKA_BROKERS%%,*}
    first=${first#*://}
    if timeout 3 bash -c "exec 3<>/dev/tcp/${first%:*}/${first##*:}" 2>/dev/null; then
      echo "kafka: external, reachable ($SPOR_KAFKA_BROKERS)"
      return 0
    fi
    echo "kafka: external, NOT reachable ($SPOR_KAFKA_BROKERS)"
    return 1
  fi
  if pid=$(kafka_pid) && port_open "$KAFKA_PORT"; then
    echo "kafka: running pid $pid 127.0.0.1:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT) version $KAFKA_VERSION dir $KAFKA_DIR"
    return 0
  elif [[ -n ${pid:-} ]]; then
    echo "kafka: starting pid $pid 127.0.0.1:$KAFKA_PORT (not answering yet) dir $KAFKA_DIR"
    return 1
  fi
  echo "kafka: stopped 127.0.0.1:$KAFKA_PORT dir $KAFKA_DIR"
  return 1
}

# ---------------------------------------------------------------------------------------------
# Elasticsearch

# Elasticsearch 9 needs Java >= 21; the machine's default is 17, so find a newer JDK.
es_java_home() {
  local var home major best="" best_major=0 java
  for var in SPOR_ES_JAVA_HOME ES_JAVA_HOME; do
    home=${!var:-}
    [[ -n $home ]] || continue
    [[ -x $home/bin/java ]] || die "$var=$home has no bin/java"
    major=$(java_major "$home/bin/java")
    [[ -n $major && $major -ge $ES_MIN_JAVA ]] ||
      die "$var=$home is Java ${major:-unknown}; Elasticsearch $ES_VERSION needs >= $ES_MIN_JAVA"
    echo "$home"
    return 0
  done
  # Otherwise: JAVA_HOME, the java on PATH, then every JDK under /usr/lib/jvm; newest wins.
  for java in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java 2>/dev/null || true)" /usr/lib/jvm/*/bin/java; do
    [[ -n $java && -x $java ]] || continue
    java=$(readlink -f "$java")
    major=$(java_major "$java")
    if [[ -n $major ]] && ((major >= ES_MIN_JAVA && major > best_major)); then
      best=${java%/bin/java}
      best_major=$major
    fi
  done
  [[ -n $best ]] ||
    die "no JDK >= $ES_MIN_JAVA found (looked at JAVA_HOME, PATH and /usr/lib/jvm); Elasticsearch $ES_VERSION needs one: set SPOR_ES_JAVA_HOME (or ES_JAVA_HOME) to its directory"
  echo "$best"
}

# The integ-test-zip distribution (no bundled JDK, minimal modules) from Maven Central, unzipped.
# The zip itself stays in ~/.m2 only.
es_fetch() {
  [[ -x $ES_HOME/bin/elasticsearch && -f $ES_HOME/.spor-complete ]] && return 0
  local lock
  take_lock lock "$CACHE_DIR/.lock"
  if [[ ! -f $ES_HOME/.spor-complete ]]; then
    need_cmd mvn "to download Elasticsearch from Maven Central (or ~/.m2)"
    need_cmd unzip "to unpack the Elasticsearch distribution"
    say "downloading Elasticsearch $ES_VERSION (130 MB, once)…"
    local tmp=$CACHE_DIR/es/download.tmp.$$ log=$CACHE_DIR/es/mvn.log
    rm -rf "$tmp" && mkdir -p "$tmp"
    if ! mvn -q -B -f "$SRC_DIR/kafka/pom.xml" dependency:copy \
      -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" \
      -DoutputDirectory="$tmp" >"$log" 2>&1; then
      rm -rf "$tmp"
      show_log "$log"
      die "mvn could not fetch org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip (log: $log)"
    fi
    say "unpacking Elasticsearch $ES_VERSION…"
    unzip -q "$tmp/elasticsearch-$ES_VERSION.zip" -d "$tmp" || die "unzip of elasticsearch-$ES_VERSION.zip failed"
    touch "$tmp/elasticsearch-$ES_VERSION/.spor-complete"
    rm -rf "$ES_HOME" && mv "$tmp/elasticsearch-$ES_VERSION" "$ES_HOME"
    rm -rf "$tmp"
  fi
  drop_lock "$lock"
}

# Elasticsearch exits with "can not run elasticsearch as root". As root, run it as an
# unprivileged system user that owns the distribution and the instance directory.
es_prepare_user() {
  is_root || return 0
  if ! id -u "$ES_USER" >/dev/null 2>&1; then
    need_cmd useradd "to create the unprivileged '$ES_USER' user Elasticsearch runs as"
    say "creating system user '$ES_USER' (Elasticsearch refuses to run as root)"
    useradd -r -m -U "$ES_USER" 2>/dev/null || useradd -r -m "$ES_USER" ||
      die "could not create user '$ES_USER'"
  fi
  need_cmd runuser "to run Elasticsearch as '$ES_USER'"
  # chown only when needed: the distribution is large and shared by all instances.
  # -h: a symlink inside (ES_DIR is writable by that user) is changed itself, never its target.
  [[ $(stat -c %U "$ES_HOME") == "$ES_USER" ]] || chown -R -h "$ES_USER:" "$ES_HOME"
  chown -R -h "$ES_USER:" "$ES_DIR"
  # Every parent directory must be searchable by the user (e.g. a cache under /root is not).
  local d
  for d in "$ES_HOME/bin/elasticsearch" "$ES_DIR/config" "$ES_JAVA_HOME/bin/java"; do
    runuser -u "$ES_USER" -- test -r "$d" ||
      die "user '$ES_USER' cannot read $d (a parent directory is not accessible); put SPOR_CACHE_DIR / SPOR_STACK_DIR somewhere world-searchable"
  done
}

# Per-instance config dir (ES_PATH_CONF): the keystore and settings of two instances must not
# collide, and the shared distribution stays untouched.
# Made in one step: the copy is built in a private work folder (mktemp: ours, mode 0700, so
# nobody, not even the Elasticsearch user who owns ES_DIR once it ran, can plant a link in it)
# and renamed into place; whatever stood at config before (a half copy, a planted symlink) is
# renamed aside first, which moves a link itself, never its target. Two preparations at once
# both end with one complete config (the loser of the last rename keeps the winner's), never a
# nested config/config or a copy written through a link.
es_config_ready() { [[ -f $ES_DIR/config/elasticsearch.yml && ! -L $ES_DIR/config ]]; }
es_prepare_instance() {
  mkdir -p "$ES_DIR/data" "$ES_DIR/logs" "$ES_DIR/tmp"
  es_config_ready && return 0
  # One preparation at a time (`up` holds the instance lock already; this covers any other
  # caller): without it, one preparation could move aside the config another had just finished
  # while that one was checking it.
  local prep_lock work
  take_lock prep_lock "$ES_DIR/.config-prep.lock"
  if es_config_ready; then
    drop_lock "$prep_lock"
    return 0
  fi
  work=$(mktemp -d "$ES_DIR/.config-prep.XXXXXX") || die "cannot create a work folder in $ES_DIR"
  cp -R "$ES_HOME/config" "$work/new" || { rm -rf -- "$work"; die "cannot copy $ES_HOME/config"; }
  if [[ -e $ES_DIR/config || -L $ES_DIR/config ]]; then
    mv -T -- "$ES_DIR/config" "$work/old" 2>/dev/null || true # another preparation may have moved it
  fi
  if ! mv -T -- "$work/new" "$ES_DIR/config" 2>/dev/null; then
    # Something took the name between the two renames: a finished config from a concurrent
    # preparation is fine, anything else is refused.
    rm -rf -- "$work"
    es_config_ready || die "cannot put the instance config in place at $ES_DIR/config (something else is there)"
    drop_lock "$prep_lock"
    return 0
  fi
  rm -rf -- "$work"
  drop_lock "$prep_lock"
}

es_health_code() { # HTTP status of a yellow-or-better health check (200 = ready)
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
    "http://127.0.0.1:$ES_PORT/_cluster/health?wait_for_status=yellow&timeout=1s" 2>/dev/null || true
}

# The server JVM's command line does not show ES_PATH_CONF, but it does show the per-instance
# temp dir we give it (ES_TMPDIR), which tells this instance from any other.
es_pid() { live_pid "$ES_DIR/pid" "-Djava.io.tmpdir=$ES_DIR/tmp "; }

# `elasticsearch -d` forks the server and returns once it started (or failed). We run that CLI in
# the background and poll health ourselves, so READY_TIMEOUT applies to the whole start.
es_start() {
  local cli_out=$ES_DIR/logs/cli.out runas=()
  if is_root; then
    # Created by the ES user itself: its logs folder is that user's, so root writing there could
    # be led through a symlink to any file.
    runas=(runuser -u "$ES_USER" --)
    "${runas[@]}" sh -c ': >"$1"' sh "$cli_out"
  else
    : >"$cli_out"
  fi
  (
    close_lock_fds
    cd "$ES_DIR"   # the ES user may not be able to read our current directory
    # env after runuser: runuser resets parts of the environment.
    exec setsid nohup "${runas[@]}" env \
      ES_JAVA_HOME="$ES_JAVA_HOME" ES_PATH_CONF="$ES_DIR/config" ES_TMPDIR="$ES_DIR/tmp" \
      ES_JAVA_OPTS="-Xms$ES_HEAP -Xmx$ES_HEAP ${ES_JAVA_OPTS:-}" \
      "$ES_HOME/bin/elasticsearch" -d -p "$ES_DIR/pid" \
      -Ecluster.name=spor-local \
      -Ediscovery.type=single-node \
      -Expack.security.enabled=false \
      -Ehttp.host=127.0.0.1 -Ehttp.port="$ES_PORT" \
      -Etransport.host=127.0.0.1 -Etransport.port="$ES_TRANSPORT_PORT" \
      -Epath.data="$ES_DIR/data" -Epath.logs="$ES_DIR/logs" \
      -Ecluster.routing.allocation.disk.threshold_enabled=false \
      -Eaction.destructive_requires_name=true \
      >"$cli_out" 2>&1 </dev/null
  ) &
  ES_CLI_PID=$!
}

es_show_logs() { # es_show_logs FROM: cli.out is rewritten per start, the node log is appended
  show_log "$ES_DIR/logs/cli.out"
  show_log "$ES_DIR/logs/spor-local.log" "$1"
}

es_wait_ready() { # es_wait_ready LOG_FROM
  local from=$1 deadline=$((SECONDS + READY_TIMEOUT)) code cli_done=0 rc
  while ((SECONDS < deadline)); do
    code=$(es_health_code)
    [[ $code == 200 ]] && return 0
    # The CLI exits 0 once the node is started; non-zero means the node failed to start.
    if ((cli_done == 0)) && ! kill -0 "$ES_CLI_PID" 2>/dev/null; then
      cli_done=1
      rc=0
      wait "$ES_CLI_PID" || rc=$?
      if ((rc != 0)); then
        es_show_logs "$from"
        die "elasticsearch failed to start (exit $rc); logs: $ES_DIR/logs"
      fi
    fi
    if ((cli_done == 1)) && ! es_pid >/dev/null; then
      es_show_logs "$from"
      stop_group "$ES_CLI_PID" elasticsearch
      die "elasticsearch exited after start-up; logs: $ES_DIR/logs"
    fi
    sleep 0.5
  done
  es_show_logs "$from"
  stop_group "$ES_CLI_PID" elasticsearch
  rm -f "$ES_DIR/pid"
  die "elasticsearch not ready on 127.0.0.1:$ES_PORT after ${READY_TIMEOUT} s (SPOR_STACK_TIMEOUT; last health HTTP ${code:-none}); see $ES_DIR/logs"
}

es_up() {
  if [[ -n ${SPOR_ES_URL:-} ]]; then
    say "elasticsearch is external (SPOR_ES_URL=$SPOR_ES_URL); not starting a local node"
    return 0
  fi
  need_cmd curl "to check Elasticsearch health"
  local lock
  take_lock lock "$STACK_DIR/.es.lock"
  local pid t0 from
  if pid=$(es_pid); then
    if [[ $(es_health_code) != 200 ]]; then
      say "elasticsearch (pid $pid) is running but not healthy yet; waiting…"
      local deadline=$((SECONDS + READY_TIMEOUT))
      until [[ $(es_health_code) == 200 ]]; do
        ((SECONDS < deadline)) || die "elasticsearch (pid $pid) does not answer on 127.0.0.1:$ES_PORT; see $ES_DIR/logs, or run stack.sh down es"
        sleep 0.5
      done
    fi
    say "elasticsearch already running on 127.0.0.1:$ES_PORT (pid $pid)"
    drop_lock "$lock"
    return 0
  fi
  [[ -f $ES_DIR/pid ]] && { say "elasticsearch: removing stale pid file"; rm -f "$ES_DIR/pid"; }
  port_open "$ES_PORT" && die_port_taken "$ES_PORT" SPOR_ES_PORT "elasticsearch http"
  port_open "$ES_TRANSPORT_PORT" &&
    die_port_taken "$ES_TRANSPORT_PORT" SPOR_ES_TRANSPORT_PORT "elasticsearch transport"

  ES_JAVA_HOME=$(es_java_home)
  es_fetch
  es_prepare_instance
  es_prepare_user
  say "starting elasticsearch $ES_VERSION on 127.0.0.1:$ES_PORT (java $ES_JAVA_HOME)…"
  from=$(file_size "$ES_DIR/logs/spor-local.log")
  t0=$(now)
  es_start
  es_wait_ready "$from"
  pid=$(es_pid) || die "elasticsearch answers on 127.0.0.1:$ES_PORT but wrote no pid file $ES_DIR/pid"
  say "elasticsearch up on 127.0.0.1:$ES_PORT (pid $pid) in $(since "$t0") s"
  drop_lock "$lock"
}

es_down() {
  if [[ -n ${SPOR_ES_URL:-} ]]; then
    say "elasticsearch is external (SPOR_ES_URL=$SPOR_ES_URL); nothing to stop"
    return 0
  fi
  local lock
  take_lock lock "$STACK_DIR/.es.lock"
  local pid
  if pid=$(es_pid); then
    say "stopping elasticsearch (pid $pid)…"
    stop_pid "$pid" elasticsearch
    say "elasticsearch stopped"
  else
    say "elasticsearch is not running"
  fi
  rm -f "$ES_DIR/pid"
  drop_lock "$lock"
}

es_status() { # returns 0 if running
  local pid body version health
  if [[ -n ${SPOR_ES_URL:-} ]]; then
    if body=$(curl -sf --max-time 5 "${SPOR_ES_URL%/}/_cluster/health" 2>/dev/null); then
      health=$(sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' <<<"$body")
      echo "elasticsearch: external, reachable ($SPOR_ES_URL) status ${health:-unknown}"
      return 0
    fi
    echo "elasticsearch: external, NOT reachable ($SPOR_ES_URL)"
    return 1
  fi
  need_cmd curl "to check Elasticsearch health"
  if pid=$(es_pid); then
    body=$(curl -s --max-time 5 "http://127.0.0.1:$ES_PORT/_nodes/_local?filter_path=nodes.*.version" 2>/dev/null || true)
    version=$(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' <<<"$body")
    if [[ -n $version ]]; then
      health=$(curl -s --max-time 5 "http://127.0.0.1:$ES_PORT/_cluster/health" 2>/dev/null |
        sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' || true)
      echo "elasticsearch: running pid $pid 127.0.0.1:$ES_PORT (transport $ES_TRANSPORT_PORT) version $version health ${health:-unknown} dir $ES_DIR"
      return 0
    fi
    echo "elasticsearch: starting pid $pid 127.0.0.1:$ES_PORT (not answering yet) dir $ES_DIR"
    return 1
  fi
  echo "elasticsearch: stopped 127.0.0.1:$ES_PORT dir $ES_DIR"
  return 1
}

# ---------------------------------------------------------------------------------------------
# commands

# Refuse to delete anything that is obviously not a stack dir.
safe_rm_stack() { # safe_rm_stack DIR
  local d
  d=$(realpath -m "$1")
  case "$d" in
    / | "$HOME" | "$REPO_DIR" | "$CACHE_DIR" | "$CACHE_DIR"/*) die "refusing to delete $d" ;;
  esac
  [[ -e $d ]] || return 0
  say "removing $d"
  rm -rf -- "$d"
}

usage() { # usage [EXIT]: 2 for a bad command line, 0 for help
  sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit "${1:-2}"
}

main() {
  local cmd=${1:-} target=${2:-all}
  [[ $# -le 2 ]] || usage
  case "$target" in
    kafka | es | all) ;;
    elasticsearch) target=es ;;
    *) printf 'spor stack: unknown service "%s" (kafka, es or all)\n' "$target" >&2; usage ;;
  esac
  local services=()
  [[ $target == all || $target == kafka ]] && services+=(kafka)
  [[ $target == all || $target == es ]] && services+=(es)

  local s rc=0
  case "$cmd" in
    up | down | status | wipe)
      # Only the folders this instance uses; an external service (SPOR_KAFKA_BROKERS / SPOR_ES_URL)
      # still gets its cache checked, since `up` may download into it.
      if [[ $CACHE_DIR == "$STATE_DIR"/* || $STACK_DIR == "$STATE_DIR"/* ]]; then
        ensure_state_dir "$STATE_DIR"
      fi
      ensure_state_dir "$CACHE_DIR"
      ensure_state_dir "$STACK_DIR"
      ;;
  esac
  case "$cmd" in
    up) for s in "${services[@]}"; do "${s}_up"; done ;;
    down) for s in "${services[@]}"; do "${s}_down"; done ;;
    status)
      for s in "${services[@]}"; do "${s}_status" || rc=3; done
      exit "$rc"
      ;;
    wipe)
      for s in "${services[@]}"; do "${s}_down"; done
      if [[ $target == all ]]; then
        safe_rm_stack "$STACK_DIR"
      elif [[ $target == kafka ]]; then
        safe_rm_stack "$KAFKA_DIR"
      else
        safe_rm_stack "$ES_DIR"
      fi
      ;;
    paths)
      # Kafka's jars first: tests run the official Java client from them (test/helpers/java).
      [[ -f $KAFKA_LIB/.spor-complete ]] && echo "KAFKA_LIB=$KAFKA_LIB"
      # The secured listener: its address and the client settings (client.env holds a password).
      if [[ -f $KAFKA_TLS_DIR/client.env ]]; then
        echo "KAFKA_SASL_BOOTSTRAP=127.0.0.1:$KAFKA_SASL_PORT"
        echo "KAFKA_SASL_CLIENT_ENV=$KAFKA_TLS_DIR/client.env"
      fi
      [[ -d $ES_HOME ]] || die "no Elasticsearch distribution at $ES_HOME yet (run: stack/stack.sh up es)"
      es_java=$(es_java_home)
      echo "ES_HOME=$ES_HOME"
      echo "ES_JAVA_HOME=$es_java"
      ;;
    -h | --help | help) usage 0 ;;
    *) usage ;;
  esac
}

# Run as a command; sourced (by test/stack-prepare.test.ts), it only defines the functions.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
