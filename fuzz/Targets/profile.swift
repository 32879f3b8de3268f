// Fuzz target: the firmware profile parser, then recipient settings under the parsed profile.
import OutboundEventsCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let profile = try? FirmwareProfile(parsing: text, source: "fuzz") else { return 0 }
    precondition(!profile.events.isEmpty)
    for event in profile.events {
        precondition(profile.index(of: event.name) != nil)
        _ = event.nameBytes.withUnsafeBytes { profile.index(of: $0) }
    }
    _ = try? HTTPRecipientSettings([("url", "http://a.example/")], profile: profile, deployment: .appliance)
    _ = try? EmailRecipientSettings([("addresses", "a@example.com")], profile: profile)
    return 0
}
