import Locking
import OutboundEventsCore

/// An event `oe_emit` was given, checked against the firmware profile and the queue's largest
/// event: the same checks whether the event goes into the agent's own queue or, from a
/// producer, into the daemon's intake. Allocates nothing.
struct CheckedEvent {
    enum Outcome {
        case event(CheckedEvent)
        case refused(ResultCode, String)
    }

    var eventIndex: Int
    /// Bytes the record takes (`EventRecord.size`).
    var size: Int
    /// The `timestamp` variable, when the caller gave one.
    var timestamp: Int64?
    /// The variables to store: the caller's, without `timestamp`.
    var variables: Fields
    var hasExternalKey: Bool

    static func check(name: UnsafeRawBufferPointer, variables: Fields, customFields: Fields, profile: FirmwareProfile,
                      maxEventSize: Int) -> Outcome {
        guard let eventIndex = profile.index(of: name) else {
            return .refused(.invalid, "event \(Values.quote(String(decoding: name, as: UTF8.self)))"
                                + " is not declared by the \(profile.name) profile")
        }
        guard variables.count <= Int(UInt16.max), customFields.count <= Int(UInt16.max) else {
            return .refused(.tooBig, "the event is larger than the queue accepts (\(maxEventSize) bytes)")
        }
        var timestamp: Int64?
        var skip = -1
        var hasExternalKey = false
        // The bytes the record takes (`EventRecord.size`), added up on the way: each field
        // takes its two lengths and its bytes. Lengths are of memory the caller holds, so the
        // sum cannot overflow.
        var size = EventRecord.headerSize &+ name.count
        var i = 0
        while i < variables.count {
            let key = variables.key(i), value = variables.value(i)
            if let problem = fieldProblem(key) {
                return .refused(.invalid, "variable \(i): \(problem)")
            }
            switch reserved(key) {
            case .none:
                size &+= 4 &+ key.count &+ value.count
            case .timestamp:
                guard let parsed = decimal(value) else {
                    return .refused(.invalid, "variable timestamp: not decimal Unix seconds")
                }
                timestamp = parsed
                skip = i
            case .setByAgent:
                return .refused(.invalid,
                                "variable \(String(decoding: key, as: UTF8.self)): set by the agent, not by the caller")
            case .externalKey:
                hasExternalKey = value.count > 0
                size &+= 4 &+ key.count &+ value.count
            }
            i += 1
        }
        i = 0
        while i < customFields.count {
            let key = customFields.key(i)
            if let problem = fieldProblem(key) {
                return .refused(.invalid, "custom field \(i): \(problem)")
            }
            size &+= 4 &+ key.count &+ customFields.value(i).count
            i += 1
        }
        if let repeated = variables.repeatedKey() {
            return .refused(
                .invalid,
                "variable \(Values.quote(String(decoding: variables.key(repeated), as: UTF8.self))) given twice")
        }
        if let repeated = customFields.repeatedKey() {
            return .refused(
                .invalid,
                "custom field \(Values.quote(String(decoding: customFields.key(repeated), as: UTF8.self))) given twice")
        }
        guard size <= EventRecord.maximumSize, size <= maxEventSize else {
            return .refused(.tooBig, "the event is larger than the queue accepts (\(maxEventSize) bytes)")
        }
        let stored = skip >= 0 ? variables.removing(skip) : variables
        return .event(CheckedEvent(eventIndex: eventIndex, size: size, timestamp: timestamp, variables: stored,
                                   hasExternalKey: hasExternalKey))
    }

    /// The variable names the agent treats apart: told by their length first, so that most
    /// names are passed over without a comparison.
    enum Reserved { case none, timestamp, setByAgent, externalKey }

    @inline(__always)
    static func reserved(_ key: UnsafeRawBufferPointer) -> Reserved {
        switch key.count {
        case 5: equals(key, "event") ? .setByAgent : .none
        case 7: equals(key, "version") ? .setByAgent : .none
        case 9: equals(key, "timestamp") ? .timestamp : .none
        case 12: equals(key, "external_key") ? .externalKey : equals(key, "appliance_id") ? .setByAgent : .none
        default: .none
        }
    }

    /// Names are firmware constants and reach the wire form-encoded, so only emptiness and
    /// length are checked here: a byte scan would cost a fifth of an emit.
    static func fieldProblem(_ key: UnsafeRawBufferPointer) -> String? {
        if key.isEmpty { return "empty name" }
        if key.count > 255 { return "name longer than 255 bytes" }
        return nil
    }

    static func equals(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        bytes.count == text.utf8CodeUnitCount
            && Fields.equal(bytes, UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    static func decimal(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
        var value: Int64 = 0
        for byte in bytes {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            value = value * 10 + Int64(byte - 0x30)
        }
        return value
    }
}

/// Emits refused for a reason the C caller cannot read (`oe_emit` has no `err`): said in the
/// journal, at most once a minute, with how many more there were meanwhile.
final class EmitRefusals: Sendable {
    let state = Locked<(lastLogged: Millis?, suppressed: Int)>((nil, 0))

    func report(_ code: ResultCode, _ message: String?, now: Millis, log: (LogEntry) -> Void) {
        guard let message, code == .invalid || code == .tooBig else { return }
        let suppressed: Int? = state.withLock { state in
            if let last = state.lastLogged, now - last < 60_000 {
                state.suppressed += 1
                return nil
            }
            defer { state = (now, 0) }
            return state.suppressed
        }
        guard let suppressed else { return }
        log(LogEntry(.warning, .eventRefused, "oe_emit refused an event (\(code.summary)): \(message)",
                     fields: [("OE_ERROR", message), ("OE_SUPPRESSED", String(suppressed))]))
    }
}
