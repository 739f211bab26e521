#!/usr/bin/env bash
# scripts/linux-guest.sh - build the Linux guest of the e2e tests, the demo
# and the boot benchmark from Debian packages: the distribution kernel (it
# has an EFI stub, so the loader can start it directly), busybox-static, and
# an initramfs with our guest program (tests/e2e/linux/ahv-guest-attest.c,
# linked against libattest-hv.a of BUILD), the attest-hv CLI of BUILD, the
# shared libraries both need (their ldd closure, dynamic loader included) and
# a throwaway guest key.
#
#   linux-guest.sh [--out DIR] [--build BUILD]
#     --out DIR      default: .deps/linux-guest (ignored by git)
#     --build BUILD  the CMake build with guest-lib/ built (default:
#                    $AHV_BUILD, else $BUILD, else build/)
#
# Output in DIR: vmlinuz, initrd.img, guest.pub.pem (to enroll), guest.key,
# ahv-guest-attest and attest-hv (the exact binaries in the initramfs, for
# `attest-hv refvals` on the host). Packages are fetched with `apt-get
# download` into .deps/debs once and unpacked into .deps/linux-guest/pkgroot
# (shared by every DIR); set AHV_LINUX_PKG to pin a kernel package (default:
# the newest linux-image-6.1.0-N-amd64 apt knows). Nothing downloaded is ever
# committed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/.deps/linux-guest
build=${AHV_BUILD:-${BUILD:-$top/build}}
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "linux-guest.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
debs=$top/.deps/debs
mkdir -p "$debs" "$out"

pkg=${AHV_LINUX_PKG:-}
if [ -z "$pkg" ]; then
  # Prefer a kernel already downloaded, else the newest one apt knows.
  pkg=$(ls "$debs" 2>/dev/null | sed -n 's/^\(linux-image-6\.1\.0-[0-9]*-amd64\)_.*/\1/p' | sort -V | tail -n 1)
  [ -n "$pkg" ] || pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' | awk '{print $1}' | sort -V | tail -n 1)
fi
[ -n "$pkg" ] || { echo "linux-guest.sh: no linux-image-6.1.0-*-amd64 package known to apt (apt-get update?)" >&2; exit 1; }
for p in "$pkg" busybox-static; do
  if ! ls "$debs/${p}_"*.deb >/dev/null 2>&1; then
    echo "linux-guest.sh: apt-get download $p"
    (cd "$debs" && apt-get download "$p" >/dev/null) || { echo "linux-guest.sh: apt-get download $p failed" >&2; exit 1; }
  fi
done
# The unpacked packages are shared by every --out (the kernel alone is
# hundreds of MiB unpacked).
pkgdir=$top/.deps/linux-guest root=$top/.deps/linux-guest/pkgroot
mkdir -p "$pkgdir"
if [ ! -f "$pkgdir/.stamp-$pkg" ]; then
  rm -rf "$root"; mkdir -p "$root"
  dpkg -x "$(ls "$debs/${pkg}_"*.deb | head -n 1)" "$root"
  dpkg -x "$(ls "$debs"/busybox-static_*.deb | head -n 1)" "$root"
  rm -f "$pkgdir"/.stamp-*; touch "$pkgdir/.stamp-$pkg"
fi
cp "$(ls "$root"/boot/vmlinuz-* | head -n 1)" "$out/vmlinuz"
kver=$(ls "$root/lib/modules" | head -n 1)

# The guest program against libattest-hv.a (OpenSSL, libcurl and jansson
# shared), and the CLI as built. Both are PIE without text relocations, so
# `attest-hv refvals` of these files predicts their live .text exactly.
lib=$build/guest-lib/libattest-hv.a cli=$build/guest-lib/attest-hv
for f in "$lib" "$cli"; do
  [ -f "$f" ] || { echo "linux-guest.sh: $f missing (build $build first, or pass --build)" >&2; exit 1; }
done
san=()
grep -q '^AHV_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null && san=(-fsanitize=address,undefined)
gcc -O2 -Wall -Wextra -Werror "${san[@]}" -I"$top/include" -I"$top/guest-lib/include" \
  -o "$out/ahv-guest-attest.new" "$top/tests/e2e/linux/ahv-guest-attest.c" "$lib" \
  $(pkg-config --libs libcrypto libcurl jansson) -lpthread
# e2e-smp's checker (docs/smp.md): per-CPU signature, concurrent
# attestations, the rewrite race.
gcc -O2 -Wall -Wextra -Werror "${san[@]}" -I"$top/include" -I"$top/guest-lib/include" \
  -o "$out/ahv-smp-check" "$top/tests/e2e/linux/ahv-smp-check.c" "$lib" \
  $(pkg-config --libs libcrypto libcurl jansson) -lpthread
