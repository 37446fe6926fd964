#!/usr/bin/env bash
# The browser tests drive Debian's Chromium through its ChromeDriver; install both if missing (root, Debian).
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then exit 0; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium chromium-driver >/dev/null
