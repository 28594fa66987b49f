#!/usr/bin/env bash
# xmlsec1 from Debian's packages: pysaml2 signs and verifies SAML XML with it (sso app).
set -euo pipefail
if command -v xmlsec1 >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing xmlsec1 (Debian package) for SAML single sign-on"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends xmlsec1 >/dev/null
