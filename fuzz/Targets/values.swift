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
    check({ () throws(ConfigError) in try WebhookURL("url", text).checkCloud("url") }, key: "url")
    var settings = AgentSettings()
    for key in AgentSettings.keys { check({ () throws(ConfigError) in try settings.set(key, text) }, key: key) }
    _ = Values.quote(text)
    _ = Values.list(text)
    return 0
}
