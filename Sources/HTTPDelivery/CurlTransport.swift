import CCurl
import CShims
import Glibc
import OutboundEventsCore

/// libcurl is initialised once per process, before the first handle (thread-safe via the
/// Swift global's lazy initialisation).
let curlReady: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

/// HTTP delivery with libcurl's multi interface: one easy handle per recipient slot, so each
/// recipient has its own keep-alive connection and at most one request in flight, and a slow
/// or dead receiver never holds up another. Owned and driven by the agent's delivery thread.
public final class CurlTransport: HTTPTransport {
    let multi: UnsafeMutableRawPointer
    var transfers: [Transfer?]

    /// Response bodies are read up to this many bytes, then the transfer is cut: a hostile
    /// receiver streaming gigabytes costs nothing.
    static let responseLimit = 64 * 1024

    public init?(slots: Int) {
        guard curlReady, let multi = curl_multi_init() else { return nil }
        self.multi = multi
        transfers = Array(repeating: nil, count: slots)
    }

    deinit {
        for slot in transfers.indices { release(slot: slot) }
        curl_multi_cleanup(multi)
    }

    public func configure(slot: Int, target: HTTPTarget) {
        release(slot: slot)
        transfers[slot] = Transfer(slot: slot, target: target)
    }

    public func release(slot: Int) {
        cancel(slot: slot)
        transfers[slot] = nil
    }

    public func start(slot: Int, body: [UInt8], headers: [String]) {
        guard let transfer = transfers[slot], let easy = transfer.easy else { return }
        cancel(slot: slot)
        transfer.prepare(body: body, headers: headers)
        if curl_multi_add_handle(multi, easy) == CURLM_OK {
            transfer.active = true
        } else {
            transfer.failedToStart = true
        }
    }

    public func cancel(slot: Int) {
        guard let transfer = transfers[slot], transfer.active, let easy = transfer.easy else { return }
        curl_multi_remove_handle(multi, easy)
        transfer.active = false
    }

    public func poll(timeout: Millis, _ finished: (Int, DeliveryResult) -> Void) {
        var reported = reportFailedStarts(finished)
        var running: Int32 = 0
        curl_multi_perform(multi, &running)
        reported += collect(finished)
        guard reported == 0 else { return }
        let wait = Int32(clamping: max(0, timeout))
        curl_multi_poll(multi, nil, 0, wait, nil)
        curl_multi_perform(multi, &running)
        _ = collect(finished)
    }

    public func wakeup() {
        curl_multi_wakeup(multi)
    }

    func reportFailedStarts(_ finished: (Int, DeliveryResult) -> Void) -> Int {
        var count = 0
        for case let transfer? in transfers where transfer.failedToStart {
            transfer.failedToStart = false
            count += 1
            finished(transfer.slot, DeliveryResult(status: 0, failure: .network,
                                                   error: "could not start the request (libcurl refused the handle)",
                                                   elapsed: 0))
        }
        return count
    }

    func collect(_ finished: (Int, DeliveryResult) -> Void) -> Int {
        var count = 0
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let code = message.pointee.data.result
            curl_multi_remove_handle(multi, easy)
            guard let transfer = transfers.lazy.compactMap({ $0 }).first(where: { $0.easy == easy }) else { continue }
            transfer.active = false
            count += 1
            finished(transfer.slot, transfer.result(code))
        }
        return count
    }
}

/// One slot's easy handle and the buffers libcurl reads from while a request is in flight.
final class Transfer {
    let slot: Int
    let target: HTTPTarget
    let easy: UnsafeMutableRawPointer?
    var active = false
    var failedToStart = false
    var body: [UInt8] = []
    var headerList: UnsafeMutablePointer<curl_slist>?
    let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    /// The last status line received ("HTTP/1.1 503 Service Unavailable").
    var statusLine: [UInt8] = []
    /// The start of the response body, for the error message, and how much arrived in all.
    var responseStart: [UInt8] = []
    var responseBytes = 0

