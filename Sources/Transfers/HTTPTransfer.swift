import CCurl
import CShims
import OutboundEventsCore

/// A webhook slot: POSTs form bodies, reads at most `responseLimit` bytes of any answer, and
/// turns the outcome into a result a person can read ("HTTP 503 Service Unavailable: ...").
final class HTTPTransfer: Transfer {
    /// Response bodies are read up to this many bytes, then the transfer is cut: a hostile
    /// receiver streaming gigabytes costs nothing.
    static let responseLimit = 64 * 1024

    /// Request headers live in list nodes and text buffers of this transfer, reused from one
    /// request to the next (libcurl only reads the list); a header too long for them goes to
    /// `extraHeaders`. The body is copied once, into `body`, which lives until the next request.
    static let headerSlots = 6
    static let headerCapacity = 512
    let headerNodes = UnsafeMutablePointer<curl_slist>.allocate(capacity: HTTPTransfer.headerSlots + 1)
    let headerText = UnsafeMutablePointer<CChar>.allocate(
        capacity: (HTTPTransfer.headerSlots + 1) * HTTPTransfer.headerCapacity)
    var extraHeaders: UnsafeMutablePointer<curl_slist>?
    var body = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 8)
    var bodyCapacity = 4096
    /// The last status line received ("HTTP/1.1 503 Service Unavailable").
    var statusLine: [UInt8] = []
    /// The start of the response body, for the error message, and how much arrived in all.
    var responseStart: [UInt8] = []
    var responseBytes = 0
    /// For `Probe`: the TLS version, read while the connection is still attached to the handle.
    var recordTLSVersion = false
    var tlsVersion: String?
    /// The proxy in its redacted form, for messages; nil without one.
    let proxyShown: String?
    /// Where a CONNECT tunnel goes: "host:port".
    let tunnelTarget: String
    /// What the URLs' redacted forms hide: never repeated from a peer's answer either.
    let secrets: [String]

    init(slot: Int, target: HTTPTarget) {
        proxyShown = target.proxy?.redacted
        secrets = URLRedaction.secrets(of: target.url)
            + (target.proxy.map { URLRedaction.secrets(of: $0.unredactedText) } ?? [])
        let url = try? WebhookURL("url", target.url)
        tunnelTarget = url.map { "\($0.host):\($0.port)" } ?? ""
        super.init(slot: slot, url: target.url, protocols: "http,https", caCertificate: target.caCertificate,
                   connectTimeout: target.connectTimeout, requestTimeout: target.requestTimeout)
        guard let easy else { return }
        if let proxy = target.proxy {
            // HTTPS goes through a CONNECT tunnel and is verified end to end, against the
            // recipient's own CA: the proxy sees only ciphertext.
            proxy.unredactedText.withCString { _ = cshims_curl_easy_setopt_pointer(easy, CURLOPT_PROXY, $0) }
            cshims_curl_easy_setopt_long(easy, CURLOPT_PROXYTYPE, Int(CURLPROXY_HTTP.rawValue))
            target.noProxy.joined(separator: ",").withCString {
                _ = cshims_curl_easy_setopt_pointer(easy, CURLOPT_NOPROXY, $0)
            }
        }
        cshims_curl_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0)
        cshims_curl_easy_setopt_long(easy, CURLOPT_POST, 1)
        target.userAgent.withCString { _ = cshims_curl_easy_setopt_pointer(easy, CURLOPT_USERAGENT, $0) }
        cshims_curl_easy_setopt_callback(easy, CURLOPT_WRITEFUNCTION, { data, size, count, context in
            let transfer = Unmanaged<HTTPTransfer>.fromOpaque(context!).takeUnretainedValue()
            return transfer.received(UnsafeRawBufferPointer(start: data, count: size * count))
        })
        cshims_curl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, context)
        cshims_curl_easy_setopt_callback(easy, CURLOPT_HEADERFUNCTION, { data, size, count, context in
            let transfer = Unmanaged<HTTPTransfer>.fromOpaque(context!).takeUnretainedValue()
            transfer.receivedHeader(UnsafeRawBufferPointer(start: data, count: size * count))
            return size * count
        })
        cshims_curl_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, context)
    }

    deinit {
        if let easy { cshims_curl_easy_setopt_pointer(easy, CURLOPT_HTTPHEADER, nil) }
        curl_slist_free_all(extraHeaders)
        headerNodes.deallocate()
        headerText.deallocate()
        body.deallocate()
    }

    /// Sets up one request: the body copied into this transfer's buffer (libcurl reads it from
    /// there, `CURLOPT_POSTFIELDS`), the headers into its list.
    func prepare(body bytes: [UInt8], headers: [String]) {
        guard let easy else { return }
        curl_slist_free_all(extraHeaders)
        extraHeaders = nil
        var used = 0
        for header in headers {
            let length = header.utf8.count
            guard used < Self.headerSlots, length < Self.headerCapacity else {
                extraHeaders = curl_slist_append(extraHeaders, header)
                continue
            }
            let text = headerText + used * Self.headerCapacity
            header.utf8.withContiguousStorageIfAvailable { source in
                UnsafeMutableRawPointer(text).copyMemory(from: source.baseAddress!, byteCount: length)
            } ?? { _ = header.withCString { strcpy(text, $0) } }()
            text[length] = 0
            headerNodes[used] = curl_slist(data: text, next: nil)
            used += 1
        }
        // "Expect:" stops libcurl from waiting for a 100-continue on larger bodies.
        let expect = headerText + Self.headerSlots * Self.headerCapacity
        _ = "Expect:".withCString { strcpy(expect, $0) }
        headerNodes[used] = curl_slist(data: expect, next: extraHeaders)
        for index in 0..<used { headerNodes[index].next = headerNodes + index + 1 }
        cshims_curl_easy_setopt_pointer(easy, CURLOPT_HTTPHEADER, headerNodes)
        if bytes.count > bodyCapacity {
            body.deallocate()
            bodyCapacity = max(bytes.count, bodyCapacity * 2)
            body = UnsafeMutableRawPointer.allocate(byteCount: bodyCapacity, alignment: 8)
        }
        bytes.withUnsafeBytes { source in
            if let base = source.baseAddress { body.copyMemory(from: base, byteCount: source.count) }
        }
        cshims_curl_easy_setopt_offset(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count))
        cshims_curl_easy_setopt_pointer(easy, CURLOPT_POSTFIELDS, body)
        statusLine.removeAll(keepingCapacity: true)
        responseStart.removeAll(keepingCapacity: true)
        responseBytes = 0
        errorBuffer[0] = 0
    }

    func received(_ data: UnsafeRawBufferPointer) -> Int {
        // Kept well past what a message shows, so that secrets are scrubbed whole before it is cut.
        if responseStart.count < 1024 { responseStart.append(contentsOf: data.prefix(1024 - responseStart.count)) }
        responseBytes += data.count
        return responseBytes > Self.responseLimit ? 0 : data.count
    }

    func receivedHeader(_ line: UnsafeRawBufferPointer) {
        if recordTLSVersion && tlsVersion == nil, let easy {
            tlsVersion = cshims_curl_tls_version(easy).map { String(cString: $0) }
        }
        // Only status lines ("HTTP/1.1 503 ...") are kept.
        guard line.count > 5, line[0] == 0x48, line[1] == 0x54, line[2] == 0x54, line[3] == 0x50, line[4] == 0x2F else {
            return
        }
        statusLine.removeAll(keepingCapacity: true)
        var i = 0
        while i < line.count && i < 120 && line[i] != 0x0D && line[i] != 0x0A {
            statusLine.append(line[i])
            i += 1
        }
    }

    override func result(_ code: CURLcode) -> DeliveryResult {
        let status = responseCode
        let cutShort = code == CURLE_WRITE_ERROR && responseBytes > Self.responseLimit
        if code == CURLE_OK || cutShort {
            if status == 200 { return .success(elapsed: elapsed) }
            if status == 407, let proxyShown {
                return DeliveryResult(status: status, failure: .refused,
                                      error: "proxy \(proxyShown) asks for authentication (HTTP 407):"
                                          + " check the user and password in http.proxy",
                                      elapsed: elapsed)
            }
            return DeliveryResult(status: status, failure: .refused, error: statusMessage(status), elapsed: elapsed)
        }
        if let proxyShown, let refusal = proxyRefusal(proxyShown) {
            return DeliveryResult(status: status, failure: .refused, error: refusal, elapsed: elapsed)
        }
        var (failure, error) = failure(code)
        if let proxyShown, failure != .tls, code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_PROXY {
            error = "proxy \(proxyShown): " + error
        }
        return DeliveryResult(status: status, failure: failure, error: error, elapsed: elapsed)
    }

    /// The proxy's answer to CONNECT when it was not 200: it refused the tunnel.
    func proxyRefusal(_ proxy: String) -> String? {
        var connectCode = 0
        if let easy { cshims_curl_easy_getinfo_long(easy, CURLINFO_HTTP_CONNECTCODE, &connectCode) }
        guard connectCode != 0 && connectCode != 200 else { return nil }
        if connectCode == 407 {
            return "proxy \(proxy) asks for authentication (HTTP 407 to CONNECT):"
                + " check the user and password in http.proxy"
        }
        return "proxy \(proxy) refused CONNECT to \(tunnelTarget) (HTTP \(connectCode))"
    }

    /// "HTTP 503 Service Unavailable: <start of the body>", or for a redirect where it pointed.
    func statusMessage(_ status: Int) -> String {
        var text = "HTTP \(status)"
        let parts = String(decoding: statusLine, as: UTF8.self).split(separator: " ", maxSplits: 2)
        if parts.count == 3 { text += " " + Self.printable(Array(parts[2].utf8), limit: 60) }
        if (300...399).contains(status) {
            var location: UnsafePointer<CChar>?
            if let easy { cshims_curl_easy_getinfo_string(easy, CURLINFO_REDIRECT_URL, &location) }
            return text + (location.map {
                ": redirect to \(Self.printable(Array(URLRedaction.redact(String(cString: $0)).utf8), limit: 200))"
                    + " not followed"
            } ?? ": redirect not followed")
        }
        // An error page may echo the request's path or query: the URL's secrets are scrubbed.
        let scrubbed = URLRedaction.scrub(Self.printable(responseStart, limit: 1024), secrets: secrets)
        let snippet = scrubbed.unicodeScalars.count > 120
            ? String(String.UnicodeScalarView(scrubbed.unicodeScalars.prefix(120))) + "…" : scrubbed
        return URLRedaction.scrub(snippet.isEmpty ? text : text + ": " + snippet, secrets: secrets)
    }
}
