#!/usr/bin/env bash
# Installs what the test suite drives for real: Debian's PostgreSQL (the suite starts
# a private cluster from its binaries), Debian's chromium (the web pages' browser
# tests drive it through Playwright) and Debian's OpenJDK (Spark's local mode). As
# root it installs; otherwise it says what is missing and those tests are skipped
# with that reason.
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1 || ! dpkg -s fonts-wqy-microhei >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    # A CJK font, so the Chinese pages' screenshots show characters, not boxes.
    echo "installing Debian's chromium and a Chinese font for the browser tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null
  else
    echo "chromium is not installed and this user cannot install it: the browser tests will be skipped"
  fi
fi

if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    # The bus tests start a private redis-server from it (tests/support/redis_server.py).
    echo "installing Debian's redis-server for the bus tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq redis-server >/dev/null
    # The package may start a system server we do not use; the suite runs its own.
    if command -v service >/dev/null 2>&1; then
      service redis-server stop >/dev/null 2>&1 || true
    fi
  else
    echo "redis-server is not installed and this user cannot install it: the bus tests will be skipped"
  fi
fi

if ! command -v java >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    # The Spark leg (tests/engines) runs pyspark in local mode, on a JVM.
    echo "installing Debian's OpenJDK 17 for the Spark leg"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq openjdk-17-jre-headless >/dev/null
  else
    echo "java is not installed and this user cannot install it: the Spark leg will be skipped"
  fi
fi

have_postgres() {
  command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

if have_postgres; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's postgresql for the test matrix"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
  # The package starts a system cluster we do not use; the suite runs its own.
  if command -v pg_lsclusters >/dev/null 2>&1; then
    pg_lsclusters --no-header | while read -r version name _; do
      pg_ctlcluster "$version" "$name" stop || true
    done
  fi
else
  echo "PostgreSQL is not installed and this user cannot install it: the PostgreSQL leg will be skipped"
fi
