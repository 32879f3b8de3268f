// Fuzz target: the C ABI itself, as a firmware's code could drive it. The input is a program of
// oe_* calls with arbitrary strings, counts (within the caller's arrays, or beyond every limit),
// NULL pointers, buffer sizes and call orders, short of use-after-close. Whatever the program:
// no crash, no trap, no hang; every result is a documented code; err is always a terminated
// line; and a planted secret never appears in err or in the status JSON.
//
// Nothing here can reach another host: fuzz/run.sh runs this target in a network namespace of
// its own, and URLs and relays are pinned to 127.0.0.1 besides.
import COutboundEvents
import Glibc
import OutboundEventsCore

let secret = "PLANTED-s3cr3t"
let scratch: String = {
    let path = "/tmp/oe-fuzz-abi-\(getpid())"
    mkdir(path, 0o700)
    return path
}()

/// Reads the input as a program.
struct Program {
    var bytes: UnsafeBufferPointer<UInt8>
    var position = 0

    mutating func byte() -> UInt8? {
        guard position < bytes.count else { return nil }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func number(_ limit: Int) -> Int { Int(byte() ?? 0) % max(1, limit) }

    /// A string: one of a few meaningful ones, or up to 64 bytes of input.
    mutating func text(_ choices: [String]) -> String {
        let selector = byte() ?? 0
        if selector < 128, !choices.isEmpty { return choices[Int(selector) % choices.count] }
        let length = number(65)
        var out: [UInt8] = []
        for _ in 0..<length { out.append(byte() ?? 0x61) }
        // The planted secret may appear only where the harness plants it.
        return String(decoding: out.filter { $0 != 0 }, as: UTF8.self).replacingPlanted()
    }
}

let agentKeys = AgentSettings.keys + ["queue.colour", ""]
let httpKeys = HTTPRecipientSettings.keys + ["url", "url", "colour"]
let emailKeys = EmailRecipientSettings.keys + ["colour"]
let values = ["", "true", "false", "1s", "250ms", "0", "4096", "64KiB", "all", "reject", "drop_oldest", "none", "stderr",
              "support_conference_end", "a@example.com", "a@example.com, b@example.com", "%LSID% %%",
              "cloud", "appliance", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"]

extension String {
    func replacingPlanted() -> String {
        var text = self
        while let range = text.firstRange(of: "PLANTED") { text.replaceSubrange(range, with: "planted") }
        return text
    }
}
let names = ["r", "ticketing", "mail", "Ünïcödé", "", String(repeating: "\u{0301}", count: 70)]
let events = FirmwareProfile.bSeries.events.map(\.name) + ["support_conference_bgin", ""]

/// A value for `key` that cannot send anything off this machine or fill its disk.
func pinned(_ key: String, _ value: String) -> String {
    switch key {
    case "url":
        if let url = try? WebhookURL("url", value), url.host == "127.0.0.1" { return value }
        return "http://user:\(secret)@127.0.0.1:9/\(value.utf8.count % 3 == 0 ? "" : "hook")?token=\(secret)"
    case "smtp.host": return "127.0.0.1"
    case "smtp.port": return "9"
    case "smtp.password": return value.utf8.count % 2 == 0 ? secret : secret + "\n"
    case "signing_secret": return ["whsec_" + secret, secret, "whsec_" + secret + "!"][value.utf8.count % 3]
    case "queue.capacity": return ["4096", "64KiB", "1MiB", value.utf8.count < 4 ? value : "bogus"][value.utf8.count % 4]
    case "queue.spool", "status.path", "firmware_profile":
        return value.isEmpty ? "" : "\(scratch)/\(key)-\(value.utf8.count % 3)"
    case "log.destination": return "none"
    case "shutdown_timeout", "http.connect_timeout", "http.request_timeout": return ["0", "10ms", "100ms"][value.utf8.count % 3]
    default: return value
    }
}

/// Strings stay alive (and their pointers valid) until the call that uses them returns.
final class CStrings {
    var owned: [UnsafeMutablePointer<CChar>] = []
    func make(_ text: String) -> UnsafePointer<CChar> {
        let copy = strdup(text)!
        owned.append(copy)
        return UnsafePointer(copy)
    }
    deinit { owned.forEach { free($0) } }
}

func settings(_ program: inout Program, keys: [String], strings: CStrings) -> (UnsafeMutablePointer<oe_kv>, Int) {
    let count = program.number(6)
    let array = UnsafeMutablePointer<oe_kv>.allocate(capacity: max(1, count))
    for i in 0..<count {
        let key = program.text(keys)
        let value = pinned(key, program.text(values))
        array[i] = oe_kv(key: program.number(40) == 0 ? nil : strings.make(key), value: strings.make(value))
    }
    return (array, count)
}

/// A count as a careless caller might pass it: the array's own, or one beyond its limit.
func count(_ program: inout Program, _ real: Int, limit: Int32 = OE_MAX_SETTINGS) -> Int {
    switch program.number(12) {
    case 0: return -1
    case 1: return Int(limit) + 1 + program.number(256)
    case 2: return Int.max / 2 + 1
    default: return real
    }
}

func checkErr(_ err: UnsafeMutablePointer<CChar>, _ size: Int) {
    guard size > 0 else { return }
    let length = strnlen(err, size)
    precondition(length < size, "err is not NUL-terminated within err_size")
    let text = String(cString: err)
    precondition(!text.contains(secret), "a secret leaked into err: \(text)")
    precondition(!text.contains("\n"), "err is not one line: \(text)")
}

let codes: Set<Int32> = [0, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var program = Program(bytes: UnsafeBufferPointer(start: data, count: size))
    let strings = CStrings()
    var agent: OpaquePointer?
    let errSize = 256
    let err = UnsafeMutablePointer<CChar>.allocate(capacity: errSize)
    defer { err.deallocate() }
    var steps = 0
    while let op = program.byte(), steps < 64 {
        steps += 1
        let shownErr = program.number(8) == 0 ? 0 : errSize
        err.initialize(repeating: 0x7A, count: errSize)
        switch op % 9 {
        case 0:
            guard agent == nil else { continue }
            let (array, real) = settings(&program, keys: agentKeys, strings: strings)
            var all = Array(UnsafeBufferPointer(start: array, count: real))
            array.deallocate()
            // Quiet, and quick to close: a pending event would hold close for shutdown_timeout.
            all.removeAll { $0.key.map { ["log.destination", "shutdown_timeout"].contains(String(cString: $0)) } ?? false }
            all.append(oe_kv(key: strings.make("log.destination"), value: strings.make("none")))
            all.append(oe_kv(key: strings.make("shutdown_timeout"), value: strings.make("0")))
            let n = count(&program, all.count)
            agent = all.withUnsafeBufferPointer { oe_agent_new($0.baseAddress, n, shownErr == 0 ? nil : err, shownErr) }
            checkErr(err, shownErr)
        case 1:
            let (array, real) = settings(&program, keys: agentKeys, strings: strings)
            let result = oe_agent_configure(agent, array, count(&program, real), err, shownErr)
            array.deallocate()
            precondition(codes.contains(result))
            checkErr(err, shownErr)
        case 2, 3:
            let name = program.text(names)
            let (array, real) = settings(&program, keys: op % 9 == 2 ? httpKeys : emailKeys, strings: strings)
            let namePointer = program.number(30) == 0 ? nil : strings.make(name)
            let result = op % 9 == 2
                ? oe_agent_put_http_recipient(agent, namePointer, array, count(&program, real), err, shownErr)
                : oe_agent_put_email_recipient(agent, namePointer, array, count(&program, real), err, shownErr)
            array.deallocate()
            precondition(codes.contains(result))
            checkErr(err, shownErr)
        case 4:
            precondition(codes.contains(oe_agent_remove_recipient(agent, strings.make(program.text(names)))))
        case 5:
            let event = program.text(events)
            let variables = UnsafeMutablePointer<oe_kv>.allocate(capacity: 8)
            let real = program.number(9)
            for i in 0..<real {
                let key = program.text(["lsid", "external_key", "timestamp", "username", "event", "x"])
                variables[i] = oe_kv(key: strings.make(key), value: strings.make(program.text(["1", "1700000000", "", "v"])))
            }
            let customs = program.number(3)
            let result = oe_emit(agent, program.number(30) == 0 ? nil : strings.make(event), variables,
                                 count(&program, real, limit: OE_MAX_FIELDS), variables,
                                 count(&program, min(customs, real), limit: OE_MAX_FIELDS))
            variables.deallocate()
            precondition(codes.contains(result))
        case 6:
            precondition(codes.contains(oe_agent_flush(agent, Int32(program.number(4)) - 1)))
        case 7:
            let wanted = program.number(4) == 0 ? 0 : program.number(256) * 16
            let buffer = wanted == 0 ? nil : UnsafeMutablePointer<CChar>.allocate(capacity: wanted)
            let length = oe_agent_status_json(agent, buffer, wanted)
            if let buffer {
                if agent != nil {
                    precondition(length >= 0)
                    precondition(strnlen(buffer, wanted) == min(length, wanted - 1), "status is not snprintf-like")
                    precondition(!String(cString: buffer).contains(secret), "a secret leaked into the status")
                }
                buffer.deallocate()
            }
        default:
            oe_agent_close(agent)
            agent = nil
        }
    }
    oe_agent_close(agent)
    return 0
}