    init(slot: Int, target: HTTPTarget) {
        self.slot = slot
        self.target = target
        easy = curl_easy_init()
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        guard let easy else { return }
        let me = Unmanaged.passUnretained(self).toOpaque()
        cshims_curl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        cshims_curl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer)
        target.url.withCString { _ = cshims_curl_easy_setopt_pointer(easy, CURLOPT_URL, $0) }
        "http,https".withCString { _ = cshims_curl_easy_setopt_pointer(easy, CURLOPT_PROTOCOLS_STR, $0) }
        // The appliance's own network settings decide routing, not a proxy from the environment.
        "".withCString { _ = cshims_curl_easy_setopt_pointer(easy, CURLOPT_PROXY, $0) }
        cshims_curl_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0)
        cshims_curl_easy_setopt_long(easy, CURLOPT_POST, 1)
        cshims_curl_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
        cshims_curl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Int(target.connectTimeout))
        cshims_curl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, Int(target.requestTimeout))
        cshims_curl_easy_setopt_long(easy, CURLOPT_SSLVERSION, Int(CURL_SSLVERSION_TLSv1_2))
        cshims_curl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1)
        cshims_curl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2)
        if !target.caCertificate.isEmpty {
            // This recipient trusts its uploaded CA alone: no bundle, no directory.
            cshims_curl_easy_setopt_pointer(easy, CURLOPT_CAINFO, nil)
            cshims_curl_easy_setopt_pointer(easy, CURLOPT_CAPATH, nil)
            var pem = Array(target.caCertificate.utf8)
            pem.withUnsafeMutableBytes { _ = cshims_curl_easy_setopt_blob(easy, CURLOPT_CAINFO_BLOB, $0.baseAddress, $0.count) }
        }
        target.userAgent.withCString { _ = cshims_curl_easy_setopt_pointer(easy, CURLOPT_USERAGENT, $0) }
        cshims_curl_easy_setopt_callback(easy, CURLOPT_WRITEFUNCTION, { data, size, count, context in
            let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
            return transfer.received(UnsafeRawBufferPointer(start: data, count: size * count))
        })
        cshims_curl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, me)
        cshims_curl_easy_setopt_callback(easy, CURLOPT_HEADERFUNCTION, { data, size, count, context in
            let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
            transfer.receivedHeader(UnsafeRawBufferPointer(start: data, count: size * count))
            return size * count
        })
        cshims_curl_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, me)
    }

    deinit {
        if let easy { curl_easy_cleanup(easy) }
        curl_slist_free_all(headerList)
        errorBuffer.deallocate()
    }

    func prepare(body: [UInt8], headers: [String]) {
        guard let easy else { return }
        self.body = body
        curl_slist_free_all(headerList)
        headerList = nil
        for header in headers + ["Expect:"] {
            headerList = curl_slist_append(headerList, header)
        }
        cshims_curl_easy_setopt_pointer(easy, CURLOPT_HTTPHEADER, headerList)
        self.body.withUnsafeBytes { bytes in
            _ = cshims_curl_easy_setopt_offset(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count))
            _ = cshims_curl_easy_setopt_pointer(easy, CURLOPT_POSTFIELDS, bytes.baseAddress)
        }
        statusLine.removeAll(keepingCapacity: true)
        responseStart.removeAll(keepingCapacity: true)
        responseBytes = 0
        errorBuffer[0] = 0
    }

    func received(_ data: UnsafeRawBufferPointer) -> Int {
        if responseStart.count < 200 { responseStart.append(contentsOf: data.prefix(200 - responseStart.count)) }
        responseBytes += data.count
        return responseBytes > CurlTransport.responseLimit ? 0 : data.count
    }

    func receivedHeader(_ line: UnsafeRawBufferPointer) {
        if line.starts(with: Array("HTTP/".utf8)) {
            statusLine = Array(line.prefix { $0 != 0x0D && $0 != 0x0A }.prefix(120))
        }
    }

    func result(_ code: CURLcode) -> DeliveryResult {
        var status = 0
        var elapsedMicros: curl_off_t = 0
        if let easy {
            cshims_curl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
            cshims_curl_easy_getinfo_offset(easy, CURLINFO_TOTAL_TIME_T, &elapsedMicros)
        }
        let elapsed = Millis(elapsedMicros / 1000)
        let cutShort = code == CURLE_WRITE_ERROR && responseBytes > CurlTransport.responseLimit
        if code == CURLE_OK || cutShort {
            if status == 200 { return .success(elapsed: elapsed) }
            return DeliveryResult(status: status, failure: .status, error: statusMessage(status), elapsed: elapsed)
        }
        let detail = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
        let failure: DeliveryResult.Failure
        switch code {
        case CURLE_OPERATION_TIMEDOUT: failure = .timeout
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CERTPROBLEM,
             CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_CIPHER,
             CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_PINNEDPUBKEYNOTMATCH:
            failure = .tls
        default: failure = .network
        }
        let prefix = failure == .tls ? "TLS: " : ""
        return DeliveryResult(status: status, failure: failure, error: prefix + detail, elapsed: elapsed)
    }

    /// "HTTP 503 Service Unavailable: <start of the body>", or for a redirect where it pointed.
    func statusMessage(_ status: Int) -> String {
        var text = "HTTP \(status)"
        let line = String(decoding: statusLine, as: UTF8.self)
        let parts = line.split(separator: " ", maxSplits: 2)
        if parts.count == 3 { text += " " + Self.printable(Array(parts[2].utf8), limit: 60) }
        if (300...399).contains(status) {
            var location: UnsafePointer<CChar>?
            if let easy { cshims_curl_easy_getinfo_string(easy, CURLINFO_REDIRECT_URL, &location) }
            text += location.map { ": redirect to \(Self.printable(Array(String(cString: $0).utf8), limit: 200)) not followed" }
                ?? ": redirect not followed"
            return text
        }
        let snippet = Self.printable(responseStart, limit: 120)
        if !snippet.isEmpty { text += ": " + snippet }
        return text
    }

    /// Bytes a receiver sent, made safe for a one-line message: control characters become
    /// spaces, blanks are collapsed, long text is cut.
    static func printable(_ bytes: [UInt8], limit: Int) -> String {
        var out = ""
        var lastWasSpace = true
        for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars {
            if out.unicodeScalars.count >= limit { out += "…"; break }
            let isSpace = scalar.value < 0x21 || scalar.value == 0x7F
            if isSpace {
                if !lastWasSpace { out += " " }
            } else {
                out.unicodeScalars.append(scalar)
            }
            lastWasSpace = isSpace
        }
        while out.hasSuffix(" ") { out.removeLast() }
        return out
    }
}
