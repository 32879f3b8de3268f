#!/usr/bin/env bash
# Builds the three Debian packages into dist/ (make deb):
#   liboutbound-events1      the library, SONAME liboutbound-events.so.1, built in Embedded Swift
#                            (scripts/build-embedded.py): no Swift runtime inside
#   liboutbound-events-dev   header, unversioned link, pkg-config file, CMake package
#   outbound-events-tools    the outbound-events tool (normal Swift, its runtime linked in) and the
#                            outbound-eventsd daemon (Embedded Swift, like the library; its systemd
#                            unit, conffile and maintainer scripts), their man pages, the journald
#                            catalog, profiles
# The version comes from include/outbound_events.h; DEB_REVISION (default 1) is the Debian
# revision, and DEB_VERSION overrides the whole package version (the upgrade test builds an
# older one that way).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

version=$(sed -n 's/^#define OE_VERSION_STRING "\(.*\)"/\1/p' include/outbound_events.h)
major=${version%%.*}
package_version=${DEB_VERSION:-$version-${DEB_REVISION:-1}}
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
maintainer="Outbound Events Team <maintainers@users.noreply.r-seed-a52f949d.example>"
homepage="https://github.com/outbound-events/outbound-events"

scripts/install-deps.sh build deb
scripts/build-embedded.py build
swift build -c release --product outbound-events-tool
bin=$(swift build -c release --show-bin-path)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p dist

# Every package's documentation: copyright and a compressed Debian changelog, and its lintian
# overrides, each with its reason.
docs() {
    local stage=$1 name=$2
    install -d -m 0755 "$stage/usr/share/doc/$name" "$stage/usr/share/lintian/overrides"
    install -m 0644 packaging/debian/copyright "$stage/usr/share/doc/$name/copyright"
    gzip -9n < packaging/debian/changelog > "$stage/usr/share/doc/$name/changelog.Debian.gz"
    chmod 0644 "$stage/usr/share/doc/$name/changelog.Debian.gz"
    {
        echo "# These packages go into the appliance image, not into Debian: there is no ITP bug to close."
        echo "$name: initial-upload-closes-no-bugs [usr/share/doc/$name/changelog.Debian.gz:1]"
    } > "$stage/usr/share/lintian/overrides/$name"
    chmod 0644 "$stage/usr/share/lintian/overrides/$name"
}

