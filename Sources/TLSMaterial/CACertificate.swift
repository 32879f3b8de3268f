import COpenSSL
import CShims
import CSystem
import OutboundEventsCore

/// An uploaded CA setting: one PEM certificate or several (a chain or a bundle), checked with
/// OpenSSL when it is set so that a wrong file is refused with a reason at configuration time
/// instead of failing every delivery later. Every certificate in it is trusted, so every one
/// is checked.
public struct CACertificate: Sendable, Equatable {
    public let pem: String
    /// The first certificate's subject and end of validity.
    public let subject: String
    public let notAfter: String
    /// How many certificates the setting holds.
    public let count: Int

    static let begin = "-----BEGIN CERTIFICATE-----"
    static let end = "-----END CERTIFICATE-----"
    /// The PEM labels libcurl trusts as certificates in a CA blob: all are checked.
    static let certificateLabels: Set<Substring> = ["CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE"]

    /// Parses each PEM certificate in `pem` and requires of each: it parses, it is a CA, it is
    /// valid now. Errors are `OE_ETLS`, start with `key`, and say which certificate (its
    /// position and subject) failed which check.
    public init(_ key: String, pem: String, now: Int64) throws(ConfigError) {
        self.pem = pem
        let blocks = Self.blocks(pem)
        guard !blocks.isEmpty else {
            throw ConfigError(.tls, "\(key): not a PEM certificate (no \(Self.begin) line)")
        }
        var first: (subject: String, notAfter: String)?
        for (index, block) in blocks.enumerated() {
            let which = blocks.count == 1 ? "the certificate" : "certificate \(index + 1) of \(blocks.count)"
            guard !block.label.isEmpty else {
                throw ConfigError(.tls, "\(key): \(which) has a malformed -----BEGIN line (it is not shown)")
            }
            guard Self.certificateLabels.contains(block.label) else {
                throw ConfigError(.tls, "\(key): \(which) is a \(Values.quote(String(block.label))) PEM block,"
                                            + " not a certificate (a CA setting holds certificates only)")
            }
            guard let text = block.text else {
                throw ConfigError(.tls, "\(key): \(which) has no -----END \(block.label)----- line")
            }
            let checked = try Self.check(text, key: key, which: which, now: now)
            if first == nil { first = checked }
        }
        subject = first?.subject ?? ""
        notAfter = first?.notAfter ?? ""
        count = blocks.count
    }

    /// The PEM blocks of `text`, in order, with their labels; the text is nil for a block
    /// without its END line.
    static func blocks(_ text: String) -> [(label: Substring, text: Substring?)] {
        var blocks: [(label: Substring, text: Substring?)] = []
        var rest = Substring(text)
        while let start = rest.byteRange(of: "-----BEGIN ") {
            let afterBegin = rest[start.upperBound...]
            // The label is on the BEGIN line: 1 to 40 capitals, digits and blanks. Anything else
            // (a line mangled in copying) is reported without being shown: it may be key text.
            guard let labelEnd = afterBegin.byteRange(of: "-----"),
                  (1...40).contains(afterBegin.distance(from: afterBegin.startIndex, to: labelEnd.lowerBound)),
                  afterBegin[..<labelEnd.lowerBound].allSatisfy({
                      ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || $0 == " "
                  })
            else {
                blocks.append(("", nil))
                break
            }
            let label = afterBegin[..<labelEnd.lowerBound]
            let body = afterBegin[labelEnd.upperBound...]
            guard let stop = body.byteRange(of: "-----END \(label)-----") else {
                blocks.append((label, nil))
                break
            }
            // A BEGIN line before this END line: the earlier block lost its END.
            if body[..<stop.lowerBound].byteRange(of: "-----BEGIN ") != nil {
                blocks.append((label, nil))
                break
            }
            blocks.append((label, rest[start.lowerBound..<stop.upperBound]))
            rest = body[stop.upperBound...]
        }
        return blocks
    }

    static func check(_ block: Substring, key: String, which: String,
                      now: Int64) throws(ConfigError) -> (subject: String, notAfter: String) {
        // A memory BIO that holds its own copy: a BIO_new_mem_buf over the array would point
        // at bytes whose lifetime ends with the closure that lent them.
        let bytes = Array(block.utf8) + [0x0A]
        guard let bio = BIO_new(BIO_s_mem()) else { throw ConfigError(.noMemory, "\(key): out of memory") }
        defer { BIO_free(bio) }
        guard bytes.withUnsafeBytes({ BIO_write(bio, $0.baseAddress, Int32($0.count)) }) == Int32(bytes.count) else {
            throw ConfigError(.noMemory, "\(key): out of memory")
        }
        ERR_clear_error()
        // _AUX also reads TRUSTED CERTIFICATE blocks; plain and X509 ones as well.
        guard let certificate = PEM_read_bio_X509_AUX(bio, nil, nil, nil) else {
            throw ConfigError(.tls, "\(key): \(which) could not be parsed (\(Self.lastError()))")
        }
        defer { X509_free(certificate) }
        let subject = Self.name(X509_get_subject_name(certificate))
        let notAfter = Self.time(X509_get0_notAfter(certificate))
        guard X509_check_ca(certificate) >= 1 else {
            throw ConfigError(.tls, "\(key): \(which), \(subject), is not a CA certificate"
                                        + " (basicConstraints lacks CA:TRUE);"
                                        + " upload the root CA that issued the server's certificate")
        }
        var when = time_t(now)
        if X509_cmp_time(X509_get0_notAfter(certificate), &when) < 0 {
            throw ConfigError(.tls, "\(key): \(which), the CA certificate \(subject), expired on \(notAfter)")
        }
        if X509_cmp_time(X509_get0_notBefore(certificate), &when) > 0 {
            throw ConfigError(.tls, "\(key): \(which), the CA certificate \(subject), is not valid before"
                                        + " \(Self.time(X509_get0_notBefore(certificate)))")
        }
        return (subject, notAfter)
    }

    static func name(_ name: OpaquePointer?) -> String {
        guard let name, let bio = BIO_new(BIO_s_mem()) else { return "(unnamed)" }
        defer { BIO_free(bio) }
        X509_NAME_print_ex(bio, name, 0, cshims_xn_flag_rfc2253())
        return Self.text(of: bio)
    }

    static func time(_ time: UnsafePointer<ASN1_TIME>?) -> String {
        guard let time, let bio = BIO_new(BIO_s_mem()) else { return "(unknown)" }
        defer { BIO_free(bio) }
        ASN1_TIME_print(bio, time)
        return Self.text(of: bio)
    }

    static func text(of bio: OpaquePointer) -> String {
        var data: UnsafeMutablePointer<CChar>?
        let length = cshims_bio_get_mem_data(bio, &data)
        guard let data, length > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    }

    /// The newest OpenSSL error as text, e.g. "ASN1 lib" or "bad base64 decode".
    static func lastError() -> String {
        let code = ERR_peek_last_error()
        ERR_clear_error()
        guard code != 0, let reason = ERR_reason_error_string(code) else { return "no certificate data" }
        return String(cString: reason)
    }
}
