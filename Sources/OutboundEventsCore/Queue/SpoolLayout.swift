/// The header of a spool file: what, besides the records themselves, a restarted agent needs
/// to resume delivery. It lives in the first `size` bytes of the mapped file, before the ring;
/// every field is a naturally aligned little-endian integer, so each store is one machine word
/// and a process killed at any instant leaves each field either old or new, never torn.
///
///     0   "OESPOOL\0"          magic
///     8   u32 layout version    (1)
///     12  u32 header size       (32768)
///     16  u64 ring capacity     (bytes of records after the header)
///     24  u64 instance          (first half of every event id; seeds record checksums)
///     32  u64 next sequence     (written after each record, so ids never repeat)
///     40  u64 created           (Unix seconds)
///     48  u64 reserved          (sequence numbers below it may have been given: made durable
///                                before any of them is used; numbering restarts here after an
///                                unclean stop, whose last numbers a power cut may have erased)
///     56  u32 open              (1 while an agent has the spool open; 0 after a clean close)
///     64  64 slots of 320 bytes:
///         +0  u64 need-from     (the oldest sequence number the slot still needs)
///         +8  u8  active, u8 zero, u16 name length, 4 bytes zero
///         +16 name (UTF-8, up to 256 bytes: 64 characters)
public struct SpoolHeader {
    public static let magic: [UInt8] = Array("OESPOOL\0".utf8)
    public static let version: UInt32 = 1
    public static let size = 32768
    static let slotTable = 64
    static let slotCount = 64
    static let slotSize = 320
    static let nameCapacity = 256

    /// Ring sizes a spool header may give (those of `queue.capacity`); anything else is damage.
    public static let capacityRange = 1024...(1 << 30)

    public let base: UnsafeMutableRawPointer

    public init(_ base: UnsafeMutableRawPointer) { self.base = base }

    func load<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
        T(littleEndian: base.load(fromByteOffset: offset, as: T.self))
    }

    func store<T: FixedWidthInteger>(_ value: T, _ offset: Int) {
        base.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
    }

    public var hasMagic: Bool {
        Self.magic.withUnsafeBytes { UnsafeRawBufferPointer(start: base, count: 8).elementsEqual($0) }
    }

    public var layoutVersion: UInt32 { load(8, UInt32.self) }
    public var headerSize: Int { Int(load(12, UInt32.self)) }
    public var capacity: Int { Int(truncatingIfNeeded: load(16, UInt64.self)) }
    public var instance: UInt64 { load(24, UInt64.self) }
    public var nextSeq: UInt64 {
        get { load(32, UInt64.self) }
        nonmutating set { store(newValue, 32) }
    }
    public var created: Int64 { Int64(bitPattern: load(40, UInt64.self)) }
    public var reserved: UInt64 {
        get { load(48, UInt64.self) }
        nonmutating set { store(newValue, 48) }
    }
    /// Set while an agent has the spool open: found set at open, the last stop was unclean (a
    /// kill or a power cut). Spools of earlier versions have 0 here, as after a clean close.
    public var isOpen: Bool {
        get { load(56, UInt32.self) == 1 }
        nonmutating set { store(UInt32(newValue ? 1 : 0), 56) }
    }

    /// How far ahead sequence numbers are reserved: so far that no run comes near the end of
    /// a reservation between two syncs, and 2^32 restarts after unclean stops fit in 64 bits.
    public static let reservation: UInt64 = 1 << 32

    /// Writes a fresh header: no slot active.
    public func initialize(capacity: Int, instance: UInt64, nextSeq: UInt64, created: Int64) {
        base.initializeMemory(as: UInt8.self, repeating: 0, count: Self.size)
        Self.magic.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: 8) }
        store(Self.version, 8)
        store(UInt32(Self.size), 12)
        store(UInt64(capacity), 16)
        store(instance, 24)
        store(nextSeq, 32)
        store(UInt64(bitPattern: created), 40)
    }

    func slotOffset(_ slot: Int) -> Int { Self.slotTable + slot * Self.slotSize }

    public func needFrom(_ slot: Int) -> UInt64 { load(slotOffset(slot), UInt64.self) }
    public func setNeedFrom(_ slot: Int, _ seq: UInt64) { store(seq, slotOffset(slot)) }
    public func isActive(_ slot: Int) -> Bool { base.load(fromByteOffset: slotOffset(slot) + 8, as: UInt8.self) == 1 }

    /// The stored name, or nil when the slot is inactive or its entry is not a valid name.
    public func name(_ slot: Int) -> String? {
        guard isActive(slot) else { return nil }
        let length = Int(load(slotOffset(slot) + 10, UInt16.self))
        guard (1...Self.nameCapacity).contains(length) else { return nil }
        let bytes = UnsafeRawBufferPointer(start: base + slotOffset(slot) + 16, count: length)
        guard let name = String(validating: bytes, as: UTF8.self), (try? Values.recipientName(name)) != nil else {
            return nil
        }
        return name
    }

    /// Records that `slot` belongs to `name` and needs events from `seq` on. The active flag is
    /// stored last, so a half-written entry reads as inactive.
    public func activate(_ slot: Int, name: String, needFrom seq: UInt64) {
        let offset = slotOffset(slot)
        base.storeBytes(of: UInt8(0), toByteOffset: offset + 8, as: UInt8.self)
        // Names are at most 64 scalars, so at most 256 bytes: never cut (Values.recipientName).
        let bytes = Array(name.utf8.prefix(Self.nameCapacity))
        (base + offset + 16).initializeMemory(as: UInt8.self, repeating: 0, count: Self.nameCapacity)
        bytes.withUnsafeBytes { (base + offset + 16).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        store(UInt16(bytes.count), offset + 10)
        setNeedFrom(slot, seq)
        base.storeBytes(of: UInt8(1), toByteOffset: offset + 8, as: UInt8.self)
    }

    /// Slots marked active whose entry does not hold a valid name: positions that cannot be
    /// given back to any recipient.
    public var unrestorableSlots: [Int] {
        (0..<Self.slotCount).filter { isActive($0) && name($0) == nil }
    }

    public func deactivate(_ slot: Int) {
        base.storeBytes(of: UInt8(0), toByteOffset: slotOffset(slot) + 8, as: UInt8.self)
    }

    /// The checksum seed of a spool's records: derived from its random instance, so bytes an
    /// event carries can never pass for a record of their own.
    public static func checksumSeed(_ instance: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: instance ^ (instance >> 32))
    }
}

