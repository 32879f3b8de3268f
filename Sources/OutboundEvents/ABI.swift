import COutboundEvents
import CSystem
import OutboundEventsAgent
import OutboundEventsCore

// The C ABI of include/outbound_events.h. Each function is declared by the header and
// implemented here with @c @implementation, so the compiler checks every signature against it.
// This layer only checks arguments, converts C strings and oe_kv arrays, and maps results to
// codes; the agent does the work.

/// The version string, made once from the header's macro so the two can never differ.
nonisolated(unsafe) let versionCString: UnsafePointer<CChar> = UnsafePointer(strdup(OE_VERSION_STRING)!)

let agentEnvironment = AgentEnvironment(version: OE_VERSION_STRING)

@c @implementation
public func oe_version() -> UnsafePointer<CChar>? {
    versionCString
}

@c @implementation
public func oe_strerror(_ result: Int32) -> UnsafePointer<CChar>? {
    let text: StaticString = ResultCode(rawValue: result)?.summary ?? "unknown result code"
    return UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
}

@c @implementation
public func oe_agent_new(_ settings: UnsafePointer<oe_kv>?, _ count: Int, _ err: UnsafeMutablePointer<CChar>?,
                         _ errSize: Int) -> OpaquePointer? {
    do throws(ConfigError) {
        let pairs = try settingPairs(settings, count)
        // With queue.attach, a producer of the appliance's daemon (SPEC 9); else an agent.
        let handle: Handle = pairs.contains { $0.key == "queue.attach" }
            ? .producer(try Producer(settings: pairs, environment: agentEnvironment))
            : .agent(try Agent(settings: pairs, environment: agentEnvironment))
        writeError(err, errSize, "")
        let pointer = UnsafeMutablePointer<Handle>.allocate(capacity: 1)
        pointer.initialize(to: handle)
        return OpaquePointer(pointer)
    } catch {
        writeError(err, errSize, error.message)
        return nil
    }
}

@c @implementation
public func oe_agent_configure(_ agent: OpaquePointer?, _ settings: UnsafePointer<oe_kv>?, _ count: Int,
                               _ err: UnsafeMutablePointer<CChar>?, _ errSize: Int) -> Int32 {
    report(err, errSize) { () throws(ConfigError) in
        let agent = try unwrap(agent)
        try agent.configure(try settingPairs(settings, count))
    }
}

@c @implementation
public func oe_agent_put_http_recipient(_ agent: OpaquePointer?, _ name: UnsafePointer<CChar>?,
                                        _ settings: UnsafePointer<oe_kv>?, _ count: Int,
                                        _ err: UnsafeMutablePointer<CChar>?, _ errSize: Int) -> Int32 {
    report(err, errSize) { () throws(ConfigError) in
        let agent = try unwrap(agent)
        try agent.putHTTPRecipient(try string(name, "name"), try settingPairs(settings, count))
    }
}

@c @implementation
public func oe_agent_put_email_recipient(_ agent: OpaquePointer?, _ name: UnsafePointer<CChar>?,
                                         _ settings: UnsafePointer<oe_kv>?, _ count: Int,
                                         _ err: UnsafeMutablePointer<CChar>?, _ errSize: Int) -> Int32 {
    report(err, errSize) { () throws(ConfigError) in
        let agent = try unwrap(agent)
        try agent.putEmailRecipient(try string(name, "name"), try settingPairs(settings, count))
    }
}

@c @implementation
public func oe_agent_remove_recipient(_ agent: OpaquePointer?, _ name: UnsafePointer<CChar>?) -> Int32 {
    guard let agent else { return ResultCode.invalid.rawValue }
    guard case .agent(let target) = instance(agent) else { return ResultCode.state.rawValue }
    guard let name, let text = String(validatingCString: name) else { return ResultCode.invalid.rawValue }
    return target.removeRecipient(text).rawValue
}

