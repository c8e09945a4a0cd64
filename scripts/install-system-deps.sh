#!/usr/bin/env bash
# Debian packages Corral runs against, installed only where missing (idempotent, quiet, non-interactive):
#   - zookeeper: the server jars for the integration tests' ensembles (tests/integration/zk.py starts them
#     with `java` directly; Debian's `zookeeperd`, which would start a system service, is not wanted);
#   - a Java runtime for it (normally pulled in by `zookeeper` itself; named in case the jars exist alone);
#   - haproxy: the load balancer bridge (`corral lb`, and `corral dev` when it is installed);
#   - chromium: the headless browser the web UI tests drive through Playwright (never Playwright's own
#     downloaded browser builds).
# When everything is present this only runs a few `test`/`command -v` checks and exits.
# When a package cannot be installed (not root and no password-less sudo, or apt fails) it says so and fails:
# a test suite that quietly skipped what it could not install would hide a broken set-up.
set -euo pipefail

has_zookeeper() {  # the jars tests/integration/zk.py puts on the classpath
  [ -f /usr/share/java/zookeeper.jar ] || compgen -G '/usr/share/zookeeper/lib/zookeeper*.jar' >/dev/null
}

missing=()
has_zookeeper || missing+=(zookeeper)
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ "${#missing[@]}" -eq 0 ] && exit 0

fail() { echo "install-system-deps: error: $*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  fail "not root and no password-less sudo: cannot install ${missing[*]}"
fi

export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
echo "install-system-deps: installing ${missing[*]}" >&2
# apt's output is shown only when it fails
if ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$log" 2>&1; then
  cat "$log" >&2
  fail "apt-get update failed: cannot install ${missing[*]}"
fi
if ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
  cat "$log" >&2
  fail "apt-get install ${missing[*]} failed"
fi
