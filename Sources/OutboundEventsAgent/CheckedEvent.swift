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
            return .refused(.invalid, "event \(Values.quote(String(decoding: name, as: UTF8.self))) is not declared by the \(profile.name) profile")
        }
        var timestamp: Int64?
        var skip = -1
        var hasExternalKey = false
        var i = 0
        while i < variables.count {
            let key = variables.key(i)
            if let problem = fieldProblem(key) {
                return .refused(.invalid, "variable \(i): \(problem)")
            }
            if equals(key, "timestamp") {
                guard let parsed = decimal(variables.value(i)) else {
                    return .refused(.invalid, "variable timestamp: not decimal Unix seconds")
                }
                timestamp = parsed
                skip = i
            } else if equals(key, "event") || equals(key, "version") || equals(key, "appliance_id") {
                return .refused(.invalid, "variable \(String(decoding: key, as: UTF8.self)): set by the agent, not by the caller")
            } else if equals(key, "external_key") && variables.value(i).count > 0 {
                hasExternalKey = true
            }
            i += 1
        }
        i = 0
        while i < customFields.count {
            if let problem = fieldProblem(customFields.key(i)) {
                return .refused(.invalid, "custom field \(i): \(problem)")
            }
            i += 1
        }
        if let repeated = variables.repeatedKey() {
            return .refused(.invalid, "variable \(Values.quote(String(decoding: variables.key(repeated), as: UTF8.self))) given twice")
        }
        if let repeated = customFields.repeatedKey() {
            return .refused(.invalid, "custom field \(Values.quote(String(decoding: customFields.key(repeated), as: UTF8.self))) given twice")
        }
        let stored = skip >= 0 ? variables.removing(skip) : variables
        guard let size = EventRecord.size(nameLength: name.count, variables: stored, customFields: customFields),
              size <= maxEventSize else {
            return .refused(.tooBig, "the event is larger than the queue accepts (\(maxEventSize) bytes)")
        }
        return .event(CheckedEvent(eventIndex: eventIndex, size: size, timestamp: timestamp, variables: stored,
                                   hasExternalKey: hasExternalKey))
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
            && bytes.elementsEqual(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
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
