import Foundation
import OutboundEventsAgent
import OutboundEventsCore
import Testing

/// The product's documentation lives in the product (issue 22): every settings key the code
/// accepts has its row in the settings reference, docs/settings.md, and its entry in the
/// manual page outbound-events.conf(5), each in the section of its kind. A key added to the code
/// without its documentation fails here, naming the key.
@Suite("The documentation covers every settings key")
struct DocumentationTests {
    struct Kind: CustomStringConvertible {
        var name: String
        /// The code's own list of the keys of this kind.
        var keys: [String]
        /// The `## ` heading of docs/settings.md and the `.SH` heading of the manual page.
        var markdownSection: String
        var manSection: String
        var description: String { name }
    }

    static let kinds = [
        Kind(name: "agent", keys: AgentSettings.keys,
             markdownSection: "Agent settings", manSection: "AGENT SETTINGS"),
        Kind(name: "HTTP recipient", keys: HTTPRecipientSettings.keys,
             markdownSection: "HTTP recipient settings", manSection: "HTTP RECIPIENT SETTINGS"),
        Kind(name: "email recipient", keys: EmailRecipientSettings.keys,
             markdownSection: "Email recipient settings", manSection: "EMAIL RECIPIENT SETTINGS"),
        Kind(name: "producer", keys: Producer.keys,
             markdownSection: "Producer settings", manSection: "PRODUCER SETTINGS"),
        Kind(name: "daemon", keys: AdminSettings.keys,
             markdownSection: "Daemon settings", manSection: "DAEMON SETTINGS"),
    ]

    static func read(_ path: String) throws -> String {
        try String(contentsOfFile: repositoryRoot + "/" + path, encoding: .utf8)
    }

    /// The lines of each section, by its heading: a section runs from a line starting with
    /// `marker` to the next one.
    static func sections(_ text: String, marker: String) -> [String: [Substring]] {
        var sections: [String: [Substring]] = [:]
        var current: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix(marker) {
                var title = line.dropFirst(marker.count).trimmingCharacters(in: .whitespaces)
                if title.hasPrefix("\"") && title.hasSuffix("\"") && title.count >= 2 {
                    title = String(title.dropFirst().dropLast())
                }
                current = title
                sections[title, default: []] = []
            } else if let current {
                sections[current]?.append(line)
            }
        }
        return sections
    }

    @Test("every key the code accepts has a row of its own in docs/settings.md, in its kind's section",
          arguments: kinds)
    func settingsReference(_ kind: Kind) throws {
        let sections = Self.sections(try Self.read("docs/settings.md"), marker: "## ")
        let lines = try #require(sections[kind.markdownSection],
                                 "docs/settings.md has no section \"## \(kind.markdownSection)\"")
        for key in kind.keys where !lines.contains(where: { $0.hasPrefix("| `\(key)` |") }) {
            Issue.record("docs/settings.md: the \(kind) key \"\(key)\" has no row (| `\(key)` | ...) under \"## \(kind.markdownSection)\"")
        }
    }

    @Test("every key the code accepts has an entry of its own in outbound-events.conf(5), in its kind's section",
          arguments: kinds)
    func manualPage(_ kind: Kind) throws {
        let sections = Self.sections(try Self.read("packaging/outbound-events.conf.5"), marker: ".SH ")
        let lines = try #require(sections[kind.manSection],
                                 "outbound-events.conf.5 has no section \".SH \(kind.manSection)\"")
        // An entry is a .TP paragraph whose tag is the key in bold: ".TP", then ".B key".
        var tagged = Set<String>()
        for (index, line) in lines.enumerated() where line == ".TP" && index + 1 < lines.count {
            let words = lines[index + 1].split(separator: " ")
            if words.count >= 2 && [".B", ".BR", ".BI"].contains(words[0]) { tagged.insert(String(words[1])) }
        }
        for key in kind.keys where !tagged.contains(key) {
            Issue.record("packaging/outbound-events.conf.5: the \(kind) key \"\(key)\" has no entry (.TP, then .B \(key)) under \".SH \(kind.manSection)\"")
        }
    }

    /// The tests above trust the key lists; this one checks that they are the keys the code
    /// accepts. Each listed key is accepted as a key (its value may still be refused), and every
    /// key that the settings' `switch` statements name is in a list.
    @Test("the key lists are exactly the keys the settings code accepts")
    func keyListsAreTheCode() throws {
        let profile = FirmwareProfile.bSeries
        func refusedAsUnknown(_ message: String) -> Bool {
            message.contains("unknown") || message.contains("not a producer's setting")
        }
        for key in AgentSettings.keys {
            var settings = AgentSettings()
            do { try settings.set(key, "") } catch {
                #expect(!refusedAsUnknown(error.message),
                        "agent key \"\(key)\" is listed but not accepted: \(error.message)")
            }
        }
        for key in HTTPRecipientSettings.keys {
            do { _ = try HTTPRecipientSettings([(key, "")], profile: profile, deployment: .appliance) } catch {
                #expect(!refusedAsUnknown(error.message),
                        "HTTP recipient key \"\(key)\" is listed but not accepted: \(error.message)")
            }
        }
        for key in EmailRecipientSettings.keys {
            do { _ = try EmailRecipientSettings([(key, "")], profile: profile) } catch {
                #expect(!refusedAsUnknown(error.message),
                        "email recipient key \"\(key)\" is listed but not accepted: \(error.message)")
            }
        }
        for key in Producer.keys {
            do { _ = try Producer(settings: [(key, "")], environment: AgentEnvironment(version: "test")) } catch {
                #expect(!refusedAsUnknown(error.message),
                        "producer key \"\(key)\" is listed but not accepted: \(error.message)")
            }
        }

        let listed = Set(AgentSettings.keys + HTTPRecipientSettings.keys + EmailRecipientSettings.keys + Producer.keys)
        let sources = ["Sources/OutboundEventsCore/Settings/AgentSettings.swift",
                       "Sources/OutboundEventsCore/Settings/RecipientSettings.swift",
                       "Sources/OutboundEventsAgent/Producer.swift"]
        var named = 0
        for source in sources {
            for line in try Self.read(source).split(separator: "\n") {
                let code = line.trimmingCharacters(in: .whitespaces)
                guard code.hasPrefix("case \""), let colon = code.firstIndex(of: ":") else { continue }
                // `case "a", "b":` — the quoted labels before the colon.
                let labels = code[..<colon].split(separator: "\"").enumerated()
                    .filter { $0.offset % 2 == 1 }.map { String($0.element) }
                for label in labels {
                    named += 1
                    if !listed.contains(label) {
                        Issue.record("\(source) accepts the key \"\(label)\", which no key list has (AgentSettings.keys, HTTPRecipientSettings.keys, EmailRecipientSettings.keys, Producer.keys)")
                    }
                }
            }
        }
        #expect(named >= listed.count, "the settings' switch statements were not found in \(sources)")
    }
}
