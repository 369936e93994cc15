#!/bin/sh
# The image's entry point (under tini): runs its arguments, first giving the process a
# passwd entry when the platform picked a uid the image does not know (`--user 4242:0`,
# OpenShift). PostgreSQL's initdb, ssh and git look the current user up and refuse to
# run without one; /etc is read-only, so nss_wrapper serves copies from a temporary folder.
set -eu
if ! getent passwd "$(id -u)" > /dev/null; then
  nss=$(mktemp -d)
  cp /etc/passwd "$nss/passwd"
  cp /etc/group "$nss/group"
  echo "thunderline:x:$(id -u):$(id -g):thunderline:${HOME}:/usr/sbin/nologin" >> "$nss/passwd"
  getent group "$(id -g)" > /dev/null || echo "thunderline:x:$(id -g):" >> "$nss/group"
  export LD_PRELOAD=libnss_wrapper.so NSS_WRAPPER_PASSWD="$nss/passwd" NSS_WRAPPER_GROUP="$nss/group"
fi
exec "$@"
