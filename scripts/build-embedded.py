#!/usr/bin/env python3
"""Builds the shipped library, liboutbound-events.so.1, in Embedded Swift: no Swift runtime inside.

The same sources as `swift build` (which the Swift tests use, in normal Swift): the targets, their
sources and their dependencies are read from the package manifest (`swift package describe`), so
this script holds no second list of them. Each Swift module is compiled whole (-wmo) in Embedded
mode, each C target with clang, and the objects are linked into one shared object that exports
only the oe_* functions (Sources/OutboundEventsLibrary/exports.map).

    scripts/build-embedded.py LIBDIR     writes LIBDIR/liboutbound-events.so.1 (not stripped), its
                                         objects and modules to .build/embedded; does nothing
                                         when the library is newer than every input
"""
import json
import os
import shlex
import subprocess
import sys

PRODUCT_TARGET = "OutboundEventsLibrary"
SONAME = "liboutbound-events.so.1"
SWIFT_FLAGS = [
    "-enable-experimental-feature", "Embedded", "-wmo", "-parse-as-library", "-swift-version", "6",
    "-O", "-enforce-exclusivity=unchecked", "-Xcc", "-fPIC", "-Xfrontend", "-function-sections",
]
C_FLAGS = ["-fPIC", "-O2", "-ffunction-sections", "-fdata-sections", "-Wall", "-Wextra", "-Werror"]


def run(command):
    print("  " + " ".join(shlex.quote(part) for part in command[:6]) + (" …" if len(command) > 6 else ""), flush=True)
    subprocess.run(command, check=True)


def pkg_config(option, package):
    return subprocess.run(["pkg-config", option, package], check=True, capture_output=True, text=True).stdout.split()


def unicode_tables():
    """The Unicode data Embedded Swift's String needs for Characters, comparison and case
    mapping, from the toolchain (only the tables used are linked: --gc-sections)."""
    swiftc = subprocess.run(["which", "swiftc"], check=True, capture_output=True, text=True).stdout.strip()
    toolchain = os.path.dirname(os.path.dirname(os.path.realpath(swiftc)))
    return os.path.join(toolchain, "lib", "swift", "embedded", "x86_64-unknown-linux-gnu", "libswiftUnicodeDataTables.a")


def up_to_date(library, root, targets):
    """Whether the library is newer than this script, the manifest, the public header and every
    file in the folders of the targets it is built from."""
    if not os.path.exists(library):
        return False
    inputs = [os.path.abspath(__file__), os.path.join(root, "Package.swift")]
    folders = [os.path.join(root, "include")]
    folders += [os.path.join(root, target["path"]) for target in targets if target["path"] != "."]
    for folder in folders:
        inputs += [os.path.join(parent, name) for parent, _, names in os.walk(folder) for name in names]
    built = os.path.getmtime(library)
    return all(os.path.getmtime(path) <= built for path in inputs)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    library = os.path.join(os.path.abspath(sys.argv[1]), SONAME)
    out = os.path.join(root, ".build", "embedded")
    os.makedirs(out, exist_ok=True)
    os.makedirs(os.path.dirname(library), exist_ok=True)
    manifest = json.loads(subprocess.run(["swift", "package", "describe", "--type", "json"], cwd=root, check=True,
                                         capture_output=True, text=True).stdout)
    targets = {target["name"]: target for target in manifest["targets"]}
    system_packages = {}  # system library target → pkg-config name, from Package.swift
    for line in open(os.path.join(root, "Package.swift")):
        if ".systemLibrary(" in line and "pkgConfig:" in line:
            name = line.split('name: "')[1].split('"')[0]
            system_packages[name] = line.split('pkgConfig: "')[1].split('"')[0]

    # The product's targets in dependency order (dependencies first).
    order, seen = [], set()

    def visit(name):
        if name in seen:
            return
        seen.add(name)
        for dependency in targets[name].get("target_dependencies") or []:
            visit(dependency)
        order.append(name)
    visit(PRODUCT_TARGET)
    if up_to_date(library, root, [targets[name] for name in order]):
        print(library + " is up to date")
        return

    module_maps, clang_includes, objects, libraries = [], [], [], []
    for name in order:
        target = targets[name]
        path = os.path.join(root, target["path"])
        kind = target["module_type"]
        if kind == "SystemLibraryTarget":
            module_maps.append(os.path.join(path, "module.modulemap"))
            package = system_packages[name]
            clang_includes += pkg_config("--cflags-only-I", package)
            libraries += pkg_config("--libs", package)
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
                objects.append(os.path.join(out, "%s-%s.o" % (name, os.path.basename(source))))
                run(["clang", "-std=c11", *C_FLAGS, *clang_includes, "-c", os.path.join(path, source), "-o", objects[-1]])
        else:
            sources = [os.path.join(path, source) for source in target["sources"]]
            objects.append(os.path.join(out, name + ".o"))
            clang = [flag for include in clang_includes for flag in ("-Xcc", include)]
            maps = [flag for module_map in module_maps for flag in ("-Xcc", "-fmodule-map-file=" + module_map)]
            run(["swiftc", *SWIFT_FLAGS, "-module-name", name, "-I", out, *clang, *maps,
                 "-emit-module", "-emit-module-path", os.path.join(out, name + ".swiftmodule"),
                 "-c", "-o", objects[-1], *sources])

    exports = os.path.join(root, "Sources", PRODUCT_TARGET, "exports.map")
    run(["clang", "-shared", "-o", library, *objects, "-Wl,--version-script=" + exports, "-Wl,-soname=" + SONAME,
         "-Wl,-z,relro", "-Wl,-z,now", "-Wl,--gc-sections", "-Wl,--no-undefined", "-Wl,--as-needed",
         *dict.fromkeys(libraries), unicode_tables(), "-lm", "-lpthread"])
    print(library)


if __name__ == "__main__":
    main()
