import CCommandLine
import COutboundEvents
import CSystem
import CSystemd
import OutboundEventsAgent
import OutboundEventsCore

// outbound-eventsd [--config FILE]: stays in the foreground (systemd's Type=notify), exit
// status 0 after SIGTERM or SIGINT, 1 when it cannot start, 64 for a usage error.

func fail(_ text: String, status: Int32 = 1) -> Never {
    var line = Array((text + "\n").utf8)
    _ = line.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    exit(status)
}

let usage = """
    usage: outbound-eventsd [--config FILE]
    The appliance's outbound events daemon (man outbound-eventsd). FILE defaults to \(Daemon.defaultConfig);
    check it with `outbound-events check FILE`. SIGHUP reloads it, SIGTERM stops the daemon.
    """

/// The configuration file the command line names; `--version` and `--help` answer and exit.
func configPath() -> String {
    var path = Daemon.defaultConfig
    // From CCommandLine: Embedded Swift has no CommandLine.
    var arguments = (0..<ccommandline_count()).dropFirst().map { String(cString: ccommandline_argument($0)!) }[...]
    while let argument = arguments.popFirst() {
        switch argument {
        case "--config", "-c":
            guard let value = arguments.popFirst() else {
                fail("outbound-eventsd: --config needs a FILE\n\(usage)", status: 64)
            }
            path = value
        case _ where argument.hasPrefix("--config="):
            path = String(argument.dropFirst("--config=".count))
        case "--version":
            print("outbound-eventsd \(OE_VERSION_STRING)")
            exit(0)
        case "--help", "-h":
            print(usage)
            exit(0)
        default:
            fail("outbound-eventsd: unknown argument \(argument)\n\(usage)", status: 64)
        }
    }
    return path
}

/// Starts the daemon, then serves its signals: SIGHUP reloads, SIGTERM and SIGINT stop it.
func run(configPath: String) -> Never {
    // The signals are taken by sigwait below, so every thread starts with them blocked.
    var handled = sigset_t()
    sigemptyset(&handled)
    for signal in [SIGHUP, SIGTERM, SIGINT] { sigaddset(&handled, signal) }
    pthread_sigmask(SIG_BLOCK, &handled, nil)

    let (loaded, problems) = Daemon.load(configPath)
    guard let configuration = loaded, problems.isEmpty else { fail(problems.joined(separator: "\n")) }
    let daemon: Daemon
    do { daemon = try Daemon.start(configuration) } catch {
        fail("outbound-eventsd: \(error.message)")
    }
    sd_notify(0, "READY=1\nSTATUS=delivering")

    while true {
        var signal: Int32 = 0
        guard sigwait(&handled, &signal) == 0 else { continue }
        if signal == SIGHUP {
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            sd_notify(0, "RELOADING=1\nMONOTONIC_USEC=\(Int(now.tv_sec) * 1_000_000 + Int(now.tv_nsec) / 1000)")
            daemon.reload()
            sd_notify(0, "READY=1\nSTATUS=delivering")
            continue
        }
        sd_notify(0, "STOPPING=1")
        daemon.stop()
        exit(0)
    }
}

// The state lives in the functions: without Swift concurrency (Embedded Swift), a top-level
// variable is unchecked global mutable state, refused in Swift 6.
run(configPath: configPath())
