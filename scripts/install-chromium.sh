#!/usr/bin/env bash
# Headless Chromium for the report browser tests (tests/reports/test_browser.py).
# Installs the Debian package only when /usr/bin/chromium is missing; needs root (or sudo).
set -euo pipefail

if [[ -x /usr/bin/chromium ]]; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
    exit 0
fi

SUDO=""
if [[ "$(id -u)" -ne 0 ]]; then
    # Not root (a developer, a GitHub runner): sudo without a password prompt, so a test
    # run never hangs waiting for input.
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "need root or passwordless sudo to apt-get install chromium" \
            "(or install the 'chromium' package yourself)" >&2
        exit 1
    fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "apt-get not found: install Chromium by hand (Debian/Ubuntu package 'chromium')" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-dejavu-core fonts-liberation
/usr/bin/chromium --version
