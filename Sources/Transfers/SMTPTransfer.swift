import CCurl
import CShims
import OutboundEventsCore

/// A mail slot: hands one message at a time to the SMTP relay (plain, STARTTLS or implicit
/// TLS), and keeps the relay's last reply so a refusal reads as the relay wrote it
/// ("550 5.7.1 Relaying denied").
final class SMTPTransfer: Transfer {
    var message: [UInt8] = []
    var readOffset = 0
    var recipientList: UnsafeMutablePointer<curl_slist>?
    /// The relay's last reply line, and the last one that refused something (4xx or 5xx).
    var lastReply: [UInt8] = []
    var lastRefusal: [UInt8] = []
    /// The address of the RCPT command awaiting its reply, and the addresses refused so far.
    var pendingRecipient: String?
    var refused: [RefusedAddress] = []
    /// For `Probe`: the conversation with the relay as a person reads it, credentials hidden.
    var transcript: [String]?
    var afterAuth = false

    init(slot: Int, target: SMTPTarget) {
        let relay = target.relay
        let host = relay.host.contains(":") ? "[\(relay.host)]" : relay.host
        let scheme = relay.encryption == .tls ? "smtps" : "smtp"
        super.init(slot: slot, url: "\(scheme)://\(host):\(relay.effectivePort)", protocols: "smtp,smtps",
                   caCertificate: relay.caCertificate, connectTimeout: target.connectTimeout,
                   requestTimeout: target.requestTimeout)
        guard let easy else { return }
        cshims_curl_easy_setopt_long(easy, CURLOPT_USE_SSL,
                                     Int(relay.encryption == .none ? CURLUSESSL_NONE.rawValue
                                                                   : CURLUSESSL_ALL.rawValue))
        if !relay.username.isEmpty {
            relay.username.withCString { _ = cshims_curl_easy_setopt_pointer(easy, CURLOPT_USERNAME, $0) }
            relay.password.unredactedText.withCString {
                _ = cshims_curl_easy_setopt_pointer(easy, CURLOPT_PASSWORD, $0)
            }
        }
        // One refused address must not hold every other recipient's mail back.
        cshims_curl_easy_setopt_long(easy, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1)
        cshims_curl_easy_setopt_long(easy, CURLOPT_UPLOAD, 1)
        cshims_curl_easy_setopt_callback(easy, CURLOPT_READFUNCTION, { buffer, size, count, context in
            let transfer = Unmanaged<SMTPTransfer>.fromOpaque(context!).takeUnretainedValue()
            return transfer.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: size * count))
        })
        cshims_curl_easy_setopt_pointer(easy, CURLOPT_READDATA, context)
        // The relay's replies, and the commands they answer, reach us only through the debug
        // callback: that is how each RCPT's own reply is known.
        cshims_curl_easy_setopt_long(easy, CURLOPT_VERBOSE, 1)
        cshims_curl_easy_setopt_debug(easy, { _, type, data, size, context in
            guard let data else { return 0 }
            let transfer = Unmanaged<SMTPTransfer>.fromOpaque(context!).takeUnretainedValue()
            let line = UnsafeRawBufferPointer(start: data, count: size)
            switch type {
            case CURLINFO_HEADER_IN: transfer.replied(line)
            case CURLINFO_HEADER_OUT: transfer.sent(line)
            case CURLINFO_TEXT: transfer.record("*", line)
            default: break
            }
            return 0
        })
        cshims_curl_easy_setopt_pointer(easy, CURLOPT_DEBUGDATA, context)
    }

    deinit {
        curl_slist_free_all(recipientList)
    }

    func prepare(_ mail: MailEnvelope) {
        guard let easy else { return }
        message = mail.message
        readOffset = 0
        forgetReplies()
        curl_slist_free_all(recipientList)
        recipientList = nil
        for address in mail.recipients { recipientList = curl_slist_append(recipientList, "<\(address)>") }
        cshims_curl_easy_setopt_pointer(easy, CURLOPT_MAIL_RCPT, recipientList)
        "<\(mail.from)>".withCString { _ = cshims_curl_easy_setopt_pointer(easy, CURLOPT_MAIL_FROM, $0) }
        cshims_curl_easy_setopt_offset(easy, CURLOPT_INFILESIZE_LARGE, curl_off_t(message.count))
    }

    /// Makes this handle a relay check: no envelope, no upload; after the login, NOOP (answered
    /// 250 by any relay), then QUIT, as the connection is not kept.
    func prepareCheck() {
        guard let easy else { return }
        forgetReplies()
        cshims_curl_easy_setopt_long(easy, CURLOPT_UPLOAD, 0)
        cshims_curl_easy_setopt_pointer(easy, CURLOPT_MAIL_RCPT, nil)
        "NOOP".withCString { _ = cshims_curl_easy_setopt_pointer(easy, CURLOPT_CUSTOMREQUEST, $0) }
        cshims_curl_easy_setopt_long(easy, CURLOPT_FORBID_REUSE, 1)
        // libcurl hands a command's reply to the write callback: it is not ours to print.
        cshims_curl_easy_setopt_callback(easy, CURLOPT_WRITEFUNCTION, { _, size, count, _ in size * count })
    }

    /// What the last transfer heard from the relay, forgotten before the next.
    func forgetReplies() {
        lastReply = []
        lastRefusal = []
        pendingRecipient = nil
        refused = []
        errorBuffer[0] = 0
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let count = min(buffer.count, message.count - readOffset)
        guard count > 0 else { return 0 }
        message.withUnsafeBytes { source in
            buffer.baseAddress!.copyMemory(from: source.baseAddress! + readOffset, byteCount: count)
        }
        readOffset += count
        return count
    }

    /// A command libcurl sent; `RCPT TO:<address>` is remembered until its reply.
    func sent(_ line: UnsafeRawBufferPointer) {
        if transcript != nil { record(">", Self.shown(command: line, afterAuth: &afterAuth)) }
        let prefix = Array("RCPT TO:<".utf8)
        guard line.count > prefix.count, zip(line, prefix).allSatisfy({ $0.0 | 0x20 == $0.1 | 0x20 }) else { return }
        let address = line.dropFirst(prefix.count).prefix { $0 != UInt8(ascii: ">") && $0 != 0x0D && $0 != 0x0A }
        pendingRecipient = String(decoding: address, as: UTF8.self)
    }

    func replied(_ line: UnsafeRawBufferPointer) {
        record("<", line)
        let text = Array(line.prefix { $0 != 0x0D && $0 != 0x0A }.prefix(200))
        // The relay's answer to the login ends the lines that carry credentials.
        if text.first == UInt8(ascii: "2") || text.first == UInt8(ascii: "5") { afterAuth = false }
        lastReply = text
        let refusal = text.first == UInt8(ascii: "4") || text.first == UInt8(ascii: "5")
        if refusal { lastRefusal = text }
        // A reply's last line has a blank (or nothing) after its code; "250-" lines continue it.
        let isLast = text.count == 3 || (text.count > 3 && text[3] == 0x20)
        if isLast, let address = pendingRecipient {
            pendingRecipient = nil
            if refusal { refused.append(RefusedAddress(address: address, reply: Self.printable(text, limit: 160))) }
        }
    }

    func record(_ marker: String, _ line: UnsafeRawBufferPointer) {
        guard transcript != nil else { return }
        let text = Self.printable(Array(line), limit: 200)
        // libcurl's account of each TLS record is noise to a person; the outcome stays.
        let noise = ["TLS handshake", "TLS change cipher", "session ID", "completely uploaded", "imported CA"]
        guard marker != "*" || !noise.contains(where: { text.byteRange(of: $0) != nil }) else { return }
        record(marker, text)
    }

    func record(_ marker: String, _ text: String) {
        guard transcript != nil, !text.isEmpty else { return }
        transcript?.append("\(marker) \(text)")
    }

    /// A command as the transcript shows it: the verbs of SMTP as they are, the arguments of
    /// AUTH and every line after it until the relay's verdict (base64 user names and
    /// passwords) as `***`.
    static func shown(command line: UnsafeRawBufferPointer, afterAuth: inout Bool) -> String {
        let text = printable(Array(line), limit: 200)
        let verb = text.prefix { $0 != " " && $0 != ":" }.uppercased()
        if verb == "AUTH" {
            afterAuth = true
            let words = text.split(separator: " ")
            return words.count > 2 ? "\(words[0]) \(words[1]) ***" : text
        }
        if afterAuth { return "*** (credentials, not shown)" }
        return text
    }

    override func result(_ code: CURLcode) -> DeliveryResult {
        let reply = Self.printable(lastRefusal.isEmpty ? lastReply : lastRefusal, limit: 160)
        let replyCode = Int(String(decoding: (lastRefusal.isEmpty ? lastReply : lastRefusal).prefix(3), as: UTF8.self))
            ?? responseCode
        if code == CURLE_OK {
            let accepted = Int(String(decoding: lastReply.prefix(3), as: UTF8.self)) ?? responseCode
            var result = DeliveryResult.success(status: accepted, elapsed: elapsed)
            result.refusedAddresses = refused
            return result
        }
        var (failure, error) = failure(code)
        if failure == .network && !lastRefusal.isEmpty {
            failure = .refused
            error = "relay replied \(reply)"
        } else if code == CURLE_LOGIN_DENIED {
            failure = .refused
            error = "relay refused the login: \(reply)"
        }
        return DeliveryResult(status: lastRefusal.isEmpty ? 0 : replyCode, failure: failure, error: "SMTP: " + error,
                              elapsed: elapsed)
    }
}
