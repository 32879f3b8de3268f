import CAdminHTTP
import OutboundEventsCore

/// One request as the C edge hands it over, valid during the handler's call only.
struct Request {
    let raw: OpaquePointer
    let method: String
    /// The path's segments, each percent-decoded (nil when one is not valid UTF-8 after decoding).
    let segments: [String]?
    let body: [UInt8]
    let bodyTooLarge: Bool
    let peer: String
    /// Came in over TCP: needs the login.
    let overTCP: Bool

    init(_ raw: OpaquePointer, overTCP: Bool) {
        self.raw = raw
        self.overTCP = overTCP
        method = String(cString: cadminhttp_method(raw))
        let path = String(cString: cadminhttp_path(raw))
        var decoded: [String]? = []
        if path.hasPrefix("/") {
            for segment in path.utf8.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
                guard let text = FormData.percentDecoded(segment, plusIsSpace: false) else { decoded = nil; break }
                decoded?.append(text)
            }
        } else {
            decoded = nil
        }
        // "/" is one empty segment: no segments at all.
        if decoded == [""] { decoded = [] }
        segments = decoded
        var length = 0
        let bytes = cadminhttp_body(raw, &length)
        body = length > 0 && bytes != nil ? Array(UnsafeBufferPointer(start: bytes, count: length)) : []
        bodyTooLarge = cadminhttp_body_too_large(raw) != 0
        peer = String(cString: cadminhttp_peer(raw))
    }

    func header(_ name: String) -> String? {
        cadminhttp_header(raw, name).map { String(cString: $0) }
    }

    func cookie(_ name: String) -> String? {
        cadminhttp_cookie(raw, name).map { String(cString: $0) }
    }

    var changesState: Bool { method != "GET" && method != "HEAD" }

    var isAPI: Bool { segments.map { $0.count >= 2 && $0[0] == "api" && $0[1] == "v1" } ?? false }
}

/// An answer: status, type, body and the headers it adds to the ones every answer has.
struct Response {
    var status: Int
    var contentType: String
    var body: [UInt8]
    var headers: [(String, String)] = []

    static func html(_ text: String, status: Int = 200) -> Response {
        Response(status: status, contentType: "text/html; charset=utf-8", body: Array(text.utf8))
    }

    static func json(_ text: String, status: Int = 200) -> Response {
        Response(status: status, contentType: "application/json", body: Array(text.utf8))
    }

    /// The API's refusal (SPEC 13): `{"error": {"key": KEY or null, "message": TEXT}}`.
    static func apiError(_ status: Int, key: String?, _ message: String) -> Response {
        var json = JSONWriter()
        json.object { json in
            json.object("error") { json in
                json.field("key", key)
                json.field("message", message)
            }
        }
        return .json(json.text, status: status)
    }

    /// After a form is saved: back to a page (POST, then redirect, then GET).
    static func redirect(_ location: String) -> Response {
        Response(status: 303, contentType: "text/plain; charset=utf-8", body: Array("See \(location)\n".utf8),
                 headers: [("Location", location)])
    }

    /// Headers on every answer (OWASP): no inline script, no sniffing, no framing, no caching of
    /// pages that show settings.
    static let securityHeaders = [
        ("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Cache-Control", "no-store"),
    ]

    func send(_ request: OpaquePointer) {
        for (name, value) in Self.securityHeaders + headers + [("Content-Type", contentType)] {
            cadminhttp_reply_header(request, name, value)
        }
        body.withUnsafeBytes { cadminhttp_reply(request, UInt32(status), $0.baseAddress, $0.count) }
    }
}
