#!/usr/bin/env bash
# Installs the system programs streamproc uses (tesseract for OCR, redis-server
# for testing against Redis 7, promtool for checking metrics, faketime for
# testing against a Redis whose clock is not this machine's) when they are
# missing, or says exactly what to install where it cannot.
set -euo pipefail

missing=()
command -v tesseract >/dev/null 2>&1 || missing+=(tesseract-ocr)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v faketime >/dev/null 2>&1 || missing+=(faketime)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi

echo "streamproc needs these system packages, which are not installed: ${missing[*]}" >&2
echo "  Debian/Ubuntu: sudo apt-get install ${missing[*]}" >&2
echo "  macOS (Homebrew): brew install tesseract redis prometheus libfaketime" >&2
exit 1
