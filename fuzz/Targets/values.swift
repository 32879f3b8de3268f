// Fuzz target: every setting value parser, on any bytes. Each must return or throw a
// ConfigError naming the key; nothing may crash or hang.
import OutboundEventsCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    func check(_ body: () throws(ConfigError) -> Void, key: String) {
        do { try body() } catch {
            precondition(error.message.hasPrefix(key) || error.message.hasPrefix("\"") || error.message.hasPrefix("name:"),
                         "an error that does not name its key: \(error.message)")
        }
    }
    check({ () throws(ConfigError) in _ = try Values.duration("d", text) }, key: "d")
    check({ () throws(ConfigError) in _ = try Values.size("s", text) }, key: "s")
    check({ () throws(ConfigError) in _ = try Values.boolean("b", text) }, key: "b")
    check({ () throws(ConfigError) in _ = try Values.emailAddresses("a", text, allowEmpty: true) }, key: "a")
    check({ () throws(ConfigError) in try Values.recipientName(text) }, key: "name")
    check({ () throws(ConfigError) in _ = try WebhookURL("url", text).redacted }, key: "url")
    // SPEC 8: a refused URL is never echoed, and a shown one never carries its userinfo.
    if let schemeEnd = text.firstRange(of: "://"), text[..<schemeEnd.lowerBound].allSatisfy({ $0.isASCII && $0.isLetter }) {
        let rest = text[schemeEnd.upperBound...]
        do throws(ConfigError) {
            _ = try WebhookURL("url", text)
        } catch {
            // An unsupported scheme is named (letters only): it may happen to contain the rest.
            let supported = WebhookURL.Scheme(rawValue: text[..<schemeEnd.lowerBound].lowercased()) != nil
            precondition(!supported || rest.utf8.count < 6 || !error.message.contains(rest),
                         "a refused URL was echoed: \(error.message)")
        }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if let at = authority.lastIndex(of: "@") {
            let shown = URLRedaction.redact(text)
            let host = authority[authority.index(after: at)...]
            precondition(shown.hasPrefix(text[..<schemeEnd.upperBound] + "***@" + host), "userinfo shown: \(shown)")
        }
    }
    check({ () throws(ConfigError) in try WebhookURL("url", text).checkCloud("url") }, key: "url")
    var settings = AgentSettings()
    for key in AgentSettings.keys { check({ () throws(ConfigError) in try settings.set(key, text) }, key: key) }
    // Scrubbing a peer's answer of a URL's secrets ends, whatever the URL and the answer.
    let secrets = URLRedaction.secrets(of: text)
    _ = URLRedaction.scrub(text, secrets: secrets)
    _ = Values.quote(text)
    _ = Values.list(text)
    return 0
}
