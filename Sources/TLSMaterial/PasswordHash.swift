import COpenSSL
import OutboundEventsCore

/// The page's login password (SPEC 13), hashed with OpenSSL's scrypt: `outbound-events
/// admin-password` makes the hash, `outbound-eventsd` checks a login against it. The clear
/// password is never stored.
public enum PasswordHash {
    /// scrypt's cost: N = 2^15, r = 8, p = 1 (32 MiB and about a tenth of a second a login).
    public static let logN = 15, r = 8, p = 1

    /// A new hash of `password` with a random salt; nil when OpenSSL fails.
    public static func make(_ password: String) -> String? {
        guard let salt = randomBytes(16),
              let hash = derive(password, salt: salt, logN: logN, r: r, p: p, length: 32) else { return nil }
        return PasswordHashFormat(logN: logN, r: r, p: p, salt: salt, hash: hash).text
    }

    /// Whether `password` is the one `hash` was made from, compared in constant time.
    public static func verify(_ password: String, against hash: String) -> Bool {
        guard let stored = PasswordHashFormat(hash),
              let derived = derive(password, salt: stored.salt, logN: stored.logN, r: stored.r, p: stored.p,
                                   length: stored.hash.count) else { return false }
        return derived.withUnsafeBytes { a in
            stored.hash.withUnsafeBytes { b in CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) == 0 }
        }
    }

    static func derive(_ password: String, salt: [UInt8], logN: Int, r: Int, p: Int, length: Int) -> [UInt8]? {
        var key = [UInt8](repeating: 0, count: length)
        let n = UInt64(1) << UInt64(logN)
        // What scrypt needs (128·r·N, plus 128·r·p) with room to spare.
        let memory = UInt64(128 * r * p) + 256 * UInt64(r) * n
        let length = password.utf8.count
        let ok = password.withCString { pass in
            salt.withUnsafeBufferPointer { salt in
                key.withUnsafeMutableBufferPointer { out in
                    EVP_PBE_scrypt(pass, length, salt.baseAddress, salt.count, n, UInt64(r), UInt64(p), memory,
                                   out.baseAddress, out.count)
                }
            }
        }
        return ok == 1 ? key : nil
    }

    /// Bytes from OpenSSL's random generator (salts, session ids, CSRF tokens).
    public static func randomBytes(_ count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        let ok = bytes.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32($0.count)) }
        return ok == 1 ? bytes : nil
    }
}