/// What recovery found in a spool's ring: the records still needed, in sequence order, and
/// what had to be skipped.
public struct SpoolRecovery {
    public struct Record {
        public let offset: Int
        public let seq: UInt64
        public let length: Int
        public let gapBefore: Bool
    }

    /// Live records (needed by some active slot), sorted by sequence number.
    public let records: [Record]
    /// Whether the live records already form the ring's chain in place (the usual case): if
    /// not (damage, a torn tail in the middle), they must be copied into a fresh ring.
    public let inPlace: Bool
    /// Events between the oldest and the newest live record that no valid record holds: what
    /// damage to the file cost. (Bytes that fail the checks are not counted: the leftovers of
    /// old records partly overwritten by newer ones look the same and are harmless.)
    public let missing: UInt64

    /// Scans `ring` for valid records: plausible length, checksum under the spool's seed,
    /// consistent fields. Never trusts a byte it has not checked.
    public init(ring: UnsafeRawBufferPointer, header: SpoolHeader, slots: Int) {
        let seed = SpoolHeader.checksumSeed(header.instance)
        var needFrom = UInt64.max
        for slot in 0..<slots where header.name(slot) != nil { needFrom = min(needFrom, header.needFrom(slot)) }
        var found: [Record] = []
        var offset = 0
        let usable = ring.count & ~7
        while offset + EventRecord.headerSize <= usable {
            let length = Int(UInt32(littleEndian: ring.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            if length == 0 || length == Int(EventRecord.wrapMarker) {
                offset += 8
                continue
            }
            guard length >= EventRecord.headerSize, length <= EventRecord.maximumSize, offset + length <= usable else {
                offset += 8
                continue
            }
            let view = EventView(UnsafeRawBufferPointer(rebasing: ring[offset..<(offset + length)]))
            let body = UnsafeRawBufferPointer(rebasing: ring[(offset + 8)..<(offset + length)])
            guard view.storedChecksum == CRC32C.checksum(body, seed: seed), view.isWellFormed else {
                offset += 8
                continue
            }
            found.append(Record(offset: offset, seq: view.seq, length: length, gapBefore: view.gapBefore))
            offset += EventRecord.aligned(length)
        }
        var seen = Set<UInt64>()
        let newest = max(header.nextSeq, header.reserved) &+ SpoolHeader.reservation
        let live = found.filter { $0.seq >= needFrom && $0.seq < newest && seen.insert($0.seq).inserted }
            .sorted { $0.seq < $1.seq }
        records = live
        // A record flagged `gapBefore` follows numbers that were never given to a stored event
        // (numbering restarted after an unclean stop, or a producer died holding a number).
        var lost: UInt64 = 0
        for (index, record) in live.enumerated().dropFirst() where !record.gapBefore {
            lost += record.seq - live[index - 1].seq - 1
        }
        missing = lost
        // In place when each live record is followed, in the ring's own order, by the next one.
        var chained = true
        for (index, record) in live.enumerated().dropLast() {
            var next = record.offset + EventRecord.aligned(record.length)
            if next >= usable {
                next = 0
            } else if UInt32(littleEndian: ring.loadUnaligned(fromByteOffset: next, as: UInt32.self))
                      == EventRecord.wrapMarker {
                next = 0
            }
            if next != live[index + 1].offset || live[index + 1].seq != record.seq + 1 {
                chained = false
                break
            }
        }
        inPlace = chained
    }
}
