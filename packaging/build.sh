#!/usr/bin/env bash
# Builds kraken and kraken-sim for linux-x64 as self-contained programs (NativeAOT where it builds, otherwise
# self-contained trimmed single-file: the same choice and MSBuild property set as the boot image, KrakenPublish in
# Directory.Build.props) and packages them as a .deb (dpkg-deb) and an .rpm (rpmbuild). Output in artifacts/.
# See docs/packaging.md.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: packaging/build.sh [--output DIR] [--kind aot|single-file] [--kraken DIR] [--version VERSION] [--no-rpm]

  --output DIR     where everything goes (default: artifacts/ in the repository)
  --kind KIND      publish both programs this way; default: aot where NativeAOT builds (clang, lld and zlib1g-dev
                   installed), single-file otherwise
  --kraken DIR     take kraken from this publish directory (kraken and the *.so beside it, e.g. the boot image's
                   cache /var/cache/kraken/image/publish) instead of publishing it
  --version V      package version (default: the version kraken --version reports, plus the commit count and hash)
  --no-rpm         build the .deb only
EOF
}

root="$(cd "$(dirname "$0")/.." && pwd)"
output="$root/artifacts"
kind=""
kraken_dir=""
version=""
rpm=1
while [ $# -gt 0 ]; do
  case "$1" in
    --output) output="$2"; shift 2 ;;
    --kind) kind="$2"; shift 2 ;;
    --kraken) kraken_dir="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    --no-rpm) rpm=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "build.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$kind" in ""|aot|single-file) ;; *) echo "build.sh: --kind is aot or single-file, not '$kind'" >&2; exit 2 ;; esac

need() { command -v "$1" >/dev/null || { echo "build.sh: $1 not found (Debian package $2)" >&2; exit 1; }; }
need dotnet "dotnet-sdk-10.0"
need dpkg-deb dpkg
[ "$rpm" = 0 ] || need rpmbuild rpm

mkdir -p "$output"
output="$(cd "$output" && pwd)"
bin="$output/linux-x64"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
started=$SECONDS
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# publish PROJECT KIND DIR: one program, self-contained for linux-x64, the way KIND says (Directory.Build.props).
publish() {
  rm -rf "$3"
  dotnet publish "$root/$1" -c Release -r linux-x64 -p:KrakenPublish="$2" -o "$3" -nologo >"$work/publish.log" 2>&1
}

# build PROJECT PROGRAM: publishes into $work/PROGRAM, NativeAOT first unless told otherwise; prints the kind built.
build() {
  local k="$kind" t=$SECONDS
  if [ -z "$k" ]; then
    if command -v clang >/dev/null; then k=aot; else
      echo "build.sh: $2: clang not found, so no NativeAOT (apt-get install clang lld zlib1g-dev)" >&2
      k=single-file
    fi
  fi
  if ! publish "$1" "$k" "$work/$2"; then
    if [ "$k" = aot ] && [ -z "$kind" ]; then
      echo "build.sh: $2: the NativeAOT publish failed, publishing single-file instead:" >&2
      tail -n 10 "$work/publish.log" >&2
      k=single-file
      publish "$1" "$k" "$work/$2" || { tail -n 20 "$work/publish.log" >&2; exit 1; }
    else
      tail -n 20 "$work/publish.log" >&2; exit 1
    fi
  fi
  echo "build.sh: $2: $k publish in $((SECONDS - t)) s" >&2
  echo "$k"
}

if [ -n "$kraken_dir" ]; then
  [ -x "$kraken_dir/kraken" ] || { echo "build.sh: $kraken_dir/kraken is not an executable" >&2; exit 1; }
  mkdir -p "$work/kraken"
  cp -p "$kraken_dir/kraken" "$work/kraken/"
  for so in "$kraken_dir"/*.so; do [ -e "$so" ] && cp -p "$so" "$work/kraken/"; done
else
  build Kraken.Daemon/Kraken.Daemon.csproj kraken >/dev/null
fi
sim_kind="$(build Kraken.Sim/Kraken.Sim.csproj kraken-sim)"

# What was built, as kraken itself says: "kraken 1.0.0+<commit> (aot, linux-x64, .NET 10.0.x)".
line="$("$work/kraken/kraken" --version)"
kraken_kind="$(sed -E 's/^[^(]*\(([^,)]*).*/\1/' <<<"$line")"
case "$kraken_kind" in aot|single-file) ;; *) echo "build.sh: kraken is a '$kraken_kind' build; the packages need aot or single-file" >&2; exit 1 ;; esac
"$work/kraken-sim/kraken-sim" show >/dev/null || { echo "build.sh: kraken-sim does not run" >&2; exit 1; }

