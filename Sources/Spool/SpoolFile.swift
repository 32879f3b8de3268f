import Glibc
import OutboundEventsCore

/// The crash-safe spool (`queue.spool`): the queue's ring and its header live in one file,
/// mapped shared, so every record and every position an `oe_emit` or a delivery stores is in
/// the kernel's page cache the moment it is written and survives the process being killed,
/// even with SIGKILL. `sync` (msync) bounds what a power loss can take.
///
/// Opening never deletes anything the agent cannot read: a spool of another layout version or
/// with a damaged header is renamed aside, and one of another capacity is migrated.
public final class SpoolFile {
    public let path: String
    var fd: Int32
    var mapping: UnsafeMutableRawPointer
    var mappedSize: Int
    public let header: SpoolHeader
    public let queue: EventQueue
    /// The slots whose stored positions were resumed, with the events each has pending.
    public let resumed: [(slot: Int, name: String, queued: Int)]
    /// What opening had to do besides reading the file: sentences for the journal.
    public let notes: [String]
    /// Events lost to damage (sequence numbers missing among the recovered records).
    public let missing: UInt64

    public var ring: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: mapping + SpoolHeader.size, count: mappedSize - SpoolHeader.size)
    }

    /// Opens or creates the spool at `path` with a ring of `capacity` bytes. Errors are
    /// `OE_EIO` and name the path.
    public init(path: String, capacity: Int, policy: OverflowPolicy, now: Int64) throws(ConfigError) {
        self.path = path
        var notes: [String] = []
        var file = try Self.openLocked(path)
        let size = Self.fileSize(file)
        let expected = SpoolHeader.size + capacity

        var old: (mapping: UnsafeMutableRawPointer, size: Int)?
        if size > 0 {
            if size < SpoolHeader.size {
                try Self.setAside(path, fd: &file, reason: "corrupt", now: now, notes: &notes,
                                  why: "it is \(size) bytes, shorter than its header")
            } else {
                let header = try Self.map(file, size: SpoolHeader.size, path: path)
                let view = SpoolHeader(header)
                let problem: String? = !view.hasMagic ? "its header is not a spool header"
                    : view.layoutVersion != SpoolHeader.version ? "it has layout version \(view.layoutVersion); this agent reads version \(SpoolHeader.version)"
                    : view.headerSize != SpoolHeader.size ? "its header size is \(view.headerSize)"
                    : nil
                let storedCapacity = view.capacity
                let hasMagic = view.hasMagic
                munmap(header, SpoolHeader.size)
                if let problem {
                    try Self.setAside(path, fd: &file, reason: hasMagic ? "incompatible" : "corrupt", now: now,
                                      notes: &notes, why: problem)
                } else if storedCapacity != capacity || size < SpoolHeader.size + storedCapacity {
                    if storedCapacity != capacity {
                        notes.append("spool \(path) has a ring of \(storedCapacity) bytes; migrating its events to the configured queue.capacity of \(capacity)")
                    } else {
                        notes.append("spool \(path) is \(size) bytes, shorter than its \(SpoolHeader.size + storedCapacity): it was truncated; the records in the missing part are lost")
                        if ftruncate(file, off_t(SpoolHeader.size + storedCapacity)) != 0 {
                            throw ConfigError(.io, "queue.spool: cannot extend \(path): \(Self.errorText())")
                        }
                    }
                    let oldSize = SpoolHeader.size + storedCapacity
                    old = (try Self.map(file, size: oldSize, path: path), oldSize)
                } else {
                    old = (try Self.map(file, size: expected, path: path), expected)
                }
            }
        }

        if let old, SpoolHeader(old.mapping).capacity == capacity {
            // The usual restart: the ring is read where it is.
            let header = SpoolHeader(old.mapping)
            let ring = UnsafeMutableRawBufferPointer(start: old.mapping + SpoolHeader.size, count: capacity)
            let recovery = SpoolRecovery(ring: UnsafeRawBufferPointer(ring), header: header, slots: EventQueue.maxSlots)
            if recovery.inPlace {
                fd = file
                mapping = old.mapping
                mappedSize = old.size
                self.header = header
                queue = EventQueue(memory: ring, policy: policy, header: header)
                queue.adopt(recovery)
                missing = recovery.missing
                resumed = queue.resumeStoredSlots()
                self.notes = notes
                return
            }
            notes.append("spool \(path) has damaged records; rebuilding it from the \(recovery.records.count) that are intact")
        }

        // A new spool, or the records of the old one copied into a new ring: written beside
        // the old file and renamed over it, so a crash during the rebuild loses nothing.
        let building = old == nil ? path : path + ".rebuild"
        let newFile = old == nil ? file : try Self.openLocked(building, truncate: true)
        guard ftruncate(newFile, off_t(expected)) == 0 else {
            throw ConfigError(.io, "queue.spool: cannot size \(building) to \(expected) bytes: \(Self.errorText())")
        }
        let newMapping = try Self.map(newFile, size: expected, path: building)
        let header = SpoolHeader(newMapping)
        let ring = UnsafeMutableRawBufferPointer(start: newMapping + SpoolHeader.size, count: capacity)
        var lost: UInt64 = 0
        if let old {
            let oldHeader = SpoolHeader(old.mapping)
            header.initialize(capacity: capacity, instance: oldHeader.instance, nextSeq: oldHeader.nextSeq,
                              created: oldHeader.created)
            let queue = EventQueue(memory: ring, policy: policy, header: header)
            let oldRing = UnsafeRawBufferPointer(start: old.mapping + SpoolHeader.size, count: oldHeader.capacity)
            let recovery = SpoolRecovery(ring: oldRing, header: oldHeader, slots: EventQueue.maxSlots)
            lost = recovery.missing
            // When the new ring is smaller, the newest events that fit are kept.
            var room = queue.usable
            var keep = recovery.records.count
            for (index, record) in recovery.records.enumerated().reversed() {
                room -= EventRecord.aligned(record.length)
                if room < 0 { break }
                keep = index
            }
            if keep > 0 { notes.append("\(keep) oldest events did not fit in the new queue.capacity and were dropped") }
            for record in recovery.records[keep...] {
                let view = EventView(UnsafeRawBufferPointer(rebasing: oldRing[record.offset..<(record.offset + record.length)]))
                _ = queue.restore(view)
            }
            for slot in 0..<EventQueue.maxSlots {
                if let name = oldHeader.name(slot) { header.activate(slot, name: name, needFrom: oldHeader.needFrom(slot)) }
            }
            munmap(old.mapping, old.size)
            self.queue = queue
            msync(newMapping, expected, MS_SYNC)
            guard rename(building, path) == 0 else {
                throw ConfigError(.io, "queue.spool: cannot replace \(path) with the rebuilt spool: \(Self.errorText())")
            }
            Glibc.close(file)
        } else {
            header.initialize(capacity: capacity, instance: UInt64.random(in: 1...UInt64.max), nextSeq: 1, created: now)
            queue = EventQueue(memory: ring, policy: policy, header: header)
            msync(newMapping, SpoolHeader.size, MS_SYNC)
        }
        fd = newFile
        mapping = newMapping
        mappedSize = expected
        self.header = header
        missing = lost
        resumed = queue.resumeStoredSlots()
        self.notes = notes
    }

    deinit { close() }

    /// Writes dirty pages to the disk: what a power loss (not a process crash) can take is
    /// what changed since the last call.
    public func sync() {
        guard fd >= 0 else { return }
        msync(mapping, mappedSize, MS_SYNC)
    }

    public func close() {
        guard fd >= 0 else { return }
        sync()
        munmap(mapping, mappedSize)
        Glibc.close(fd)
        fd = -1
    }

    // MARK: File operations

    /// Opens (creating it if need be) and takes the file's exclusive lock: two agents on one
    /// spool would corrupt it.
    static func openLocked(_ path: String, truncate: Bool = false) throws(ConfigError) -> Int32 {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0o600)
        guard fd >= 0 else { throw ConfigError(.io, "queue.spool: cannot open \(path): \(errorText())") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            let reason = errorText()
            Glibc.close(fd)
            throw ConfigError(.io, busy ? "queue.spool: \(path) is in use by another agent" : "queue.spool: cannot lock \(path): \(reason)")
        }
        return fd
    }

    static func fileSize(_ fd: Int32) -> Int {
        var info = stat()
        return fstat(fd, &info) == 0 ? Int(info.st_size) : 0
    }

    static func map(_ fd: Int32, size: Int, path: String) throws(ConfigError) -> UnsafeMutableRawPointer {
        let pointer = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        guard let pointer, pointer != MAP_FAILED else {
            throw ConfigError(.io, "queue.spool: cannot map \(size) bytes of \(path): \(errorText())")
        }
        return pointer
    }

    /// Renames an unreadable spool to `<path>.<reason>-<unix time>` and opens a new one in its
    /// place: never deleted, and the journal says where it went.
    static func setAside(_ path: String, fd: inout Int32, reason: String, now: Int64, notes: inout [String],
                         why: String) throws(ConfigError) {
        let aside = "\(path).\(reason)-\(now)"
        guard rename(path, aside) == 0 else {
            throw ConfigError(.io, "queue.spool: \(path) cannot be used (\(why)) and cannot be set aside: \(errorText())")
        }
        Glibc.close(fd)
        fd = try openLocked(path)
        notes.append("spool \(path) cannot be used (\(why)); it was kept as \(aside) and a new spool started")
    }

    static func errorText() -> String { String(cString: strerror(errno)) }
}
