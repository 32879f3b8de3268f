import CCurl
import CShims
import CSystem
import OutboundEventsCore

/// libcurl is initialised once per process, before the first handle (thread-safe via the
/// Swift global's lazy initialisation).
let curlReady: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

/// Delivery with libcurl's multi interface: one easy handle per slot, so each recipient has
/// its own keep-alive connection and at most one transfer in flight, and a slow or dead
/// receiver (or mail relay) never holds up another. Owned and driven by the agent's delivery
/// thread.
public final class CurlTransport: Transport {
    let multi: UnsafeMutableRawPointer
    var transfers: [Transfer?]

    public init?(slots: Int) {
        guard curlReady, let multi = curl_multi_init() else { return nil }
        self.multi = multi
        transfers = Array(repeating: nil, count: slots)
    }

    deinit {
        for slot in transfers.indices { release(slot: slot) }
        curl_multi_cleanup(multi)
    }

    public func configure(slot: Int, target: TransferTarget) {
        release(slot: slot)
        switch target {
        case .http(let http): transfers[slot] = HTTPTransfer(slot: slot, target: http)
        case .smtp(let smtp): transfers[slot] = SMTPTransfer(slot: slot, target: smtp)
        }
    }

    public func release(slot: Int) {
        cancel(slot: slot)
        transfers[slot] = nil
    }

    public func start(slot: Int, body: [UInt8], headers: [String]) {
        guard let transfer = transfers[slot] as? HTTPTransfer else { return }
        cancel(slot: slot)
        transfer.prepare(body: body, headers: headers)
        add(transfer)
    }

    public func start(slot: Int, mail: MailEnvelope) {
        guard let transfer = transfers[slot] as? SMTPTransfer else { return }
        cancel(slot: slot)
        transfer.prepare(mail)
        add(transfer)
    }

    func add(_ transfer: Transfer) {
        if let easy = transfer.easy, curl_multi_add_handle(multi, easy) == CURLM_OK {
            transfer.active = true
        } else {
            transfer.failedToStart = true
        }
    }

    public func startCheck(slot: Int) {
        guard let transfer = transfers[slot] as? SMTPTransfer else { return }
        cancel(slot: slot)
        transfer.prepareCheck()
        add(transfer)
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
        curl_multi_poll(multi, nil, 0, Int32(clamping: max(0, timeout)), nil)
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
                                                   error: "could not start the transfer (libcurl refused the handle)",
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
            var context: UnsafeMutableRawPointer?
            guard cshims_curl_easy_getinfo_pointer(easy, CURLINFO_PRIVATE, &context) == CURLE_OK, let context else {
                continue
            }
            let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
            guard transfers[transfer.slot] === transfer else { continue }
            transfer.active = false
            count += 1
            finished(transfer.slot, transfer.result(code))
        }
        return count
    }
}

/// One slot's easy handle, with what every transfer shares: the error buffer, timeouts and TLS
/// verification (peer and host name, TLS 1.2 or newer, an uploaded CA as the only trust).
class Transfer {
    let slot: Int
    let easy: UnsafeMutableRawPointer?
    var active = false
    var failedToStart = false
    let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)

    init(slot: Int, url: String, protocols: String, caCertificate: String, connectTimeout: Millis,
         requestTimeout: Millis) {
        self.slot = slot
        easy = curl_easy_init()
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        guard let easy else { return }
        cshims_curl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        // Removing a handle whose host name lookup hangs must not wait for getaddrinfo: the
        // threaded resolver's thread is left to finish alone, so close stays bounded.
        cshims_curl_easy_setopt_long(easy, CURLOPT_QUICK_EXIT, 1)
        cshims_curl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer)
        url.withCString { _ = cshims_curl_easy_setopt_pointer(easy, CURLOPT_URL, $0) }
        protocols.withCString { _ = cshims_curl_easy_setopt_pointer(easy, CURLOPT_PROTOCOLS_STR, $0) }
        // The appliance's own settings decide routing, never a proxy from the environment: ""
        // turns libcurl's http_proxy/https_proxy lookup off. HTTPTransfer sets http.proxy.
        "".withCString { _ = cshims_curl_easy_setopt_pointer(easy, CURLOPT_PROXY, $0) }
        cshims_curl_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
        cshims_curl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Int(connectTimeout))
        cshims_curl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, Int(requestTimeout))
        cshims_curl_easy_setopt_long(easy, CURLOPT_SSLVERSION, Int(CURL_SSLVERSION_TLSv1_2))
        cshims_curl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1)
        cshims_curl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2)
        // Finished transfers are found from their handle in one step, not by a scan.
        cshims_curl_easy_setopt_pointer(easy, CURLOPT_PRIVATE, context)
        if !caCertificate.isEmpty {
            // This recipient trusts its uploaded CA alone: no bundle, no directory.
            cshims_curl_easy_setopt_pointer(easy, CURLOPT_CAINFO, nil)
            cshims_curl_easy_setopt_pointer(easy, CURLOPT_CAPATH, nil)
            let pem = Array(caCertificate.utf8)
            pem.withUnsafeBytes {
                _ = cshims_curl_easy_setopt_blob(easy, CURLOPT_CAINFO_BLOB, $0.baseAddress, $0.count)
            }
        }
    }

    deinit {
        if let easy { curl_easy_cleanup(easy) }
        errorBuffer.deallocate()
    }

    var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    func result(_ code: CURLcode) -> DeliveryResult { fatalError("subclasses report results") }

    var elapsed: Millis {
        var micros: curl_off_t = 0
        if let easy { cshims_curl_easy_getinfo_offset(easy, CURLINFO_TOTAL_TIME_T, &micros) }
        return Millis(micros / 1000)
    }

    var responseCode: Int {
        var code = 0
        if let easy { cshims_curl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code) }
        return code
    }

    /// libcurl's message for a failed transfer, classified.
    func failure(_ code: CURLcode) -> (DeliveryResult.Failure, String) {
        let detail = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
        switch code {
        case CURLE_OPERATION_TIMEDOUT:
            return (.timeout, detail)
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CERTPROBLEM,
             CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_CIPHER,
             CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_USE_SSL_FAILED:
            return (.tls, "TLS: " + detail)
        default:
            return (.network, detail)
        }
    }

    /// Bytes a peer sent, made safe for a one-line message: control characters become spaces,
    /// blanks are collapsed, long text is cut.
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
