/// One key/value pair of an event, as bytes owned by the caller for the duration of a call.
public struct FieldSpan {
    public var key: UnsafeRawBufferPointer
    public var value: UnsafeRawBufferPointer

    public init(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        self.key = key
        self.value = value
    }
}

/// An event's key/value pairs, read in place: the C face points these spans at the caller's
/// `oe_kv` strings (measured once), so storing an event makes no intermediate copy.
public struct Fields {
    public let spans: UnsafeMutableBufferPointer<FieldSpan>

    public init(_ spans: UnsafeMutableBufferPointer<FieldSpan>) { self.spans = spans }

    public static var none: Fields { Fields(UnsafeMutableBufferPointer(start: nil, count: 0)) }

    @inline(__always) public var count: Int { spans.count }
    @inline(__always) public func key(_ index: Int) -> UnsafeRawBufferPointer { spans[index].key }
    @inline(__always) public func value(_ index: Int) -> UnsafeRawBufferPointer { spans[index].value }

    /// The first field whose key an earlier field has too, nil when every key is different.
    /// Keys seen so far go into a 128-bit filter, by a hash of their length and of their
    /// first and last bytes (every byte of a key of up to 16); only a key whose bit is set
    /// already is compared with the ones before it. Allocates nothing.
    public func repeatedKey() -> Int? {
        var low: UInt64 = 0, high: UInt64 = 0
        var i = 0
        while i < count {
            let bit = Self.filterBit(spans[i].key)
            let word: UInt64 = 1 << (bit & 63)
            if bit < 64 {
                if low & word != 0, firstIndex(of: spans[i].key, before: i) != nil { return i }
                low |= word
            } else {
                if high & word != 0, firstIndex(of: spans[i].key, before: i) != nil { return i }
                high |= word
            }
            i += 1
        }
        return nil
    }

    /// 0 to 127, from a hash of the key's length and its first and last (up to) 8 bytes.
    @inline(__always)
    static func filterBit(_ key: UnsafeRawBufferPointer) -> UInt64 {
        let n = key.count
        var first: UInt64 = 0, last: UInt64 = 0
        if n >= 8 {
            first = key.loadUnaligned(as: UInt64.self)
            last = key.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        } else if n >= 4 {
            first = UInt64(key.loadUnaligned(as: UInt32.self))
            last = UInt64(key.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self))
        } else if n > 0 {
            first = UInt64(key[0]) | UInt64(key[n / 2]) << 8
            last = UInt64(key[n - 1])
        }
        let mixed = (first ^ (last &<< 29 | last &>> 35) ^ UInt64(n)) &* 0x9E37_79B9_7F4A_7C15
        return mixed >> 57
    }

    /// The first field before `end` whose key is `key`.
    public func firstIndex(of key: UnsafeRawBufferPointer, before end: Int) -> Int? {
        let count = key.count
        var i = 0
        while i < end {
            let other = spans[i].key
            if other.count == count
               && (count == 0 || (other[0] == key[0] && other[count - 1] == key[count - 1] && Self.equal(other, key))) {
                return i
            }
            i += 1
        }
        return nil
    }

    /// Byte equality of two buffers of the same length.
    @inlinable @inline(__always)
    public static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        var j = 0
        while j < a.count {
            if a[j] != b[j] { return false }
            j += 1
        }
        return true
    }

    /// The same fields without the one at `index` (moved out by shifting the later ones down).
    public func removing(_ index: Int) -> Fields {
        var i = index
        while i + 1 < spans.count {
            spans[i] = spans[i + 1]
            i += 1
        }
        return Fields(UnsafeMutableBufferPointer(rebasing: spans[0..<(spans.count - 1)]))
    }
}

/// Fields of Swift strings, for tests and the tool: holds its bytes in one buffer of its own.
public final class StringFields {
    let buffer: UnsafeMutableRawBufferPointer
    let storage: UnsafeMutableBufferPointer<FieldSpan>
    let count: Int

