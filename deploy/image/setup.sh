#!/bin/sh
# Runs inside the image's root filesystem, as root, for deploy/Dockerfile and for `make image` alike:
# kubesync and its locked dependencies in /opt/kubesync, the uid 10001 user and its cache folder.
#   setup.sh WHEEL LOCK [WHEELS_DIR]
# LOCK pins every dependency with its hashes (pip --require-hashes); WHEELS_DIR, when given, holds them
# already downloaded (make image: no network inside the root filesystem), else they come from PyPI.
set -eu
wheel=$1 lock=$2 wheels=${3:-}
python3 -m venv /opt/kubesync
pip=/opt/kubesync/bin/pip
if [ -n "$wheels" ]; then
  $pip install --no-cache-dir --no-deps --require-hashes --no-index --find-links "$wheels" -r "$lock"
else
  $pip install --no-cache-dir --no-deps --require-hashes -r "$lock"
fi
$pip install --no-cache-dir --no-deps --no-index "$wheel"
# pip and setuptools are not needed at run time
$pip uninstall -y -q pip setuptools
ln -s /opt/kubesync/bin/kubesync /usr/local/bin/kubesync
useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin kubesync
# the git clone cache (XDG_CACHE_HOME); in a pod an emptyDir is mounted over it
install -d -o 10001 -g 10001 -m 0750 /var/cache/kubesync
