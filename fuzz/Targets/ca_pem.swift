// Fuzz target: CA certificate checking with OpenSSL on any text: accepted, or refused with a
// reason that names the key; never a crash.
import OutboundEventsCore
import TLSMaterial

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if size > 0 && data[0] & 1 == 1 {
        // Half the inputs are wrapped in PEM armour, so the parser behind it gets exercised.
        text = "-----BEGIN CERTIFICATE-----\n" + text + "\n-----END CERTIFICATE-----\n"
    }
    do { _ = try CACertificate("ca_certificate", pem: text, now: 1_800_000_000) } catch {
        precondition(error.message.hasPrefix("ca_certificate: "), error.message)
    }
    return 0
}