# The Depends of the ELF files given, as dpkg-shlibdeps computes them.
shlibdeps() {
    local tree="$work/shlibdeps"
    mkdir -p "$tree/debian"
    printf 'Source: outbound-events\n\nPackage: outbound-events\nArchitecture: any\n' > "$tree/debian/control"
    (cd "$tree" && dpkg-shlibdeps -O "$@" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
}

control() {
    local stage=$1
    shift
    install -d -m 0755 "$stage/DEBIAN"
    {
        printf '%s\n' "$@"
        echo "Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)"
    } > "$stage/DEBIAN/control"
}

build() {
    local stage=$1 name=$2
    find "$stage" -type d -exec chmod 0755 {} +
    (cd "$stage" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum > DEBIAN/md5sums)
    chmod 0644 "$stage/DEBIAN/md5sums"
    dpkg-deb --root-owner-group -Zxz --build "$stage" "dist/${name}_${package_version}_${arch}.deb" >/dev/null
    echo "built dist/${name}_${package_version}_${arch}.deb"
}

# liboutbound-events1
lib="$work/liboutbound-events$major"
libdir="$lib/usr/lib/$multiarch"
install -d -m 0755 "$libdir"
install -m 0644 build/lib/liboutbound-events.so.1 "$libdir/liboutbound-events.so.$version"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$libdir/liboutbound-events.so.$version"
ln -s "liboutbound-events.so.$version" "$libdir/liboutbound-events.so.$major"
docs "$lib" "liboutbound-events$major"
depends=$(shlibdeps "$libdir/liboutbound-events.so.$version")
control "$lib" "Package: liboutbound-events$major" "Source: outbound-events" "Version: $package_version" \
    "Architecture: $arch" "Multi-Arch: same" "Maintainer: $maintainer" "Section: libs" "Priority: optional" \
    "Depends: $depends" "Homepage: $homepage" \
    "Description: outbound events agent of the B Series appliance (library)" \
    " The appliance's firmware services link this library to tell outside systems" \
    " (ticketing, chat, SIEM, on-call) what happens on the appliance: sessions" \
    " starting and ending, people joining and leaving, exit surveys completed." \
    " Events are delivered by HTTP POST to webhook recipients and by email through" \
    " an SMTP relay, strictly in order per recipient, retried until accepted, from" \
    " a bounded queue that can survive crashes in a spool file." \
    " ." \
    " This package holds the shared library, built in Embedded Swift: it needs no" \
    " Swift runtime."
{
    echo "liboutbound-events.so.$major liboutbound-events$major #MINVER#"
    echo "* Build-Depends-Package: liboutbound-events-dev"
    nm -D --defined-only --extern-only "$libdir/liboutbound-events.so.$version" |
        awk -v v="$version" '{sub(/@@/, "@", $3); print " " $3 " " v}' | sort
} > "$lib/DEBIAN/symbols"
echo "liboutbound-events $major liboutbound-events$major (>= $version)" > "$lib/DEBIAN/shlibs"
echo "activate-noawait ldconfig" > "$lib/DEBIAN/triggers"
chmod 0644 "$lib/DEBIAN/symbols" "$lib/DEBIAN/shlibs" "$lib/DEBIAN/triggers"
build "$lib" "liboutbound-events$major"

# liboutbound-events-dev
dev="$work/liboutbound-events-dev"
install -d -m 0755 "$dev/usr/include" "$dev/usr/lib/$multiarch/pkgconfig"
install -m 0644 include/outbound_events.h "$dev/usr/include/outbound_events.h"
ln -s "liboutbound-events.so.$major" "$dev/usr/lib/$multiarch/liboutbound-events.so"
sed -e "s/@VERSION@/$version/" -e "s/@MULTIARCH@/$multiarch/" packaging/outbound-events.pc.in \
    > "$dev/usr/lib/$multiarch/pkgconfig/outbound-events.pc"
chmod 0644 "$dev/usr/lib/$multiarch/pkgconfig/outbound-events.pc"
install -d -m 0755 "$dev/usr/lib/$multiarch/cmake/OutboundEvents"
for file in OutboundEventsConfig OutboundEventsConfigVersion; do
    sed -e "s/@VERSION@/$version/g" -e "s/@MAJOR@/$major/g" -e "s/@SIZEOF_VOID_P@/$(getconf LONG_BIT | awk '{print $1 / 8}')/g" \
        "packaging/cmake/$file.cmake.in" > "$dev/usr/lib/$multiarch/cmake/OutboundEvents/$file.cmake"
    chmod 0644 "$dev/usr/lib/$multiarch/cmake/OutboundEvents/$file.cmake"
done
docs "$dev" liboutbound-events-dev
control "$dev" "Package: liboutbound-events-dev" "Source: outbound-events" "Version: $package_version" \
    "Architecture: $arch" "Multi-Arch: same" "Maintainer: $maintainer" "Section: libdevel" "Priority: optional" \
    "Depends: liboutbound-events$major (= $package_version)" "Homepage: $homepage" \
    "Description: outbound events agent of the B Series appliance (development files)" \
    " The appliance's firmware services link liboutbound-events to deliver events" \
    " to webhook and email recipients." \
    " ." \
    " This package holds the C header outbound_events.h, the link to the shared" \
    " library and the pkg-config file: build with" \
    " cc app.c \$(pkg-config --cflags --libs outbound-events)."
build "$dev" liboutbound-events-dev

# outbound-events-tools
tools="$work/outbound-events-tools"
install -d -m 0755 "$tools/usr/bin" "$tools/usr/share/man/man1" "$tools/usr/share/man/man8" \
    "$tools/usr/lib/systemd/catalog" "$tools/usr/lib/systemd/system" "$tools/usr/share/outbound-events/profiles" \
    "$tools/usr/lib/tmpfiles.d" "$tools/etc/outbound-events"
install -m 0755 "$bin/outbound-events-tool" "$tools/usr/bin/outbound-events"
install -m 0755 build/bin/outbound-eventsd "$tools/usr/bin/outbound-eventsd"
# swift build gives the tool a RUNPATH ($ORIGIN); the Embedded daemon has none.
patchelf --remove-rpath "$tools/usr/bin/outbound-events"
for program in outbound-events outbound-eventsd; do
    strip --strip-unneeded --remove-section=.comment --remove-section=.note "$tools/usr/bin/$program"
done
gzip -9n < packaging/outbound-events.1 > "$tools/usr/share/man/man1/outbound-events.1.gz"
gzip -9n < packaging/outbound-eventsd.8 > "$tools/usr/share/man/man8/outbound-eventsd.8.gz"
chmod 0644 "$tools/usr/share/man/man1/outbound-events.1.gz" "$tools/usr/share/man/man8/outbound-eventsd.8.gz"
install -m 0644 packaging/outbound-events.catalog "$tools/usr/lib/systemd/catalog/outbound-events.catalog"
install -m 0644 firmware-profile/b-series.profile "$tools/usr/share/outbound-events/profiles/b-series.profile"
install -m 0644 packaging/outbound-events.tmpfiles "$tools/usr/lib/tmpfiles.d/outbound-events.conf"
install -m 0644 packaging/outbound-events.service "$tools/usr/lib/systemd/system/outbound-events.service"
# The daemon's configuration, a conffile: 0640 from the start, because it will hold secrets;
# the postinst gives it the group outbound-events once that exists.
install -m 0640 packaging/outbound-events.conf "$tools/etc/outbound-events/outbound-events.conf"
docs "$tools" outbound-events-tools
{
    echo "# The daemon's configuration holds secrets (smtp.password, signing_secret): not world-readable."
    echo "outbound-events-tools: non-standard-file-perm 0640 != 0644 [etc/outbound-events/outbound-events.conf]"
} >> "$tools/usr/share/lintian/overrides/outbound-events-tools"
depends=$(shlibdeps "$tools/usr/bin/outbound-events" "$tools/usr/bin/outbound-eventsd")
control "$tools" "Package: outbound-events-tools" "Source: outbound-events" "Version: $package_version" \
    "Architecture: $arch" "Maintainer: $maintainer" "Section: admin" "Priority: optional" \
    "Depends: $depends, adduser, procps" "Homepage: $homepage" \
    "Description: outbound events agent of the B Series appliance (daemon and field tool)" \
    " The outbound-eventsd daemon is the appliance's one delivering agent: the" \
    " firmware services write their events into its queue (queue.attach), and it" \
    " delivers them to the webhook and email recipients of one configuration," \
    " /etc/outbound-events/outbound-events.conf. It runs as the systemd service" \
    " outbound-events.service, as its own system user, reloads on systemctl" \
    " reload." \
    " ." \
    " The outbound-events tool validates settings files, sends a test event to a" \
    " URL and shows exactly what happened (address, TLS verification, answer," \
    " timing), drives an agent from a settings file, and shows the status of" \
    " running agents." \
    " ." \
    " This package also installs the journald message catalog, so that" \
    " journalctl -x explains the agent's entries, and the firmware profiles."
# The conffile, and the maintainer scripts: the system user, the conffile's group, the unit
# enabled and started (written as debhelper's dh_installsystemd would generate them).
echo "/etc/outbound-events/outbound-events.conf" > "$tools/DEBIAN/conffiles"
chmod 0644 "$tools/DEBIAN/conffiles"
for script in postinst prerm postrm; do
    install -m 0755 "packaging/debian/outbound-events-tools.$script" "$tools/DEBIAN/$script"
done
build "$tools" outbound-events-tools
