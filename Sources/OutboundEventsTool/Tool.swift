import ArgumentParser
import COutboundEvents
import Glibc
import OutboundEventsAgent
import OutboundEventsCore

/// `outbound-events`: the field engineer's tool. Exit status: 0 when the command did what it
/// says (the file is valid, the event was delivered), 1 when it found a problem, 64 for a
/// usage error.
@main
struct Tool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outbound-events",
        abstract: "Check, test and watch the outbound events agent of the B Series appliance.",
        discussion: """
            Exit status: 0 success; 1 a problem was found (invalid settings, an event not \
            delivered, a status file unreadable); 64 a usage error.
            Manual: man outbound-events. Journal: journalctl -x -t outbound-events.
            """,
        version: OE_VERSION_STRING,
        subcommands: [Check.self, SendTest.self, Emit.self, Status.self, AdminPassword.self]
    )
}

/// Errors go to standard error, one line each.
func complain(_ text: String) {
    var line = Array((text.hasSuffix("\n") ? text : text + "\n").utf8)
    _ = line.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

/// Durations as the settings write them (30s, 5m, 250ms).
func parseDuration(_ text: String, option: String) throws -> Millis {
    do { return try Values.positiveDuration(option, text) } catch {
        throw ValidationError(error.message)
    }
}

/// `name=value` arguments: variables, and `custom:name=value` custom fields.
func parseFields(_ tokens: [String]) throws -> (variables: [(String, String)], custom: [(String, String)]) {
    var variables: [(String, String)] = []
    var custom: [(String, String)] = []
    for token in tokens {
        guard let equals = token.firstIndex(of: "=") else {
            throw ValidationError("\(Values.quote(token)) is not name=value")
        }
        let name = String(token[..<equals]), value = String(token[token.index(after: equals)...])
        if name.hasPrefix("custom:") {
            custom.append((String(name.dropFirst(7)), value))
        } else {
            variables.append((name, value))
        }
    }
    return (variables, custom)
}

/// Splits a line of standard input into words; double quotes keep blanks inside a word.
func words(_ line: String) -> [String] {
    var result: [String] = []
    var current = ""
    var quoted = false
    var started = false
    for character in line {
        if character == "\"" {
            quoted.toggle()
            started = true
        } else if (character == " " || character == "\t") && !quoted {
            if started { result.append(current) }
            current = ""
            started = false
        } else {
            current.append(character)
            started = true
        }
    }
    if started { result.append(current) }
    return result
}