    public init(_ pairs: [(String, String)]) {
        let total = pairs.reduce(0) { $0 + $1.0.utf8.count + $1.1.utf8.count }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(total, 1), alignment: 8)
        let storage = UnsafeMutableBufferPointer<FieldSpan>.allocate(capacity: max(pairs.count, 1))
        var offset = 0
        func copy(_ text: String) -> UnsafeRawBufferPointer {
            let start = offset
            for byte in text.utf8 { buffer[offset] = byte; offset += 1 }
            return UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[start..<offset])
        }
        for (index, (key, value)) in pairs.enumerated() {
            storage[index] = FieldSpan(key: copy(key), value: copy(value))
        }
        self.buffer = buffer
        self.storage = storage
        count = pairs.count
    }

    deinit {
        buffer.deallocate()
        storage.deallocate()
    }

    /// Calls `body` with the fields, which are valid only inside it.
    public func withFields<R, E: Error>(_ body: (Fields) throws(E) -> R) throws(E) -> R {
        defer { withExtendedLifetime(self) {} }
        return try body(Fields(UnsafeMutableBufferPointer(rebasing: storage[0..<count])))
    }
}

/// The byte layout of one stored event. Little-endian, 8-byte aligned:
///
///     0  u32 length of the record (header and fields, before padding); 0xFFFFFFFF: wrap marker
///     4  u32 CRC-32C of bytes 8..<length seeded by the spool, 0 when the queue is memory-only
///     8  u64 sequence number (the event id's second half)
///    16  u64 recipients that wanted the event when it was emitted, one bit per slot
///    24  i64 time the event occurred, Unix seconds
///    32  u16 event name length, u16 variable count, u16 custom field count, u16 flags
///        (bit 0 `gapBefore`: the numbers between the previous record's and this one's were
///        never given to a stored event, so recovery does not count them as lost)
///    40  event name, then per variable and custom field: u16 key length, u16 value length,
///        key bytes, value bytes
public enum EventRecord {
    public static let headerSize = 40
    public static let wrapMarker = UInt32.max
    /// Per-field lengths are u16 and a record is at most 64 KiB, so no field can overflow.
    public static let maximumSize = 65536
    public static let gapBefore: UInt16 = 1

    public static func aligned(_ size: Int) -> Int { (size + 7) & ~7 }

    /// Bytes the event takes in the queue, before alignment, or nil when over 64 KiB.
    public static func size(nameLength: Int, variables: Fields, customFields: Fields) -> Int? {
        var total = headerSize + nameLength
        guard variables.count <= Int(UInt16.max), customFields.count <= Int(UInt16.max) else { return nil }
        for i in 0..<variables.count {
            total += 4 + variables.key(i).count + variables.value(i).count
            if total > maximumSize { return nil }
        }
        for i in 0..<customFields.count {
            total += 4 + customFields.key(i).count + customFields.value(i).count
            if total > maximumSize { return nil }
        }
        return total <= maximumSize ? total : nil
    }

    /// Writes the event at `at`; `size` is what `size(...)` returned.
    public static func write(
        at: UnsafeMutableRawPointer, size: Int, seq: UInt64, mask: UInt64, timestamp: Int64,
        name: UnsafeRawBufferPointer, variables: Fields, customFields: Fields, checksumSeed: UInt32?
    ) {
        at.storeBytes(of: UInt32(size).littleEndian, toByteOffset: 0, as: UInt32.self)
        at.storeBytes(of: seq.littleEndian, toByteOffset: 8, as: UInt64.self)
        at.storeBytes(of: mask.littleEndian, toByteOffset: 16, as: UInt64.self)
        at.storeBytes(of: timestamp.littleEndian, toByteOffset: 24, as: Int64.self)
        at.storeBytes(of: UInt16(name.count).littleEndian, toByteOffset: 32, as: UInt16.self)
        at.storeBytes(of: UInt16(variables.count).littleEndian, toByteOffset: 34, as: UInt16.self)
        at.storeBytes(of: UInt16(customFields.count).littleEndian, toByteOffset: 36, as: UInt16.self)
        at.storeBytes(of: UInt16(0), toByteOffset: 38, as: UInt16.self)
        var offset = headerSize
        put(name, at: at, offset: &offset)
        var i = 0
        while i < variables.count {
            putPair(variables.key(i), variables.value(i), at: at, offset: &offset)
            i += 1
        }
        i = 0
        while i < customFields.count {
            putPair(customFields.key(i), customFields.value(i), at: at, offset: &offset)
            i += 1
        }
        seal(at, size: size, seed: checksumSeed)
    }

