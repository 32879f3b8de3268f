/// An email subject or body with macros (SPEC section 4): `%NAME%` is the event variable
/// `name` (case-insensitive), `%CUSTOM:NAME%` a custom field, `%EVENT_LABEL%` the catalog
/// label, `%TIME%` the event time as RFC 3339 UTC, `%%` a percent sign. Parsed when set, so an
/// unclosed `%` is reported to the administrator, not mailed.
public struct Template: Sendable, Equatable {
    enum Part: Sendable, Equatable {
        case text(String)
        case variable(String)
        case custom(String)
        case eventLabel
        case time
    }

    let parts: [Part]
    public let source: String

    public init(_ key: String, _ source: String) throws(ConfigError) {
        self.source = source
        var parts: [Part] = []
        var literal = ""
        var rest = Substring(source)
        while let percent = rest.firstIndex(of: "%") {
            literal += rest[..<percent]
            let afterPercent = rest[rest.index(after: percent)...]
            guard let close = afterPercent.firstIndex(of: "%") else {
                throw .invalid(key, "a % has no closing % (write %% for a percent sign)")
            }
            let name = afterPercent[..<close]
            rest = afterPercent[afterPercent.index(after: close)...]
            if name.isEmpty {
                literal += "%"
                continue
            }
            let upper = name.uppercased()
            let part: Part
            if upper.hasPrefix("CUSTOM:") {
                let field = name.dropFirst(7)
                guard !field.isEmpty else { throw .invalid(key, "%CUSTOM:% names no custom field") }
                part = .custom(field.lowercased())
            } else if upper == "EVENT_LABEL" {
                part = .eventLabel
            } else if upper == "TIME" {
                part = .time
            } else {
                guard name.allSatisfy({
                    $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == ".")
                }) else {
                    throw .invalid(key, "%\(name)% is not a macro"
                                            + " (macro names are letters, digits and _; write %% for a percent sign)")
                }
                part = .variable(name.lowercased())
            }
            if !literal.isEmpty { parts.append(.text(literal)); literal = "" }
            parts.append(part)
        }
        literal += rest
        if !literal.isEmpty { parts.append(.text(literal)) }
        self.parts = parts
    }

    /// Renders for one event. Missing variables render as empty text.
    public func render(_ event: MacroValues) -> String {
        var out = ""
        for part in parts {
            switch part {
            case .text(let text): out += text
            case .variable(let name): out += event.variable(name) ?? ""
            case .custom(let name): out += event.custom(name) ?? ""
            case .eventLabel: out += event.label
            case .time: out += RFC3339.format(event.timestamp)
            }
        }
        return out
    }
}

/// The values macros read: an event decoded into strings, with the standard variables first.
public struct MacroValues: Sendable {
    public var label: String
    public var timestamp: Int64
    /// Standard variables then the event's own, in wire order.
    public var variables: [(name: String, value: String)]
    public var customFields: [(name: String, value: String)]

    public init(event: EventView, label: String, version: String, applianceID: String) {
        self.label = label
        timestamp = event.timestamp
        var variables: [(name: String, value: String)] = [
            ("event", event.nameString), ("version", version), ("timestamp", String(event.timestamp)),
            ("appliance_id", applianceID),
        ]
        var customFields: [(name: String, value: String)] = []
        event.forEachField { custom, key, value in
            let pair = (String(decoding: key, as: UTF8.self), String(decoding: value, as: UTF8.self))
            if custom { customFields.append(pair) } else { variables.append(pair) }
        }
        self.variables = variables
        self.customFields = customFields
    }

    public func variable(_ lowercasedName: String) -> String? {
        variables.first { $0.name.lowercased() == lowercasedName }?.value
    }

    public func custom(_ lowercasedName: String) -> String? {
        customFields.first { $0.name.lowercased() == lowercasedName }?.value
    }
}

/// RFC 3339 timestamps in UTC, from Unix seconds, without Foundation.
public enum RFC3339 {
    public static func format(_ unixSeconds: Int64) -> String {
        let days = unixSeconds >= 0 ? unixSeconds / 86_400 : (unixSeconds - 86_399) / 86_400
        let secondsOfDay = unixSeconds - days * 86_400
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let yearText = String(year)
        return String(repeating: "0", count: max(0, 4 - yearText.count)) + yearText + "-" + two(month) + "-" + two(day)
            + "T" + two(secondsOfDay / 3600) + ":" + two(secondsOfDay % 3600 / 60) + ":" + two(secondsOfDay % 60) + "Z"
    }
}
