/// What goes on the wire for one event (SPEC section 1): the form-encoded body, its id and the
/// Standard Webhooks signing input. Writes into caller-owned buffers that are reused from one
/// delivery to the next, so steady-state delivery allocates nothing for the body.
public struct WireFormat: Sendable {
    /// The profile's schema version, sent as `version`.
    public let version: [UInt8]
    public let applianceID: [UInt8]
    /// First half of every event id: random per queue, kept in the spool, so ids never repeat
    /// across restarts while an event keeps its id on every attempt.
    public let instance: UInt64

    public init(version: String, applianceID: String, instance: UInt64) {
        self.version = Array(version.utf8)
        self.applianceID = Array(applianceID.utf8)
        self.instance = instance
    }

    /// `evt_` and 32 hex digits: the instance, then the event's sequence number.
    public func eventID(seq: UInt64) -> String {
        String(unsafeUninitializedCapacity: 36) { buffer in
            let digits: StaticString = "0123456789abcdef"
            buffer[0] = UInt8(ascii: "e")
            buffer[1] = UInt8(ascii: "v")
            buffer[2] = UInt8(ascii: "t")
            buffer[3] = UInt8(ascii: "_")
            for i in 0..<16 {
                buffer[19 - i] = digits.utf8Start[Int((instance >> (UInt64(i) * 4)) & 15)]
                buffer[35 - i] = digits.utf8Start[Int((seq >> (UInt64(i) * 4)) & 15)]
            }
            return 36
        }
    }

