#!/usr/bin/env python3
"""Builds what ships in Embedded Swift, with no Swift runtime inside: the library,
liboutbound-events.so.1, and the daemon, outbound-eventsd.

The same sources as `swift build` (which the Swift tests use, in normal Swift): the targets, their
sources and their dependencies are read from the package manifest (`swift package describe`), so
this script holds no second list of them. Each Swift module is compiled whole (-wmo) in Embedded
mode, each C target with the toolchain's clang, once for both products; then the library's
objects are linked into one shared object that exports only the oe_* functions
(Sources/OutboundEventsLibrary/exports.map), and the daemon's into one executable.

    scripts/build-embedded.py BUILDDIR   writes BUILDDIR/lib/liboutbound-events.so.1 and
                                         BUILDDIR/bin/outbound-eventsd (not stripped);
                                         objects and modules go to .build/embedded

It does nothing when nothing that goes into them changed: a stamp beside them records every
input file (path, size, modification time), the compiler, the flags and the system libraries'
pkg-config answers; any difference rebuilds from scratch.
"""
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys

LIBRARY_TARGET = "OutboundEventsLibrary"
DAEMON_TARGET = "OutboundEventsDaemon"
SONAME = "liboutbound-events.so.1"
DAEMON = "outbound-eventsd"
SWIFT_FLAGS = [
    "-enable-experimental-feature", "Embedded", "-wmo", "-swift-version", "6",
    "-O", "-enforce-exclusivity=unchecked", "-Xcc", "-fPIC", "-Xfrontend", "-function-sections",
]
# Both products: relocation read-only after start (RELRO, BIND_NOW), unused sections dropped,
# C libraries linked only where used.
LINK_FLAGS = ["-Wl,-z,relro", "-Wl,-z,now", "-Wl,--gc-sections", "-Wl,--as-needed"]
# gnu11 as SwiftPM compiles the same files; hardening as Debian builds C.
C_FLAGS = ["-std=gnu11", "-fPIC", "-O2", "-ffunction-sections", "-fdata-sections", "-fstack-protector-strong",
           "-D_FORTIFY_SOURCE=2", "-Wall", "-Wextra", "-Werror"]


def run(command):
    print("  " + " ".join(shlex.quote(part) for part in command[:6]) + (" …" if len(command) > 6 else ""), flush=True)
    subprocess.run(command, check=True)


def output(command, cwd=None):
    """A command's standard output; its errors go to the terminal."""
    return subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.PIPE, text=True).stdout


