#!/usr/bin/env bash
# Installs the Debian packages the tests' real servers and tools come from, when missing (as root,
# or through passwordless sudo), without starting any as a service: the tests start their own
# instances on loopback ports. Each argument is `PROGRAM=PACKAGE` (installed when PROGRAM is not an
# executable path or a command on PATH); with none, every package the suite needs.
set -euo pipefail
[ $# -gt 0 ] || set -- \
  nats-server=nats-server \
  redis-server=redis-server \
  /usr/lib/rabbitmq/bin/rabbitmq-server=rabbitmq-server \
  /usr/bin/chromium=chromium \
  promtool=prometheus
missing=()
for wanted in "$@"; do
  program="${wanted%%=*}"
  if [[ "$program" == /* ]]; then [ -x "$program" ] && continue; else command -v "$program" >/dev/null && continue; fi
  missing+=("${wanted#*=}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
# A policy-rc.d that exits 101 keeps the packages' scripts from starting the services (removed
# afterwards when it was ours).
if [ ! -e /usr/sbin/policy-rc.d ]; then
  "${sudo[@]}" sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
  trap '"${sudo[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
fi
install() { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; }
install || { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update && install; }