    /// Replaces `body` with the event's form: standard variables, the event's own variables in
    /// the firmware's order, then `custom_<name>` fields when `customFields` is on.
    public func body(of event: EventView, customFields: Bool, into body: inout [UInt8]) {
        body.removeAll(keepingCapacity: true)
        appendPair("event", event.name, to: &body)
        version.withUnsafeBytes { appendPair("version", $0, to: &body) }
        var digits = (UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0),
                      UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0),
                      UInt8(0), UInt8(0), UInt8(0), UInt8(0))
        withUnsafeMutableBytes(of: &digits) { buffer in
            let count = Self.decimal(event.timestamp, into: buffer)
            appendPair("timestamp", UnsafeRawBufferPointer(rebasing: buffer[0..<count]), to: &body)
        }
        applianceID.withUnsafeBytes { appendPair("appliance_id", $0, to: &body) }
        event.forEachField { custom, key, value in
            if custom {
                guard customFields else { return }
                body.append(UInt8(ascii: "&"))
                Self.appendLiteral("custom_", to: &body)
                Self.appendEncoded(key, to: &body)
                body.append(UInt8(ascii: "="))
                Self.appendEncoded(value, to: &body)
            } else {
                appendPair(key, value, to: &body)
            }
        }
    }

    /// Replaces `body` with the event as JSON in the Standard Webhooks shape (SPEC 10):
    /// `{"type":<event>,"timestamp":<RFC 3339 UTC>,"data":{"event","version","timestamp",
    /// "appliance_id",<variables in order>,"custom":{...}}}`, every value a JSON string, bytes
    /// that are not UTF-8 replaced by U+FFFD. `custom` only when `customFields` is on; then a
    /// variable named `custom` is sent as `custom_` (`shadowsCustom`).
    public func jsonBody(of event: EventView, customFields: Bool, into body: inout [UInt8]) {
        body.removeAll(keepingCapacity: true)
        var digits = (UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0),
                      UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0),
                      UInt8(0), UInt8(0), UInt8(0), UInt8(0))
        Self.appendLiteral("{\"type\":", to: &body)
        Self.appendJSONString(event.name, to: &body)
        Self.appendLiteral(",\"timestamp\":", to: &body)
        Array(RFC3339.format(event.timestamp).utf8).withUnsafeBytes { Self.appendJSONString($0, to: &body) }
        Self.appendLiteral(",\"data\":{\"event\":", to: &body)
        Self.appendJSONString(event.name, to: &body)
        Self.appendLiteral(",\"version\":", to: &body)
        version.withUnsafeBytes { Self.appendJSONString($0, to: &body) }
        Self.appendLiteral(",\"timestamp\":", to: &body)
        withUnsafeMutableBytes(of: &digits) { buffer in
            let count = Self.decimal(event.timestamp, into: buffer)
            Self.appendJSONString(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), to: &body)
        }
        Self.appendLiteral(",\"appliance_id\":", to: &body)
        applianceID.withUnsafeBytes { Self.appendJSONString($0, to: &body) }
        event.forEachField { custom, key, value in
            guard !custom else { return }
            body.append(UInt8(ascii: ","))
            if customFields && Self.shadowsCustom(key) {
                // Letters and underscores only: nothing to escape.
                body.append(UInt8(ascii: "\""))
                body.append(contentsOf: key)
                Self.appendLiteral("_\"", to: &body)
            } else {
                Self.appendJSONString(key, to: &body)
            }
            body.append(UInt8(ascii: ":"))
            Self.appendJSONString(value, to: &body)
        }
        if customFields {
            Self.appendLiteral(",\"custom\":{", to: &body)
            var first = true
            event.forEachField { custom, key, value in
                guard custom else { return }
                if !first { body.append(UInt8(ascii: ",")) }
                first = false
                Self.appendJSONString(key, to: &body)
                body.append(UInt8(ascii: ":"))
                Self.appendJSONString(value, to: &body)
            }
            body.append(UInt8(ascii: "}"))
        }
        Self.appendLiteral("}}", to: &body)
    }

    /// Whether a variable's name is `custom` followed by zero or more underscores. Beside the
    /// custom fields object, `data.custom`, such a variable gets one underscore more: a JSON
    /// object never has two keys of one name, and receivers find the custom fields where they
    /// always are. Every name of that form shifts by one, so `custom_` (sent as `custom__`)
    /// cannot meet a renamed `custom` either.
    static func shadowsCustom(_ key: UnsafeRawBufferPointer) -> Bool {
        let prefix: StaticString = "custom"
        guard key.count >= prefix.utf8CodeUnitCount else { return false }
        var i = 0
        while i < key.count {
            let expected = i < prefix.utf8CodeUnitCount ? prefix.utf8Start[i] : UInt8(ascii: "_")
            guard key[i] == expected else { return false }
            i += 1
        }
        return true
    }

    /// A JSON string of `bytes`: quotes, backslashes and control characters escaped; bytes that
    /// are not UTF-8 replaced by U+FFFD, so the body always parses.
    public static func appendJSONString(_ bytes: UnsafeRawBufferPointer, to body: inout [UInt8]) {
        body.append(UInt8(ascii: "\""))
        if bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x80 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            body.append(contentsOf: bytes)
        } else {
            for byte in String(decoding: bytes, as: UTF8.self).utf8 {
                switch byte {
                case UInt8(ascii: "\""): appendLiteral("\\\"", to: &body)
                case UInt8(ascii: "\\"): appendLiteral("\\\\", to: &body)
                case 0x0A: appendLiteral("\\n", to: &body)
                case 0x0D: appendLiteral("\\r", to: &body)
                case 0x09: appendLiteral("\\t", to: &body)
                case ..<0x20:
                    appendLiteral("\\u00", to: &body)
                    body.append(hexDigits[Int(byte >> 4)])
                    body.append(hexDigits[Int(byte & 15)])
                default: body.append(byte)
                }
            }
        }
        body.append(UInt8(ascii: "\""))
    }

    func appendPair(_ key: StaticString, _ value: UnsafeRawBufferPointer, to body: inout [UInt8]) {
        if !body.isEmpty { body.append(UInt8(ascii: "&")) }
        Self.appendLiteral(key, to: &body)
        body.append(UInt8(ascii: "="))
        Self.appendEncoded(value, to: &body)
    }

    func appendPair(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, to body: inout [UInt8]) {
        body.append(UInt8(ascii: "&"))
        Self.appendEncoded(key, to: &body)
        body.append(UInt8(ascii: "="))
        Self.appendEncoded(value, to: &body)
    }

    static func appendLiteral(_ text: StaticString, to body: inout [UInt8]) {
        body.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// Bytes that stay as they are in a form value: letters, digits and `*-._`.
    static let unreserved: [Bool] = (0..<256).map { byte in
        switch UInt8(byte) {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "*"), UInt8(ascii: "-"),
             UInt8(ascii: "."), UInt8(ascii: "_"):
            true
        default:
            false
        }
    }

    /// application/x-www-form-urlencoded as the WHATWG URL standard serializes it: letters,
    /// digits and `*-._` stay, a space becomes `+`, every other byte is `%XX`. Runs of bytes
    /// that stay are copied at once.
    public static func appendEncoded(_ bytes: UnsafeRawBufferPointer, to body: inout [UInt8]) {
        unreserved.withUnsafeBufferPointer { unreserved in
            var run = 0
            var i = 0
            while i < bytes.count {
                let byte = bytes[i]
                if unreserved[Int(byte)] {
                    i += 1
                    continue
                }
                if run < i { body.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[run..<i])) }
                if byte == UInt8(ascii: " ") {
                    body.append(UInt8(ascii: "+"))
                } else {
                    body.append(UInt8(ascii: "%"))
                    body.append(hexDigits[Int(byte >> 4)])
                    body.append(hexDigits[Int(byte & 15)])
                }
                i += 1
                run = i
            }
            if run < bytes.count { body.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[run...])) }
        }
    }

    public static func formEncode(_ text: String) -> String {
        var out: [UInt8] = []
        Array(text.utf8).withUnsafeBytes { appendEncoded($0, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Standard Webhooks: the HMAC input is `<id>.<timestamp>.<body>`.
    public static func signingInput(id: String, timestamp: Int64, body: [UInt8], into input: inout [UInt8]) {
        input.removeAll(keepingCapacity: true)
        input.append(contentsOf: id.utf8)
        input.append(UInt8(ascii: "."))
        input.append(contentsOf: String(timestamp).utf8)
        input.append(UInt8(ascii: "."))
        input.append(contentsOf: body)
    }

    /// Writes `value` in decimal into `buffer` (at least 20 bytes); returns the digit count.
    static func decimal(_ value: Int64, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var magnitude = value.magnitude
        var count = 0
        repeat {
            buffer[count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
            count += 1
        } while magnitude > 0
        if value < 0 { buffer[count] = UInt8(ascii: "-"); count += 1 }
        var low = 0, high = count - 1
        while low < high { buffer.swapAt(low, high); low += 1; high -= 1 }
        return count
    }
}
