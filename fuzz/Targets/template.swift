// Fuzz target: email templates (parse and render), the email message built from the result,
// and form encoding of the same bytes. A rendered message never carries a line that could be a
// header the template did not write.
import OutboundEventsCore

nonisolated(unsafe) let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 8)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let text = String(decoding: bytes, as: UTF8.self)
    var encoded: [UInt8] = []
    WireFormat.appendEncoded(bytes, to: &encoded)
    precondition(encoded.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "&") && $0 != UInt8(ascii: "=") })

    let queue = EventQueue(memory: memory, policy: .dropOldest)
    queue.activate(0, name: "fuzz")
    let name = Array("support_conference_end".utf8)
    StringFields([("lsid", text), ("external_key", "k")]).withFields { variables in
        StringFields([("note", text)]).withFields { custom in
            let size = EventRecord.size(nameLength: name.count, variables: variables, customFields: custom) ?? 0
            guard size > 0 else { return }
            _ = name.withUnsafeBytes { queue.append(size: size, mask: 1, timestamp: 1_800_000_000, name: $0, variables: variables, customFields: custom) }
        }
    }
    guard let event = queue.beginDelivery(0) else { return 0 }
    var body: [UInt8] = []
    WireFormat(version: "3", applianceID: text, instance: 1).body(of: event, customFields: true, into: &body)
    let values = MacroValues(event: event, label: "Session end", version: "3", applianceID: "a")
    guard let template = try? Template("subject", text) else { return 0 }
    let subject = template.render(values)
    let message = MailMessage(from: "a@example.com", to: ["b@example.com"], subject: subject, body: subject,
                              date: 1_800_000_000, messageID: "x@example.com")
    let rendered = String(decoding: message.rendered(), as: UTF8.self)
    let head = rendered.split(separator: "\r\n\r\n", maxSplits: 1).first ?? ""
    let headerLines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
    precondition(headerLines.filter { !$0.hasPrefix(" ") }.count == 9, "a value added a header line")
    precondition(!rendered.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "a bare line feed")
    return 0
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