def system_packages(root):
    """System library target → its pkg-config name, from Package.swift (the manifest's JSON
    description does not carry it)."""
    packages = {}
    for line in open(os.path.join(root, "Package.swift")):
        if ".systemLibrary(" in line:
            if 'pkgConfig: "' not in line:
                sys.exit("build-embedded: write each .systemLibrary(name:, pkgConfig:) of Package.swift on one line")
            packages[line.split('name: "')[1].split('"')[0]] = line.split('pkgConfig: "')[1].split('"')[0]
    return packages


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    build = os.path.abspath(sys.argv[1])
    library = os.path.join(build, "lib", SONAME)
    daemon = os.path.join(build, "bin", DAEMON)
    stamp_path = os.path.join(build, "embedded.inputs")
    out = os.path.join(root, ".build", "embedded")

    swiftc = shutil.which("swiftc")
    if not swiftc:
        sys.exit("build-embedded: swiftc is not on PATH (export PATH=/opt/swift/usr/bin:$PATH)")
    info = json.loads(output([swiftc, "-print-target-info"]))
    triple = info["target"]["unversionedTriple"]
    clang = os.path.join(os.path.dirname(os.path.realpath(swiftc)), "clang")
    # The Unicode data Embedded Swift's String needs for Characters, comparison and case mapping;
    # only the tables used are linked (--gc-sections).
    unicode_tables = os.path.join(info["paths"]["runtimeResourcePath"], "embedded", triple, "libswiftUnicodeDataTables.a")

    manifest = json.loads(output(["swift", "package", "describe", "--type", "json"], cwd=root))
    targets = {target["name"]: target for target in manifest["targets"]}
    packages = system_packages(root)

    # Each product's targets, and all of them in dependency order (dependencies first).
    order = []

    def visit(name, reached):
        if name in reached:
            return
        reached.add(name)
        for dependency in targets[name].get("target_dependencies") or []:
            visit(dependency, reached)
        if name not in order:
            order.append(name)
    library_targets, daemon_targets = set(), set()
    visit(LIBRARY_TARGET, library_targets)
    visit(DAEMON_TARGET, daemon_targets)

    # Everything that goes into them, to decide whether they must be built again.
    inputs = [os.path.abspath(__file__), os.path.join(root, "Package.swift"), unicode_tables]
    for folder in [os.path.join(root, "include")] + [os.path.join(root, targets[n]["path"]) for n in order
                                                      if targets[n]["path"] != "."]:
        inputs += [os.path.join(parent, name) for parent, _, names in os.walk(folder) for name in names]
    stamp = hashlib.sha256()
    for path in sorted(inputs):
        status = os.stat(path)
        stamp.update(("%s %d %d\n" % (path, status.st_size, status.st_mtime_ns)).encode())
    stamp.update(output([swiftc, "--version"]).encode() + output([clang, "--version"]).encode())
    stamp.update(repr((SWIFT_FLAGS, C_FLAGS, LINK_FLAGS)).encode())
    for name in order:
        if name in packages:
            stamp.update(output(["pkg-config", "--cflags", "--libs", "--modversion", packages[name]]).encode())
    stamp = stamp.hexdigest()
    if all(map(os.path.exists, [library, daemon, stamp_path])) and open(stamp_path).read().strip() == stamp:
        print(library + " and " + daemon + " are up to date")
        return

    # From scratch: no object or module of a removed or renamed target can be picked up.
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    for product in (library, daemon):
        os.makedirs(os.path.dirname(product), exist_ok=True)
    module_maps, clang_includes = [], []
    objects, libraries = {}, {}  # per target
    for name in order:
        target = targets[name]
        path = os.path.join(root, target["path"])
        kind = target["module_type"]
        objects[name], libraries[name] = [], []
        if kind == "SystemLibraryTarget":
            module_maps.append(os.path.join(path, "module.modulemap"))
            clang_includes += output(["pkg-config", "--cflags-only-I", packages[name]]).split()
            libraries[name] = output(["pkg-config", "--libs", packages[name]]).split()
        elif kind == "ClangTarget":
            include = os.path.join(path, "include")
            headers = sorted(entry for entry in os.listdir(include) if entry.endswith(".h"))
            module_map = os.path.join(out, "modules", name, "module.modulemap")
            os.makedirs(os.path.dirname(module_map), exist_ok=True)
            with open(module_map, "w") as file:
                file.write("module %s {\n%s    export *\n}\n" % (
                    name, "".join('    header "%s"\n' % os.path.join(include, header) for header in headers)))
            module_maps.append(module_map)
            clang_includes.append("-I" + include)
            for source in target["sources"]:
                if source.endswith("header_check.c"):
                    continue  # compiles the public header as C11 for SwiftPM; nothing to link
                objects[name].append(os.path.join(out, "%s-%s.o" % (name, source.replace("/", "-"))))
                run([clang, *C_FLAGS, *clang_includes, "-c", os.path.join(path, source), "-o", objects[name][-1]])
        else:
            sources = [os.path.join(path, source) for source in target["sources"]]
            objects[name].append(os.path.join(out, name + ".o"))
            clang_flags = [flag for include in clang_includes for flag in ("-Xcc", include)]
            maps = [flag for module_map in module_maps for flag in ("-Xcc", "-fmodule-map-file=" + module_map)]
            # An executable's main.swift is top-level code; every other module is a library.
            mode = [] if target["type"] == "executable" else ["-parse-as-library"]
            run([swiftc, *SWIFT_FLAGS, *mode, "-module-name", name, "-I", out, *clang_flags, *maps,
                 "-emit-module", "-emit-module-path", os.path.join(out, name + ".swiftmodule"),
                 "-c", "-o", objects[name][-1], *sources])

    def inputs_of(reached):
        """The objects and C libraries of a product's targets, in dependency order."""
        return ([path for name in order if name in reached for path in objects[name]]
                + list(dict.fromkeys(flag for name in order if name in reached for flag in libraries[name]))
                + [unicode_tables, "-lm"])

    exports = os.path.join(root, "Sources", LIBRARY_TARGET, "exports.map")
    linked = os.path.join(out, SONAME)
    run([clang, "-shared", "-o", linked, "-Wl,--version-script=" + exports, "-Wl,-soname=" + SONAME,
         "-Wl,--no-undefined", *LINK_FLAGS, *inputs_of(library_targets)])
    os.replace(linked, library)
    linked = os.path.join(out, DAEMON)
    run([clang, "-pie", "-o", linked, *LINK_FLAGS, *inputs_of(daemon_targets)])
    os.replace(linked, daemon)
    with open(stamp_path, "w") as file:
        file.write(stamp + "\n")
    print(library)
    print(daemon)


if __name__ == "__main__":
    main()