# e2e-watch's checker (docs/watch.md): watched regions from inside.
gcc -O2 -Wall -Wextra -Werror "${san[@]}" -I"$top/include" -I"$top/guest-lib/include" \
  -o "$out/ahv-watch-check" "$top/tests/e2e/linux/ahv-watch-check.c" "$lib" \
  $(pkg-config --libs libcrypto libcurl jansson) -lpthread
# e2e's xstate-switches case (docs/bochs.md): vector registers across
# context switches; no library, no sanitizer (its registers are the test).
gcc -O2 -Wall -Wextra -Werror -o "$out/ahv-xstate-check" "$top/tests/e2e/linux/ahv-xstate-check.c"
# The boot benchmark's clock (bench/boot.sh): freestanding, static.
gcc -O2 -Wall -Wextra -Werror -static -nostdlib -ffreestanding -fno-builtin -fno-stack-protector \
  -fno-pie -no-pie -o "$out/ahv-vtime" "$top/tests/e2e/linux/ahv-vtime.c"
cp "$cli" "$out/attest-hv.new"
for b in ahv-guest-attest attest-hv; do
  if readelf -d "$out/$b.new" | grep -q 'TEXTREL'; then
    echo "linux-guest.sh: $b has text relocations: refvals could not predict its .text" >&2; exit 1
  fi
  mv -f "$out/$b.new" "$out/$b"
done

# A throwaway guest key (kept across runs so the ESP config stays stable).
if [ ! -f "$out/guest.key" ]; then
  openssl ecparam -name prime256v1 -genkey -noout -out "$out/guest.key" 2>/dev/null
  openssl ec -in "$out/guest.key" -pubout -out "$out/guest.pub.pem" 2>/dev/null
fi

ird=$out/initramfs
rm -rf "$ird"; mkdir -p "$ird"/{bin,sbin,proc,sys,dev,tmp,etc,lib/modules/"$kver"}
cp "$root/bin/busybox" "$ird/bin/busybox"
for a in sh mount umount echo cat poweroff sleep ls insmod ip udhcpc wget uname dmesg grep sed tr seq cut xz od; do
  ln -sf busybox "$ird/bin/$a"
done
cp "$out/ahv-guest-attest" "$out/attest-hv" "$out/ahv-smp-check" "$out/ahv-watch-check" "$out/ahv-vtime" \
  "$out/ahv-xstate-check" "$ird/bin/"
# Their shared libraries and the dynamic loader, at the paths ldd names.
for l in $( (ldd "$out/ahv-guest-attest"; ldd "$out/attest-hv") |
           awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u); do
  mkdir -p "$ird$(dirname "$l")"
  cp -L "$l" "$ird$l"
done
cp "$out/guest.key" "$ird/etc/guest.key"
# Network drivers are modules in Debian's kernel, not built in: virtio-net and
# the modules it needs, in load order.
mods=()
for m in drivers/virtio/virtio_ring.ko drivers/virtio/virtio.ko drivers/virtio/virtio_pci_legacy_dev.ko \
         drivers/virtio/virtio_pci_modern_dev.ko drivers/virtio/virtio_pci.ko \
         net/core/failover.ko drivers/net/net_failover.ko drivers/net/virtio_net.ko; do
  f=$(ls "$root/lib/modules/$kver/kernel/$m"* 2>/dev/null | head -n 1) || true
  [ -n "$f" ] && { cp "$f" "$ird/lib/modules/$kver/"; mods+=("$(basename "$f")"); }
done
cat > "$ird/init" <<INIT
#!/bin/sh
/bin/ahv-vtime init
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "AHV-LINUX: init up (kernel \$(uname -r))"
for m in ${mods[*]}; do
  insmod /lib/modules/$kver/\$m 2>/tmp/insmod.err || echo "AHV-LINUX: insmod \$m: \$(cat /tmp/insmod.err)"