@c @implementation
public func oe_emit(_ agent: OpaquePointer?, _ event: UnsafePointer<CChar>?, _ variables: UnsafePointer<oe_kv>?,
                    _ count: Int, _ customFields: UnsafePointer<oe_kv>?, _ customCount: Int) -> Int32 {
    // size_t counts arrive as Int: one above Int.max is negative. Both are bounded before any
    // array is read, so their sum cannot overflow.
    guard let agent, let event, (0...Int(OE_MAX_FIELDS)).contains(count),
          (0...Int(OE_MAX_FIELDS)).contains(customCount), count == 0 || variables != nil,
          customCount == 0 || customFields != nil else { return ResultCode.invalid.rawValue }
    let name = UnsafeRawBufferPointer(start: event, count: strlen(event))
    // Each string is measured once, into spans on the stack (the heap only for huge events).
    return withUnsafeTemporaryAllocation(of: FieldSpan.self, capacity: count + customCount) { spans in
        guard spans.measure(variables, count, at: 0), spans.measure(customFields, customCount, at: count) else {
            return ResultCode.invalid.rawValue
        }
        let variables = Fields(UnsafeMutableBufferPointer(rebasing: spans[0..<count]))
        let custom = Fields(UnsafeMutableBufferPointer(rebasing: spans[count...]))
        switch instance(agent) {
        case .agent(let target):
            let (code, reason) = target.emit(name: name, variables: variables, customFields: custom)
            if code != .ok { target.reportRefusedEmit(code, reason) }
            return code.rawValue
        case .producer(let producer):
            let (code, reason) = producer.emit(name: name, variables: variables, customFields: custom)
            if code != .ok { producer.reportRefusedEmit(code, reason) }
            return code.rawValue
        }
    }
}

@c @implementation
public func oe_agent_flush(_ agent: OpaquePointer?, _ timeoutMs: Int32) -> Int32 {
    guard let agent, timeoutMs >= 0 else { return ResultCode.invalid.rawValue }
    let result = switch instance(agent) {
    case .agent(let target): target.flush(timeout: Millis(timeoutMs))
    case .producer(let producer): producer.flush(timeout: Millis(timeoutMs))
    }
    return result.rawValue
}

@c @implementation
public func oe_agent_sync(_ agent: OpaquePointer?, _ timeoutMs: Int32) -> Int32 {
    guard let agent, timeoutMs >= 0 else { return ResultCode.invalid.rawValue }
    let result = switch instance(agent) {
    case .agent(let target): target.sync(timeout: Millis(timeoutMs))
    case .producer(let producer): producer.sync(timeout: Millis(timeoutMs))
    }
    return result.rawValue
}

@c @implementation
public func oe_agent_status_json(_ agent: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ size: Int) -> Int {
    guard let agent, buffer != nil || size == 0 else { return Int(ResultCode.invalid.rawValue) }
    let json = switch instance(agent) {
    case .agent(let target): target.status()
    case .producer(let producer): producer.status()
    }
    let bytes = json.utf8.count
    if let buffer, size > 0 {
        let copied = min(bytes, size - 1)
        json.utf8CString.withUnsafeBufferPointer { source in
            buffer.update(from: source.baseAddress!, count: copied)
        }
        buffer[copied] = 0
    }
    return bytes
}

@c @implementation
public func oe_agent_close(_ agent: OpaquePointer?) {
    guard let agent else { return }
    let pointer = UnsafeMutablePointer<Handle>(agent)
    switch pointer.pointee {
    case .agent(let target): target.close()
    case .producer(let producer): producer.close()
    }
    pointer.deinitialize(count: 1)
    pointer.deallocate()
}

// MARK: Conversions

/// What an `oe_agent *` points at, from `oe_agent_new` to `oe_agent_close`.
enum Handle {
    /// An agent with a queue and recipients of its own.
    case agent(Agent)
    /// A producer writing into the appliance's daemon (SPEC 9).
    case producer(Producer)
}

