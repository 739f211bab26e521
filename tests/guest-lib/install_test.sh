#!/bin/sh
# install_test.sh BUILD_DIR EXTERNAL_C
# cmake --install (component guest-lib) into a temporary prefix, then build
# and run an external program with `pkg-config --cflags --libs libattest-hv`
# alone, against the shared library and (--static) the static one.
set -eu
build=$1
src=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ahvl-install-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --component guest-lib --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 || {
	cat "$tmp/install.log"; exit 1; }
pcdir=$(dirname "$(find "$tmp/prefix" -name libattest-hv.pc | head -n1)")
[ -n "$pcdir" ] || { echo "no libattest-hv.pc installed"; exit 1; }
for f in include/attest-hv/attest.h include/attest/wire.h bin/attest-hv; do
	[ -e "$tmp/prefix/$f" ] || { echo "not installed: $f"; exit 1; }
done
so=$(find "$tmp/prefix" -name 'libattest-hv.so.1' | head -n1)
[ -n "$so" ] || { echo "no libattest-hv.so.1 (soname) installed"; exit 1; }
objdump -p "$so" | grep -q 'SONAME *libattest-hv.so.1' || { echo "wrong SONAME"; exit 1; }
# Only the public API is exported.
if nm -D --defined-only "$so" | awk '{print $3}' | grep -v -e '^ahvl_' -e '^AHVL_1.0$' -e '^$' | grep .; then
	echo "symbols outside the ahvl_ namespace are exported"; exit 1
fi
export PKG_CONFIG_PATH="$pcdir"
cd "$tmp"
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror -o ext-shared "$src" $(pkg-config --cflags --libs libattest-hv)
LD_LIBRARY_PATH=$(dirname "$so") ./ext-shared
# The static archive, with its dependencies' shared libraries (Debian
# ships no static libcurl dependency chain).
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror -o ext-static "$src" $(pkg-config --cflags libattest-hv) \
	"$(dirname "$so")/libattest-hv.a" $(pkg-config --libs libcrypto libcurl jansson) -lpthread \
	$(pkg-config --libs libattest-hv | tr ' ' '\n' | grep -e '^-fsanitize' || true)
./ext-static
"$tmp/prefix/bin/attest-hv" --help >/dev/null
echo "install test: OK"