done
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^\$1=//p"; }
# ahv_openssl_ia32cap=MASK: OpenSSL's CPU capability mask for the guest
# programs (docs/bochs.md: Bochs 2.7's corei7_skylake_x computes P-256 wrong
# on OpenSSL's ADX/BMI2 path, bare as under the hypervisor).
cap=\$(arg ahv_openssl_ia32cap)
[ -n "\$cap" ] && export OPENSSL_ia32cap="\$cap"
mode=\$(arg ahv)
if [ "\$mode" = bench ]; then
  # ahv_bench=watch (bench/boot.sh, docs/watch.md): the CLI's .text
  # watched from here to power-off (bare, the CLI finds no hypervisor).
  if [ "\$(arg ahv_bench)" = watch ]; then
    attest-hv attest --key /etc/guest.key --section .text --watch --report /tmp/watch.bin > /tmp/watch.out 2>&1
    echo "AHV-LINUX: bench watch: \$(head -n 1 /tmp/watch.out)"
  fi
  echo "AHV-LINUX: shell reached"
elif [ "\$mode" = smp ]; then
  # e2e-smp (docs/smp.md); ahv_smp=race adds the rewrite race.
  if [ "\$(arg ahv_smp)" = race ]; then /bin/ahv-smp-check /etc/guest.key --race; else /bin/ahv-smp-check /etc/guest.key; fi
elif [ "\$mode" = watch ]; then
  # e2e-watch (docs/watch.md): watched regions, written and remapped.
  if [ "\$(arg ahv_watch)" = one-cpu ]; then /bin/ahv-watch-check /etc/guest.key --one-cpu; else /bin/ahv-watch-check /etc/guest.key; fi
elif [ "\$mode" = demo ]; then
  # QEMU user networking: the host is 10.0.2.2; the verifier's port is on
  # the command line. The program takes the verifier's challenge, attests,
  # submits and checks the token (libattest-hv's verifier client).
  v=\$(arg ahv_verifier)
  ip link set lo up; ip link set eth0 up
  ip addr add 10.0.2.15/24 dev eth0; ip route add default via 10.0.2.2
  echo "AHV-LINUX: network up, verifier at http://\$v"
  /bin/ahv-guest-attest /etc/guest.key --verifier "http://\$v" --tries 60
else
  # Vector registers survive context switches (docs/bochs.md: Bochs 2.7's
  # compacted XSAVE lost them, and with them the head of large copies).
  /bin/ahv-xstate-check || echo "AHV-LINUX: FAIL case xstate-switches (exit status \$?)"
  /bin/ahv-guest-attest /etc/guest.key
  # The attest-hv CLI: identity, an attestation of its own .text written to
  # a file, decoded; the report also goes to the console in hex, for the
  # host to verify and to compare with refvals of the same binary.
  cli() { # NAME COMMAND...: run, prefix its output, judge its exit status
    n=\$1; shift
    "\$@" > /tmp/cli.out 2>&1; rc=\$?
    sed 's/^/AHV-LINUX-CLI /' /tmp/cli.out
    if [ \$rc = 0 ]; then echo "AHV-LINUX: case \$n ok exit=0"; else echo "AHV-LINUX: FAIL case \$n exit=\$rc"; fi
  }
  cli cli-info attest-hv info
  cli cli-attest attest-hv attest --key /etc/guest.key --section .text --report /tmp/cli-report.bin
  cli cli-show attest-hv show /tmp/cli-report.bin
  echo "AHV-LINUX-CLI-REPORT \$(od -An -v -tx1 /tmp/cli-report.bin | tr -d ' \\n')"
fi
echo "AHV-LINUX: powering off"
/bin/ahv-vtime poweroff
poweroff -f
INIT
chmod +x "$ird/init"
# newc cpio archive (no cpio(1) needed), gzip-compressed.
python3 - "$ird" <<'PY' | gzip -1 > "$out/initrd.img"
import os, sys, stat
root = sys.argv[1]; out = sys.stdout.buffer; ino = 1
def entry(name, st, data=b""):
    global ino
    hdr = "070701" + "".join("%08x" % v for v in (ino, st.st_mode, 0, 0, 1, int(st.st_mtime),
          len(data), 0, 0, 0, 0, len(name) + 1, 0))
    ino += 1
    b = hdr.encode() + name.encode() + b"\0"
    b += b"\0" * ((4 - len(b) % 4) % 4)
    b += data + b"\0" * ((4 - len(data) % 4) % 4)
    out.write(b)
for d, dirs, files in os.walk(root):
    dirs.sort()
    for n in sorted(dirs) + sorted(files):
        p = os.path.join(d, n); rel = os.path.relpath(p, root); st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode): entry(rel, st, os.readlink(p).encode())
        elif stat.S_ISDIR(st.st_mode): entry(rel, st)
        else: entry(rel, st, open(p, "rb").read())
class T: st_mode = 0; st_mtime = 0
entry("TRAILER!!!", T())
PY
echo "linux-guest: $out/vmlinuz ($pkg), $out/initrd.img, key $out/guest.pub.pem"