    // A record's size is checked before it is written (`size(...)`: at most 64 KiB), so no
    // offset can overflow and every length fits its u16: the copy runs without overflow or
    // range checks.
    @inline(__always)
    static func put(_ bytes: UnsafeRawBufferPointer, at: UnsafeMutableRawPointer, offset: inout Int) {
        let count = bytes.count
        if count > 0 { (at + offset).copyMemory(from: bytes.baseAddress.unsafelyUnwrapped, byteCount: count) }
        offset &+= count
    }

    @inline(__always)
    static func putPair(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, at: UnsafeMutableRawPointer,
                        offset: inout Int) {
        at.storeBytes(of: UInt16(truncatingIfNeeded: key.count).littleEndian, toByteOffset: offset, as: UInt16.self)
        at.storeBytes(of: UInt16(truncatingIfNeeded: value.count).littleEndian, toByteOffset: offset &+ 2,
                      as: UInt16.self)
        offset &+= 4
        put(key, at: at, offset: &offset)
        put(value, at: at, offset: &offset)
    }

    static func seal(_ at: UnsafeMutableRawPointer, size: Int, seed: UInt32?) {
        let crc = seed.map { CRC32C.checksum(UnsafeRawBufferPointer(start: at + 8, count: size - 8), seed: $0) } ?? 0
        at.storeBytes(of: crc.littleEndian, toByteOffset: 4, as: UInt32.self)
    }
}

/// A stored event, read in place. Valid only while the queue's lock is held and the record is
/// in the queue; copy out what must outlive that.
public struct EventView {
    public let bytes: UnsafeRawBufferPointer

    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    func u16(_ offset: Int) -> Int {
        Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    public var length: Int { Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self))) }
    public var storedChecksum: UInt32 { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self)) }
    public var seq: UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
    public var mask: UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self)) }
    public var timestamp: Int64 { Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 24, as: Int64.self)) }
    public var variableCount: Int { u16(34) }
    public var customFieldCount: Int { u16(36) }
    public var gapBefore: Bool { u16(38) & Int(EventRecord.gapBefore) != 0 }

    public var name: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[EventRecord.headerSize..<(EventRecord.headerSize + u16(32))])
    }

    public var nameString: String { String(decoding: name, as: UTF8.self) }

    /// Calls `body` with each variable, then (with `custom` true) each custom field, in order.
    public func forEachField(_ body: (_ custom: Bool, _ key: UnsafeRawBufferPointer,
                                      _ value: UnsafeRawBufferPointer) -> Void) {
        var offset = EventRecord.headerSize + u16(32)
        let variables = variableCount
        for i in 0..<(variables + customFieldCount) {
            let keyLength = u16(offset), valueLength = u16(offset + 2)
            let keyStart = offset + 4, valueStart = keyStart + keyLength
            body(i >= variables,
                 UnsafeRawBufferPointer(rebasing: bytes[keyStart..<valueStart]),
                 UnsafeRawBufferPointer(rebasing: bytes[valueStart..<(valueStart + valueLength)]))
            offset = valueStart + valueLength
        }
    }

    /// The value of the first variable called `key` (exact bytes), if present.
    public func variable(_ key: String) -> UnsafeRawBufferPointer? {
        var found: UnsafeRawBufferPointer?
        let wanted = Array(key.utf8)
        forEachField { custom, k, v in
            if found == nil, !custom, k.elementsEqual(wanted) { found = v }
        }
        return found
    }

    /// Whether the record's fields are consistent with its length: used on recovery, where a
    /// record whose checksum matches is still never trusted blindly.
    public var isWellFormed: Bool {
        let total = length
        guard total >= EventRecord.headerSize, total <= bytes.count else { return false }
        var offset = EventRecord.headerSize + u16(32)
        guard offset <= total else { return false }
        for _ in 0..<(variableCount + customFieldCount) {
            guard offset + 4 <= total else { return false }
            offset += 4 + u16(offset) + u16(offset + 2)
            guard offset <= total else { return false }
        }
        return offset == total
    }
}
