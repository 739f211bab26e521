#!/usr/bin/env bash
# scripts/setup.sh - prepare a fresh Debian 12 machine (run as root).
#
# Idempotent: installs the Debian packages attest-hv needs and fetches the
# Debian 13 (trixie) source package of mbedTLS 3.6 into .deps/ (ignored by
# git). The deb-src entry is derived from this machine's own configured Debian
# mirror; no host name is written into the repository.
# Quiet and fast when everything is already in place.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
deps="$top/.deps"
log="$deps/setup.log"
mkdir -p "$deps"

die() { echo "setup.sh: error: $*" >&2; [ -s "$log" ] && { echo "--- tail of $log ---" >&2; tail -n 20 "$log" >&2; }; exit 1; }

PACKAGES=(
  build-essential gcc cmake make pkg-config gnu-efi binutils
  qemu-system-x86 ovmf swtpm swtpm-tools bochs bochsbios bochs-term vgabios
  mtools dosfstools gdisk
  libcmocka-dev libmicrohttpd-dev libjansson-dev libssl-dev openssl
  libcurl4-openssl-dev libsqlite3-dev sqlite3 postgresql libpq-dev python3-jwt python3-cryptography
  libtss2-dev libtss2-tcti-swtpm0 libtss2-tcti-mssim0 libtss2-tcti-device0 tpm2-tools tpm2-openssl
  clang libclang-rt-14-dev wrk dpkg-dev xz-utils python3 curl ca-certificates
)

if [ "$(id -u)" != 0 ]; then
  die "must run as root (it installs Debian packages)"
fi

# --- 1. Debian packages -------------------------------------------------------
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

# --- 2. a deb-src entry for trixie, derived from the configured mirror -------
srcfile=/etc/apt/sources.list.d/attest-hv-trixie-src.sources
need_update=0
[ "${#missing[@]}" -gt 0 ] && need_update=1
if [ ! -f "$srcfile" ]; then
  mirror=""
  # deb822 files first, then one-line sources.list entries.
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    m=$(awk 'BEGIN{IGNORECASE=1} /^URIs:/{u=$2} /^Suites:/{ if ($0 ~ /(bookworm|stable)([ ]|$)/ && u ~ /debian\/?$/) {print u; exit} }' "$f")
    [ -n "$m" ] && { mirror=$m; break; }
  done
  if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
    mirror=$(awk '$1=="deb" { for (i=2;i<=NF;i++) if ($i ~ /^(https?|file|ftp):/) { if ($(i+1) ~ /^(bookworm|stable)$/ && $i ~ /debian\/?$/) {print $i; exit} } }' /etc/apt/sources.list)
  fi
  [ -n "$mirror" ] || die "could not find the Debian mirror in /etc/apt/sources.list(.d); add a deb-src line for trixie by hand"
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  cat > "$srcfile" <<SRC
# Written by attest-hv scripts/setup.sh: source packages only (mbedtls 3.6).
Types: deb-src
URIs: $mirror
Suites: trixie
Components: main
Signed-By: $keyring
SRC
  need_update=1
fi

if [ "$need_update" = 1 ]; then
  echo "setup.sh: apt-get update"
  apt-get update -qq >"$log" 2>&1 || die "apt-get update failed"
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup.sh: installing ${#missing[@]} Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1 \
    || die "apt-get install failed"
fi

# --- 3. mbedTLS 3.6 source ----------------------------------------------------
if [ ! -f "$deps/mbedtls/include/mbedtls/build_info.h" ]; then
  echo "setup.sh: fetching the Debian 13 mbedtls source package"
  work="$deps/mbedtls-src"
  rm -rf "$work" "$deps/mbedtls"
  mkdir -p "$work"
  ( cd "$work" && apt-get source --download-only -qq mbedtls/trixie ) >"$log" 2>&1 \
    || { apt-get update -qq >>"$log" 2>&1; ( cd "$work" && apt-get source --download-only -qq mbedtls/trixie ) >>"$log" 2>&1; } \
    || die "apt-get source mbedtls/trixie failed (is the trixie deb-src entry in $srcfile reachable?)"
  dsc=$(ls "$work"/mbedtls_*.dsc 2>/dev/null | head -n 1)
  [ -n "$dsc" ] || die "no mbedtls .dsc downloaded"
  ( cd "$work" && dpkg-source --no-check -x "$(basename "$dsc")" unpacked ) >>"$log" 2>&1 \
    || die "dpkg-source could not unpack $dsc"
  ver=$(sed -n 's/^Version: //p' "$dsc")
  case "$ver" in 3.6.*) ;; *) die "expected mbedtls 3.6.x, got '$ver'" ;; esac
  mv "$work/unpacked" "$deps/mbedtls"
  echo "$ver" > "$deps/mbedtls/.attest-hv-version"
  rm -rf "$work"
  echo "setup.sh: mbedtls $ver unpacked in .deps/mbedtls"
fi
exit 0
