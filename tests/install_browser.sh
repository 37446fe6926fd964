#!/usr/bin/env bash
# The browser tests drive Debian's Chromium through its ChromeDriver; install both if missing (root, Debian).
# Test workers run side by side (pytest-xdist): one installs while the others wait on the lock (apt-get and
# dpkg refuse a second copy of themselves), then find it installed.
set -euo pipefail
installed() { [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; }
if installed; then exit 0; fi
exec 9>"${TMPDIR:-/tmp}/finebench-install-browser.lock"
flock 9
if installed; then exit 0; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium chromium-driver >/dev/null
