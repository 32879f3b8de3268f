// swift-tools-version: 6.1
//
// Layers, each importing only those below it (see README, "Where the spec lives"):
//   face    OutboundEvents (the @c @implementation functions of include/outbound_events.h)
//   agent   OutboundEventsAgent (queue, recipients, delivery thread, status, logging)
//   edges   Transfers (libcurl: HTTP and SMTP), TLSMaterial (OpenSSL), Journal (libsystemd),
//           Spool (the memory-mapped queue file)
//   support Locking (pthread locks), CSystem (a C module over the system headers: no Glibc in
//           Embedded Swift, which the shipped library and daemon are built in:
//           scripts/build-embedded.py), CCommandLine (the daemon's arguments)
//   core    OutboundEventsCore (pure Swift: settings, profile, ring queue, scheduling, encoding)
import PackageDescription

let root = Context.packageDirectory

/// Release builds drop Swift's run-time exclusivity checks in the hot path (emit); debug builds,
/// which every test runs, keep them and would catch a violation.
let fast: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "outbound-events",
    products: [
        // liboutbound-events.so in normal Swift (runtime linked statically, only oe_* exported), for
        // the tests' fallback and bench/. The library that ships is the same target built in
        // Embedded Swift by scripts/build-embedded.py (make lib).
        .library(name: "outbound-events", type: .dynamic, targets: ["OutboundEventsLibrary"]),
        .executable(name: "outbound-events-tool", targets: ["OutboundEventsTool"]),
        // outbound-eventsd: appliance mode's daemon (SPEC 9), in the tools package; the one that
        // ships is built in Embedded Swift (make lib).
        .executable(name: "outbound-eventsd", targets: ["OutboundEventsDaemon"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // The public header, as a C module Swift can import; its one source compiles the header as C11.
        .target(
            name: "COutboundEvents",
            path: ".",
            sources: ["Sources/COutboundEvents/header_check.c"],
            publicHeadersPath: "include",
            cSettings: [.unsafeFlags(["-std=c11", "-Wall", "-Wextra", "-Werror"])]
        ),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        // The page's HTTP server (SPEC 13): the daemon links it, never the library.
        .systemLibrary(name: "CMicroHTTPD", pkgConfig: "libmicrohttpd", providers: [.apt(["libmicrohttpd-dev"])]),
        // Swift-friendly signatures for the C calls Swift cannot make directly (variadic, macros).
        .target(name: "CShims", dependencies: ["CCurl", "COpenSSL"]),
        // The system headers the library uses (Embedded Swift has no Glibc module).
        .target(name: "CSystem"),
        // An executable's command line (Embedded Swift has no CommandLine); never the library's.
        .target(name: "CCommandLine"),
        // libmicrohttpd behind calls Swift can make (its start is variadic, its handler is
        // called per body piece): the daemon's page.
        .target(name: "CAdminHTTP", dependencies: ["CMicroHTTPD"]),

        // CRC-32C with the processor's instruction: the records' checksum (the core's only C).
        .target(name: "CChecksum"),
        .target(name: "OutboundEventsCore", dependencies: ["CChecksum"], swiftSettings: fast),
        // Locks over pthreads (Synchronization's Mutex is not in Embedded Swift).
        .target(name: "Locking", dependencies: ["OutboundEventsCore", "CSystem"]),

        .target(name: "Transfers", dependencies: ["OutboundEventsCore", "CCurl", "CShims", "CSystem"]),
        .target(name: "TLSMaterial", dependencies: ["OutboundEventsCore", "COpenSSL", "CShims", "CSystem"]),
        .target(name: "Journal", dependencies: ["OutboundEventsCore", "CSystemd", "CSystem", "Locking"]),
        .target(name: "Spool", dependencies: ["OutboundEventsCore", "CSystem", "Locking"]),

        .target(
            name: "OutboundEventsAgent",
            dependencies: ["OutboundEventsCore", "Transfers", "TLSMaterial", "Journal", "Spool", "CSystem", "Locking"],
            swiftSettings: fast
        ),
        .target(name: "OutboundEvents", dependencies: ["COutboundEvents", "OutboundEventsAgent", "CSystem"], swiftSettings: fast),
        // Only the library product links with these flags; tests link OutboundEvents directly.
        .target(
            name: "OutboundEventsLibrary",
            dependencies: ["OutboundEvents"],
            exclude: ["exports.map"],
            linkerSettings: [.unsafeFlags([
                "-static-stdlib",
                "-Xlinker", "--version-script=\(root)/Sources/OutboundEventsLibrary/exports.map",
                "-Xlinker", "-soname=liboutbound-events.so.1",
                "-Xlinker", "-z", "-Xlinker", "relro", "-Xlinker", "-z", "-Xlinker", "now",
            ])]
        ),
        .executableTarget(
            name: "OutboundEventsTool",
            dependencies: [
                "OutboundEventsAgent", "COutboundEvents", "Transfers", "TLSMaterial",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // ArgumentParser brings FoundationEssentials; linked statically, it needs its helper
            // libraries and Synchronization named.
            linkerSettings: [.unsafeFlags([
                "-static-stdlib", "-l_FoundationCollections", "-l_FoundationCShims", "-lswiftSynchronization",
                "-Xlinker", "-z", "-Xlinker", "relro", "-Xlinker", "-z", "-Xlinker", "now",
            ])]
        ),

        .executableTarget(
            name: "OutboundEventsDaemon",
            dependencies: ["OutboundEventsAgent", "COutboundEvents", "Spool", "Locking", "CSystem", "CSystemd", "CCommandLine",
                           "CAdminHTTP", "Transfers", "TLSMaterial"],
            linkerSettings: [.unsafeFlags([
                "-static-stdlib",
                "-Xlinker", "-z", "-Xlinker", "relro", "-Xlinker", "-z", "-Xlinker", "now",
            ])]
        ),

        .testTarget(name: "OutboundEventsCoreTests", dependencies: ["OutboundEventsCore"]),
        .testTarget(
            name: "OutboundEventsTests",
            dependencies: ["OutboundEvents", "OutboundEventsAgent", "COutboundEvents", "Transfers", "TLSMaterial", "Journal", "Spool"],
            exclude: ["Support/make-pki.sh"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
