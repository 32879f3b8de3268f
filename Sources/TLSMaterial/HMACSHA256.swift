import COpenSSL
import CShims
import OutboundEventsCore

/// HMAC-SHA256, for the Standard Webhooks `webhook-signature` header.
public enum HMACSHA256 {
    /// The signature of `<id>.<timestamp>.<body>` under `key`, base64-encoded: the message is
    /// fed in three updates, never concatenated.
    public static func base64Signature(key: [UInt8], id: String, timestamp: Int64, body: [UInt8]) -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        var id = id
        var middle = ".\(timestamp)."
        let ok = key.withUnsafeBytes { k in
            id.withUTF8 { a in
                middle.withUTF8 { b in
                    body.withUnsafeBytes { c in
                        digest.withUnsafeMutableBufferPointer { d in
                            cshims_hmac_sha256_3(k.baseAddress, k.count, a.baseAddress, a.count, b.baseAddress, b.count,
                                                 c.baseAddress, c.count, d.baseAddress)
                        }
                    }
                }
            }
        }
        return ok == 1 ? Base64.encode(digest) : ""
    }

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
