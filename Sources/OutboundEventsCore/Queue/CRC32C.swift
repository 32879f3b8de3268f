import CChecksum

/// CRC-32C (Castagnoli): the checksum of every spooled record and intake frame, computed by
/// `CChecksum` (the processor's crc32 instruction where it has one, else slicing-by-8 tables).
public enum CRC32C {
    @inline(__always)
    public static func checksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        cchecksum_crc32c(bytes.baseAddress, bytes.count, seed)
    }
}