func instance(_ agent: OpaquePointer) -> Handle {
    UnsafeMutablePointer<Handle>(agent).pointee
}

/// The agent of a configuration call: NULL is `OE_EINVAL`; a producer's configuration is the
/// daemon's, so it is `OE_ESTATE`.
func unwrap(_ agent: OpaquePointer?) throws(ConfigError) -> Agent {
    guard let agent else { throw ConfigError(.invalid, "agent: NULL") }
    guard case .agent(let target) = instance(agent) else { throw Producer.configurationRefused }
    return target
}

func string(_ pointer: UnsafePointer<CChar>?, _ what: String) throws(ConfigError) -> String {
    guard let pointer else { throw ConfigError(.invalid, "\(what): NULL") }
    guard let text = String(validatingCString: pointer) else { throw ConfigError(.invalid, "\(what): not valid UTF-8") }
    return text
}

/// An oe_kv array as Swift pairs; NULL keys and values, and bytes that are not UTF-8, are
/// refused with the position or key named.
func settingPairs(_ settings: UnsafePointer<oe_kv>?,
                  _ count: Int) throws(ConfigError) -> [(key: String, value: String)] {
    guard count != 0 else { return [] }
    guard (1...Int(OE_MAX_SETTINGS)).contains(count) else {
        throw ConfigError(.invalid, "count: \(UInt(bitPattern: count)) settings given;"
                                        + " at most \(OE_MAX_SETTINGS) are accepted")
    }
    guard let settings else { throw ConfigError(.invalid, "settings: NULL with a count of \(count)") }
    var pairs: [(key: String, value: String)] = []
    pairs.reserveCapacity(count)
    for i in 0..<count {
        let key = try string(settings[i].key, "setting \(i) key")
        let value = try string(settings[i].value, key)
        pairs.append((key, value))
    }
    return pairs
}

/// Runs a call that may throw a ConfigError: OE_OK and an empty err, or the code and reason.
func report(_ err: UnsafeMutablePointer<CChar>?, _ errSize: Int, _ body: () throws(ConfigError) -> Void) -> Int32 {
    do throws(ConfigError) {
        try body()
        writeError(err, errSize, "")
        return ResultCode.ok.rawValue
    } catch {
        writeError(err, errSize, error.message)
        return error.code.rawValue
    }
}

/// Writes a NUL-terminated message of at most errSize bytes, never splitting a UTF-8 character.
func writeError(_ err: UnsafeMutablePointer<CChar>?, _ errSize: Int, _ message: String) {
    guard let err, errSize > 0 else { return }
    var bytes = Array(message.utf8.prefix(errSize - 1))
    if bytes.count < message.utf8.count {
        while let last = bytes.last, last & 0xC0 == 0x80 { bytes.removeLast() }
        if let last = bytes.last, last >= 0xC0 { bytes.removeLast() }
    }
    bytes.withUnsafeBytes { source in
        UnsafeMutableRawPointer(err).copyMemory(from: source.baseAddress ?? UnsafeRawPointer(err),
                                                byteCount: source.count)
    }
    err[bytes.count] = 0
}

extension UnsafeMutableBufferPointer where Element == FieldSpan {
    /// Points spans `at..<at+count` at the strings of an oe_kv array; false if a key or value
    /// is NULL.
    func measure(_ pairs: UnsafePointer<oe_kv>?, _ count: Int, at start: Int) -> Bool {
        guard count > 0, let pairs, let spans = baseAddress else { return true }
        var i = 0
        while i < count {
            guard let key = pairs[i].key, let value = pairs[i].value else { return false }
            (spans + start + i).initialize(
                to: FieldSpan(key: UnsafeRawBufferPointer(start: key, count: strlen(key)),
                              value: UnsafeRawBufferPointer(start: value, count: strlen(value))))
            i += 1
        }
        return true
    }
}
