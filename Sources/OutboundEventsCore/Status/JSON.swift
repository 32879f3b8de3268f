/// A minimal JSON writer for the status document: enough to emit objects, arrays, strings,
/// numbers, booleans and null with correct escaping, and nothing to parse.
public struct JSONWriter {
    public private(set) var text = ""
    var needsComma = [false]

    public init() {}

    mutating func separate() {
        if needsComma[needsComma.count - 1] { text += "," }
        needsComma[needsComma.count - 1] = true
    }

    mutating func key(_ name: String) {
        separate()
        text += Self.quoted(name)
        text += ":"
        needsComma.append(false)
    }

    mutating func endValue() { needsComma.removeLast() }

    public mutating func object(_ name: String? = nil, _ body: (inout JSONWriter) -> Void) {
        open(name, "{")
        body(&self)
        close("}", name)
    }

    public mutating func array(_ name: String? = nil, _ body: (inout JSONWriter) -> Void) {
        open(name, "[")
        body(&self)
        close("]", name)
    }

    mutating func open(_ name: String?, _ bracket: String) {
        if let name { key(name) } else { separate() }
        text += bracket
        needsComma.append(false)
    }

    mutating func close(_ bracket: String, _ name: String?) {
        needsComma.removeLast()
        text += bracket
        if name != nil { endValue() }
    }

    public mutating func field(_ name: String, _ value: String?) {
        raw(name, value.map(Self.quoted) ?? "null")
    }

    public mutating func field(_ name: String, _ value: Int?) { raw(name, value.map { String($0) } ?? "null") }
    public mutating func field(_ name: String, _ value: Int64?) { raw(name, value.map { String($0) } ?? "null") }
    public mutating func field(_ name: String, _ value: UInt64) { raw(name, String(value)) }
    public mutating func field(_ name: String, _ value: Bool) { raw(name, value ? "true" : "false") }

    /// A string element of the array being written.
    public mutating func element(_ value: String) {
        separate()
        text += Self.quoted(value)
    }

    mutating func raw(_ name: String, _ literal: String) {
        key(name)
        text += literal
        endValue()
    }

    public static func quoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F
                         || scalar.value == 0x2028 || scalar.value == 0x2029:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
