#!/usr/bin/env bash
# Install the Debian packages the app needs when their command is missing: graphviz (`dot`, for
# diagrams) and chromium (browser tests). Needs root and apt-get; elsewhere it says what to install.
set -euo pipefail
declare -A COMMAND_OF=([graphviz]=dot [chromium]=chromium)
missing=()
for package in "$@"; do
  command -v "${COMMAND_OF[$package]:-$package}" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "warning: please install ${missing[*]} (apt-get install ${missing[*]})" >&2
fi
