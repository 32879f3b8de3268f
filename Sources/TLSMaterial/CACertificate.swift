import COpenSSL
import CShims
import Glibc
import OutboundEventsCore

/// An uploaded CA root certificate, checked with OpenSSL when it is set so that a wrong file is
/// refused with a reason at configuration time instead of failing every delivery later.
public struct CACertificate: Sendable, Equatable {
    public let pem: String
    public let subject: String
    public let notAfter: String

    /// Parses `pem` and requires: a PEM certificate, that is a CA, valid now.
    /// Errors are `OE_ETLS`, start with `key`, and say which of the three failed.
    public init(_ key: String, pem: String, now: Int64) throws(ConfigError) {
        self.pem = pem
        guard pem.contains("-----BEGIN CERTIFICATE-----") else {
            throw ConfigError(.tls, "\(key): not a PEM certificate (no -----BEGIN CERTIFICATE----- line)")
        }
        let bytes = Array(pem.utf8)
        guard let bio = bytes.withUnsafeBytes({ BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }) else {
            throw ConfigError(.noMemory, "\(key): out of memory")
        }
        defer { BIO_free(bio) }
        ERR_clear_error()
        guard let certificate = PEM_read_bio_X509(bio, nil, nil, nil) else {
            throw ConfigError(.tls, "\(key): the PEM certificate could not be parsed (\(Self.lastError()))")
        }
        defer { X509_free(certificate) }
        subject = Self.name(X509_get_subject_name(certificate))
        notAfter = Self.time(X509_get0_notAfter(certificate))
        guard X509_check_ca(certificate) >= 1 else {
            throw ConfigError(.tls, "\(key): the certificate \(subject) is not a CA certificate (basicConstraints lacks CA:TRUE); upload the root CA that issued the server's certificate")
        }
        var when = time_t(now)
        if X509_cmp_time(X509_get0_notAfter(certificate), &when) < 0 {
            throw ConfigError(.tls, "\(key): the CA certificate \(subject) expired on \(notAfter)")
        }
        if X509_cmp_time(X509_get0_notBefore(certificate), &when) > 0 {
            throw ConfigError(.tls, "\(key): the CA certificate \(subject) is not valid before \(Self.time(X509_get0_notBefore(certificate)))")
        }
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

/// HMAC-SHA256, for the Standard Webhooks `webhook-signature` header.
public enum HMACSHA256 {
    /// The signature of `message` under `key`, base64-encoded.
    public static func base64Signature(key: [UInt8], message: [UInt8]) -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        key.withUnsafeBytes { k in
            message.withUnsafeBytes { m in
                digest.withUnsafeMutableBufferPointer { d in
                    _ = HMAC(EVP_sha256(), k.baseAddress, Int32(k.count),
                             m.baseAddress?.assumingMemoryBound(to: UInt8.self), m.count,
                             d.baseAddress, &length)
                }
            }
        }
        return Base64.encode(digest.prefix(Int(length)))
    }
}