# The programs and the native libraries they load (libe_sqlite3.so); not symbols (*.dbg), pdb or xml files.
rm -rf "$bin"
mkdir -p "$bin"
cp -p "$work/kraken/kraken" "$work/kraken-sim/kraken-sim" "$bin/"
for so in "$work/kraken"/*.so "$work/kraken-sim"/*.so; do [ -e "$so" ] && cp -p "$so" "$bin/"; done

if [ -z "$version" ]; then
  base="$(sed -E 's/^kraken ([0-9][0-9.]*).*/\1/' <<<"$line")"
  if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
    version="$base+$(git -C "$root" rev-list --count HEAD).g$(git -C "$root" rev-parse --short=10 HEAD)"
  else
    version="$base"
  fi
fi
upstream="${version%%+*}"
release="${version#"$upstream"}"; release="${release#+}"; release="${release:-1}"

# The file tree both packages install.
stage="$work/root"
install -d "$stage/usr/bin" "$stage/usr/lib/kraken" "$stage/usr/share/doc/kraken"
install -m 0755 "$bin/kraken" "$bin/kraken-sim" "$stage/usr/lib/kraken/"
for so in "$bin"/*.so; do [ -e "$so" ] && install -m 0644 "$so" "$stage/usr/lib/kraken/"; done
# Links, so the programs find their libraries (libe_sqlite3.so) beside their real path.
ln -s ../lib/kraken/kraken "$stage/usr/bin/kraken"
ln -s ../lib/kraken/kraken-sim "$stage/usr/bin/kraken-sim"
install -D -m 0644 "$root/packaging/kraken.service" "$stage/usr/lib/systemd/system/kraken.service"
install -D -m 0644 "$root/packaging/kraken.sysusers" "$stage/usr/lib/sysusers.d/kraken.conf"
install -D -m 0644 "$root/packaging/kraken.tmpfiles" "$stage/usr/lib/tmpfiles.d/kraken.conf"
install -D -m 0644 "$root/packaging/kraken.json" "$stage/etc/kraken/kraken.json"
# The documents the unit names (Documentation=), and the README.
install -m 0644 "$root/docs/daemon.md" "$root/docs/packaging.md" "$root/README.md" "$stage/usr/share/doc/kraken/"
for doc in $(sed -n 's|^Documentation=||p' "$root/packaging/kraken.service"); do
  [ -f "$stage${doc#file://}" ] || { echo "build.sh: the unit names $doc, which the package does not hold" >&2; exit 1; }
done

# Maintainer scripts, one text for both package formats.
setup_script() {
  cat <<'EOF'
# The kraken user, its directories, and a random API token and join secret (never overwritten).
if command -v systemd-sysusers >/dev/null 2>&1; then
  systemd-sysusers kraken.conf
elif ! getent passwd kraken >/dev/null; then
  useradd --system --user-group --home-dir /var/lib/kraken --no-create-home --shell /usr/sbin/nologin kraken
fi
if command -v systemd-tmpfiles >/dev/null 2>&1; then
  systemd-tmpfiles --create kraken.conf
else
  install -d -m 0750 -o kraken -g kraken /var/lib/kraken
  install -d -m 0700 -o kraken -g kraken /etc/kraken/credentials
fi
for secret in api-token join-secret; do
  if [ ! -e "/etc/kraken/$secret" ]; then
    (umask 077; head -c 32 /dev/urandom | base64 | tr -d '=\n' | tr '+/' '-_' >"/etc/kraken/$secret.new"; echo >>"/etc/kraken/$secret.new")
    chown kraken:kraken "/etc/kraken/$secret.new"
    mv "/etc/kraken/$secret.new" "/etc/kraken/$secret"
  fi
done
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
fi
EOF
}
restart_script() {
  cat <<'EOF'
# An upgrade restarts a running daemon on the new binary; a stopped one stays stopped.
if [ -d /run/systemd/system ]; then
  systemctl try-restart kraken.service || true
fi
EOF
}
stop_script() {
  cat <<'EOF'
# Removal (not an upgrade) stops and disables the daemon.
if command -v systemctl >/dev/null 2>&1; then
  systemctl --no-reload disable kraken.service >/dev/null 2>&1 || true
  if [ -d /run/systemd/system ]; then
    systemctl stop kraken.service || true
  fi
fi
EOF
}
reload_script() {
  cat <<'EOF'
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
fi
EOF
}
purge_script() {
  cat <<'EOF'
# Purge: the secrets the package made, and its directories if empty. The Cfg database (/var/lib/kraken), BMC
# credentials an operator put in /etc/kraken/credentials and the kraken user stay.
rm -f /etc/kraken/api-token /etc/kraken/join-secret
rmdir /etc/kraken/credentials /etc/kraken 2>/dev/null || true
EOF
}

# Runtime libraries: the C library and OpenSSL (loaded at run time for cryptography); a single-file build also
# needs the C++ runtime. libpcap is recommended: DHCP can use an AF_PACKET socket instead.
glibc="$(objdump -T "$bin/kraken" "$bin/kraken-sim" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1 || true)"
deb_depends="libc6${glibc:+ (>= $glibc)}, libssl3 | libssl3t64 | libssl1.1"
if [ "$kraken_kind" = single-file ] || [ "$sim_kind" = single-file ]; then
  deb_depends="$deb_depends, libstdc++6, libgcc-s1"
fi
summary="Kraken cluster state daemon, client and simulator"
description="Kraken brings an HPC cluster up from cold iron and keeps it in its intended state: a tree of daemons
syncs desired and discovered node state, powers nodes through their BMCs and PXE-boots them. This package holds
the kraken daemon and client, the kraken-sim simulator and the systemd unit."

# .deb
deb="$work/deb"
cp -a "$stage" "$deb"
install -d "$deb/DEBIAN"
{
  echo "Package: kraken"
  echo "Version: $version"
  echo "Architecture: amd64"
  echo "Maintainer: ${KRAKEN_MAINTAINER:-Kraken for .NET <kraken@localhost>}"
  echo "Installed-Size: $(du -sk --exclude=DEBIAN "$deb" | cut -f1)"
  echo "Depends: $deb_depends"
  echo "Recommends: libpcap0.8"
  echo "Section: admin"
  echo "Priority: optional"
  echo "Description: $summary"
  sed -e 's/^/ /' <<<"$description"
} >"$deb/DEBIAN/control"
echo /etc/kraken/kraken.json >"$deb/DEBIAN/conffiles"
(cd "$deb" && find usr -type f -print0 | sort -z | xargs -0 md5sum) >"$deb/DEBIAN/md5sums"
{ echo '#!/bin/sh'; echo 'set -e'; echo 'if [ "$1" = configure ]; then'; setup_script
  echo 'if [ -n "$2" ]; then'; restart_script; echo 'fi'; echo 'fi'; } >"$deb/DEBIAN/postinst"
{ echo '#!/bin/sh'; echo 'set -e'; echo 'if [ "$1" = remove ]; then'; stop_script; echo 'fi'; } >"$deb/DEBIAN/prerm"
{ echo '#!/bin/sh'; echo 'set -e'; echo 'if [ "$1" = remove ] || [ "$1" = purge ]; then'; reload_script; echo 'fi'
  echo 'if [ "$1" = purge ]; then'; purge_script; echo 'fi'; } >"$deb/DEBIAN/postrm"
chmod 0755 "$deb/DEBIAN/postinst" "$deb/DEBIAN/prerm" "$deb/DEBIAN/postrm"
deb_file="$output/kraken_${version}_amd64.deb"
rm -f "$output"/kraken_*_amd64.deb
dpkg-deb --root-owner-group -Zxz --build "$deb" "$deb_file" >/dev/null
echo "build.sh: $deb_file ($(du -h "$deb_file" | cut -f1))" >&2

# .rpm
if [ "$rpm" = 1 ]; then
  rpm_release="${release//[^A-Za-z0-9._]/.}"
  spec="$work/kraken.spec"
  cat >"$spec" <<EOF
# Files come prebuilt from the staging tree: no compilation, stripping or debug package here.
%global debug_package %{nil}
%global __os_install_post %{nil}
%global _build_id_links none
%global __requires_exclude ^libe_sqlite3
# xz as the .deb: every rpm since RHEL 7 reads it.
%global _binary_payload w6.xzdio
Name: kraken
Version: $upstream
Release: $rpm_release
Summary: $summary
License: see /usr/share/doc/kraken
BuildArch: x86_64
AutoProv: no
Requires: (libssl.so.3()(64bit) or libssl.so.1.1()(64bit))
Recommends: libpcap

%description
$description

%install
cp -a "$stage"/. %{buildroot}/

%post
$(setup_script)
if [ "\$1" -ge 2 ]; then
$(restart_script)
fi

%preun
if [ "\$1" -eq 0 ]; then
$(stop_script)
fi

%postun
if [ "\$1" -eq 0 ]; then
$(reload_script)
fi

%files
%dir /usr/lib/kraken
/usr/lib/kraken/*
/usr/bin/kraken
/usr/bin/kraken-sim
/usr/lib/systemd/system/kraken.service
/usr/lib/sysusers.d/kraken.conf
/usr/lib/tmpfiles.d/kraken.conf
%dir /etc/kraken
%config(noreplace) /etc/kraken/kraken.json
%doc /usr/share/doc/kraken
EOF
  rm -f "$output"/kraken-*.x86_64.rpm
  rpmbuild -bb --target x86_64-linux --define "_topdir $work/rpmbuild" --define "_rpmdir $output" \
    --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" --define "_dbpath $work/rpmdb" \
    "$spec" >"$work/rpmbuild.log" 2>&1 || { cat "$work/rpmbuild.log" >&2; exit 1; }
  rpm_file="$(ls "$output"/kraken-*.x86_64.rpm)"
  echo "build.sh: $rpm_file ($(du -h "$rpm_file" | cut -f1))" >&2
fi

echo "build.sh: kraken ($kraken_kind), kraken-sim ($sim_kind) in $bin; version $version; $((SECONDS - started)) s" >&2
