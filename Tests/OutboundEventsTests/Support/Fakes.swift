import Foundation
import OutboundEventsAgent
import OutboundEventsCore
import Synchronization

/// A transport that never touches the network: it records what the agent starts and finishes
/// transfers when the test says so.
final class FakeTransport: Transport, @unchecked Sendable {
    struct Request {
        let slot: Int
        let url: String
        let body: String
        let headers: [String: String]
    }

    private let state = Mutex<(targets: [Int: TransferTarget], requests: [Request],
                               mails: [(slot: Int, mail: MailEnvelope)],
                               inFlight: Set<Int>, finished: [(Int, DeliveryResult)])>(([:], [], [], [], []))

    var requests: [Request] { state.withLock { $0.requests } }
    var mails: [(slot: Int, mail: MailEnvelope)] { state.withLock { $0.mails } }
    var inFlight: Set<Int> { state.withLock { $0.inFlight } }
    func target(_ slot: Int) -> TransferTarget? { state.withLock { $0.targets[slot] } }

    /// Finishes the transfer in flight on `slot`; the agent sees it at its next turn.
    func finish(_ slot: Int, _ result: DeliveryResult) {
        state.withLock { state in
            precondition(state.inFlight.contains(slot), "nothing in flight on slot \(slot)")
            state.inFlight.remove(slot)
            state.finished.append((slot, result))
        }
    }

    func succeed(_ slot: Int) { finish(slot, .success(elapsed: 1)) }
    func fail(_ slot: Int, status: Int = 503) {
        finish(slot, DeliveryResult(status: status, failure: .refused, error: "HTTP \(status) Service Unavailable",
                                    elapsed: 1))
    }

    func configure(slot: Int, target: TransferTarget) {
        state.withLock { $0.targets[slot] = target; $0.inFlight.remove(slot) }
    }

    func start(slot: Int, body: [UInt8], headers: [String]) {
        state.withLock { state in
            var fields: [String: String] = [:]
            for header in headers {
                let parts = header.split(separator: ":", maxSplits: 1)
                fields[String(parts[0]).lowercased()] = parts.count > 1
                    ? parts[1].trimmingCharacters(in: .whitespaces) : ""
            }
            var url = ""
            if case .http(let target)? = state.targets[slot] { url = target.url }
            state.requests.append(Request(slot: slot, url: url, body: String(decoding: body, as: UTF8.self),
                                          headers: fields))
            state.inFlight.insert(slot)
        }
    }

    func start(slot: Int, mail: MailEnvelope) {
        state.withLock { state in
            state.mails.append((slot, mail))
            state.inFlight.insert(slot)
        }
    }

    /// Relay checks started, by slot.
    private let checkLog = Mutex<[Int]>([])
    var checks: [Int] { checkLog.withLock { $0 } }

    func startCheck(slot: Int) {
        checkLog.withLock { $0.append(slot) }
        state.withLock { _ = $0.inFlight.insert(slot) }
    }

    func cancel(slot: Int) { state.withLock { _ = $0.inFlight.remove(slot) } }
    func release(slot: Int) { state.withLock { $0.inFlight.remove(slot); $0.targets[slot] = nil } }

    func poll(timeout: Millis, _ finished: (Int, DeliveryResult) -> Void) {
        let done = state.withLock { state in
            defer { state.finished = [] }
            return state.finished
        }
        for (slot, result) in done { finished(slot, result) }
    }

    func wakeup() {}
}

/// Keeps every log entry, for assertions.
final class CapturingSink: LogSink {
    private let state = Mutex<[LogEntry]>([])
    var entries: [LogEntry] { state.withLock { $0 } }
    func write(_ entry: LogEntry) { state.withLock { $0.append(entry) } }
    func entries(_ id: MessageID) -> [LogEntry] { entries.filter { $0.messageID == id } }
}

/// An agent driven by hand: manual clock, fake transport, captured log, no thread.
struct ManualAgent: AgentHarness {
    let agent: Agent
    let clock = ManualClock()
    let transport = FakeTransport()
    let log = CapturingSink()

    init(_ settings: [(String, String)] = []) throws {
        var environment = AgentEnvironment(version: "1.0.0")
        environment.clock = clock
        let transport = transport
        environment.makeTransport = { transport }
        environment.log = log
        environment.startThread = false
        agent = try Agent(settings: settings.map { (key: $0.0, value: $0.1) }, environment: environment)
    }

    /// One turn of the delivery loop, never waiting.
    func turn() { _ = agent.turn(maxWait: 0) }

    /// Turns twice, so finished transfers are applied and due ones started.
    func settle() { turn(); turn() }

    func status() throws -> [String: Any] { try statusObject(agent) }

    func recipient(_ name: String) throws -> [String: Any] { try recipientStatus(agent, name) }
}

/// The calls every test harness makes on its agent, in the tests' tuple shorthand.
protocol AgentHarness {
    var agent: Agent { get }
}

extension AgentHarness {
    func put(_ name: String, _ settings: [(String, String)]) throws(ConfigError) {
        try agent.putHTTPRecipient(name, settings.map { (key: $0.0, value: $0.1) })
    }

    func putEmail(_ name: String, _ settings: [(String, String)]) throws(ConfigError) {
        try agent.putEmailRecipient(name, settings.map { (key: $0.0, value: $0.1) })
    }

    @discardableResult
    func emit(_ event: String = "support_conference_begin", _ variables: [(String, String)] = [],
              custom: [(String, String)] = []) -> ResultCode {
        agent.emit(event, variables: variables, customFields: custom).0
    }
}

/// The agent's status JSON as an object.
func statusObject(_ agent: Agent) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(agent.status().utf8)) as! [String: Any]
}

/// One recipient's entry of the agent's status JSON.
func recipientStatus(_ agent: Agent, _ name: String) throws -> [String: Any] {
    let recipients = try statusObject(agent)["recipients"] as! [[String: Any]]
    return recipients.first { $0["name"] as? String == name }!
}

/// The lsid variable of each request body, in order: the tests' way of naming events.
func lsids(_ requests: [FakeTransport.Request]) -> [String] {
    requests.map { request in
        URLComponents(string: "http://x/?" + request.body.replacingOccurrences(of: "+", with: "%20"))?
            .queryItems?.first { $0.name == "lsid" }?.value ?? ""
    }
}
