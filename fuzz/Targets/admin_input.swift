// Fuzz target: what the Outbound Events page's API and forms decode from a client (SPEC 13):
// the API's JSON objects of strings, urlencoded and multipart form bodies, percent-encoded
// path segments, and the admin.* settings. Each must return or refuse with a reason; nothing
// may crash or hang. What is accepted must round-trip: HTML escaping leaves no markup, and a
// decoded JSON object re-encoded by JSONWriter decodes to the same pairs.
import OutboundEventsCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let pairs = try? FlatJSON.parse(bytes) {
        var json = JSONWriter()
        json.object { json in
            for (key, value) in pairs { json.field(key, value) }
        }
        let again = try? FlatJSON.parse(Array(json.text.utf8))
        precondition(again?.map { $0.key } == pairs.map { $0.key } && again?.map { $0.value } == pairs.map { $0.value },
                     "a JSON object does not round-trip")
        for (key, value) in pairs {
            for text in [key, value] {
                let escaped = HTML.text(text)
                precondition(!escaped.contains("<") && !escaped.contains(">") && !escaped.contains("\""), "markup left in \(escaped)")
            }
        }
    }
    _ = try? FormData.urlEncoded(bytes)
    _ = FormData.percentDecoded(bytes, plusIsSpace: false)
    // The first line is the boundary, the rest the body.
    if let newline = bytes.firstIndex(of: 0x0A) {
        let boundary = String(decoding: bytes[..<newline], as: UTF8.self)
        _ = try? FormData.parse(contentType: "multipart/form-data; boundary=\(boundary)", body: Array(bytes[(newline + 1)...]))
    }
    let text = String(decoding: bytes, as: UTF8.self)
    var admin = AdminSettings()
    for key in AdminSettings.keys {
        do throws(ConfigError) { try admin.set(key, text) } catch {
            precondition(error.message.hasPrefix(key), "an error that does not name its key: \(error.message)")
            // A refused hash is never shown: its message is the same whatever the value was.
            // (Looking for the value in the message would trip on values that are words of it.)
            if key == "admin.password_hash" {
                var other = AdminSettings()
                let fixed: String
                do throws(ConfigError) { try other.set(key, "x"); fixed = "" } catch { fixed = error.message }
                precondition(error.message == fixed, "a refused password hash changed its message")
            }
        }
    }
    let segment = HTML.pathSegment(text)
    precondition(FormData.percentDecoded(Array(segment.utf8), plusIsSpace: false) == text,
                 "a path segment does not round-trip")
    return 0
}
