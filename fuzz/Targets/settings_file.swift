// Fuzz target: the tool's settings file format, and the line lookup of error messages.
import OutboundEventsCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let file = SettingsFile(parsing: text)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).count
    for problem in file.problems { precondition(problem.line >= 1 && problem.line <= lines) }
    for recipient in file.recipients {
        _ = SettingsFile.line(of: text, in: recipient.settings, default: recipient.line)
        _ = try? HTTPRecipientSettings(recipient.settings.map { (key: $0.key, value: $0.value) },
                                       profile: .bSeries, deployment: .cloud)
    }
    var agent = AgentSettings()
    _ = try? agent.apply(file.agent.map { (key: $0.key, value: $0.value) })
    return 0
}
