import CSystem
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
        let expected = SpoolHeader.size + capacity
        var file = try Self.openLocked(path)
        var old: (mapping: UnsafeMutableRawPointer, size: Int)?
        var newFile: Int32 = -1
        var newMapping: UnsafeMutableRawPointer?
        // Whatever fails below leaves nothing open, mapped or locked: a firmware that frees
        // room and tries again in the same process must find the spool free.
        var complete = false
        defer {
            if !complete {
                if let old { munmap(old.mapping, old.size) }
                if let newMapping { munmap(newMapping, expected) }
                if newFile >= 0 && newFile != file { CSystem.close(newFile) }
                if file >= 0 { CSystem.close(file) }
            }
        }
        let size = Self.fileSize(file)

        if size > 0 {
            if size < SpoolHeader.size {
                try Self.setAside(path, fd: &file, reason: "corrupt", now: now, notes: &notes,
                                  why: "it is \(size) bytes, shorter than its header")
            } else {
                let header = try Self.map(file, size: SpoolHeader.size, path: path)
                let view = SpoolHeader(header)
                let storedCapacity = view.capacity
                let problem: (reason: String, why: String)? =
                    !view.hasMagic ? ("corrupt", "its header is not a spool header")
                    : view.layoutVersion != SpoolHeader.version ? ("incompatible", "it has layout version \(view.layoutVersion); this agent reads version \(SpoolHeader.version)")
                    : view.headerSize != SpoolHeader.size ? ("incompatible", "its header size is \(view.headerSize)")
                    : !SpoolHeader.capacityRange.contains(storedCapacity) ? ("corrupt", "its header gives a ring of \(storedCapacity) bytes")
                    : nil
                munmap(header, SpoolHeader.size)
                let storedSize = SpoolHeader.size + storedCapacity
                if let problem {
                    try Self.setAside(path, fd: &file, reason: problem.reason, now: now, notes: &notes, why: problem.why)
                } else if storedCapacity == capacity {
                    if size < storedSize {
                        notes.append("spool \(path) is \(size) bytes, shorter than its \(storedSize): it was truncated; the records in the missing part are lost")
                    }
                    // Extends a truncated file; reserves the blocks of one made sparse.
                    try Self.reserve(file, size: expected, path: path)
                    old = (try Self.map(file, size: expected, path: path), expected)
                } else {
                    notes.append("spool \(path) has a ring of \(storedCapacity) bytes; migrating its events to the configured queue.capacity of \(capacity)")
                    // Only what the file really holds is mapped: a page past its end would fault.
                    let readable = min(size, storedSize)
                    if readable < storedSize {
                        notes.append("spool \(path) is \(size) bytes, shorter than its \(storedSize): it was truncated; the records in the missing part are lost")
                    }
                    old = (try Self.map(file, size: readable, path: path), readable)
                }
            }
        }

        if let old, SpoolHeader(old.mapping).capacity == capacity {
            // The usual restart: the ring is read where it is.
            let header = SpoolHeader(old.mapping)
            let ring = UnsafeMutableRawBufferPointer(start: old.mapping + SpoolHeader.size, count: capacity)
            let recovery = SpoolRecovery(ring: UnsafeRawBufferPointer(ring), header: header, slots: EventQueue.maxSlots)
            if recovery.inPlace {
                for slot in header.unrestorableSlots {
                    notes.append(Self.unrestorable(path, slot))
                    header.deactivate(slot)
                }
                fd = file
                mapping = old.mapping
                mappedSize = old.size
                self.header = header
                queue = EventQueue(memory: ring, policy: policy, header: header)
                queue.adopt(recovery)
                missing = recovery.missing
                resumed = queue.resumeStoredSlots()
                self.notes = notes
                complete = true
                return
            }
            notes.append("spool \(path) has damaged records; rebuilding it from the \(recovery.records.count) that are intact")
        }

        // A new spool, or the records of the old one copied into a new ring: written beside
        // the old file and renamed over it, so a crash during the rebuild loses nothing.
        let building = old == nil ? path : path + ".rebuild"
        newFile = old == nil ? file : try Self.openLocked(building, truncate: true)
        do throws(ConfigError) {
            try Self.reserve(newFile, size: expected, path: building)
        } catch {
            // Nothing of value is in the new file: leave no half-made spool behind.
            unlink(building)
            throw error
        }
        let mapped = try Self.map(newFile, size: expected, path: building)
        newMapping = mapped
        let header = SpoolHeader(mapped)
        let ring = UnsafeMutableRawBufferPointer(start: mapped + SpoolHeader.size, count: capacity)
        var lost: UInt64 = 0
        if let previous = old {
            let oldHeader = SpoolHeader(previous.mapping)
            header.initialize(capacity: capacity, instance: oldHeader.instance, nextSeq: oldHeader.nextSeq,
                              created: oldHeader.created)
            let queue = EventQueue(memory: ring, policy: policy, header: header)
            let oldRing = UnsafeRawBufferPointer(start: previous.mapping + SpoolHeader.size, count: previous.size - SpoolHeader.size)
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
            notes += oldHeader.unrestorableSlots.map { Self.unrestorable(path, $0) }
            munmap(previous.mapping, previous.size)
            old = nil
            self.queue = queue
            msync(mapped, expected, MS_SYNC)
            guard rename(building, path) == 0 else {
                let reason = Self.errorText()  // before anything else can change errno
                throw ConfigError(.io, "queue.spool: cannot replace \(path) with the rebuilt spool: \(reason)")
            }
            CSystem.close(file)
            file = -1
        } else {
            header.initialize(capacity: capacity, instance: UInt64.random(in: 1...UInt64.max), nextSeq: 1, created: now)
            queue = EventQueue(memory: ring, policy: policy, header: header)
            msync(mapped, SpoolHeader.size, MS_SYNC)
        }
        complete = true
        fd = newFile
        mapping = mapped
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
        CSystem.close(fd)
        fd = -1
    }

    // MARK: File operations

    /// Opens (creating it if need be) and takes the file's exclusive lock: two agents on one
    /// spool would corrupt it.
    static func openLocked(_ path: String, truncate: Bool = false) throws(ConfigError) -> Int32 {
        let fd = csystem_open(path, O_RDWR | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0o600)
        guard fd >= 0 else { let reason = errorText(); throw ConfigError(.io, "queue.spool: cannot open \(path): \(reason)") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let busy = csystem_errno() == EWOULDBLOCK
            let reason = errorText()
            CSystem.close(fd)
            throw ConfigError(.io, busy ? "queue.spool: \(path) is in use by another agent" : "queue.spool: cannot lock \(path): \(reason)")
        }
        return fd
    }

    /// Reserves the file's blocks up to `size` (extending it if shorter), so that no store into
    /// the mapping can ever find the disk full: a mapped page without a block behind it would
    /// kill the host process with SIGBUS. The error names the file and the room missing.
    static func reserve(_ fd: Int32, size: Int, path: String) throws(ConfigError) {
        let result = posix_fallocate(fd, 0, off_t(size))
        guard result != 0 else {
            guard fileSize(fd) >= size else {
                throw ConfigError(.io, "queue.spool: \(path) is shorter than the \(size) bytes just reserved")
            }
            return
        }
        guard result == ENOSPC || result == EDQUOT else {
            throw ConfigError(.io, "queue.spool: cannot reserve \(size) bytes for \(path): \(String(cString: strerror(result)))")
        }
        var info = stat()
        let allocated = fstat(fd, &info) == 0 ? Int(info.st_blocks) * 512 : 0
        var volume = statvfs()
        let free = fstatvfs(fd, &volume) == 0 ? Int(volume.f_bavail) * Int(volume.f_frsize) : 0
        let missing = max(1, size - allocated - free)
        throw ConfigError(.io, "queue.spool: not enough room for \(path): it needs \(size) bytes (queue.capacity plus a \(SpoolHeader.size)-byte header), \(missing) more than its filesystem has free; free some space or lower queue.capacity")
    }

    static func fileSize(_ fd: Int32) -> Int {
        var info = stat()
        return fstat(fd, &info) == 0 ? Int(info.st_size) : 0
    }

    static func map(_ fd: Int32, size: Int, path: String) throws(ConfigError) -> UnsafeMutableRawPointer {
        let pointer = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        guard let pointer, pointer != csystem_map_failed() else {
            let reason = errorText()  // before anything else can change errno
            throw ConfigError(.io, "queue.spool: cannot map \(size) bytes of \(path): \(reason)")
        }
        return pointer
    }

    /// Renames an unreadable spool to `<path>.<reason>-<unix time>` and opens a new one in its
    /// place: never deleted, and the journal says where it went.
    static func setAside(_ path: String, fd: inout Int32, reason: String, now: Int64, notes: inout [String],
                         why: String) throws(ConfigError) {
        let aside = "\(path).\(reason)-\(now)"
        guard rename(path, aside) == 0 else {
            let failure = errorText()  // before anything else can change errno
            throw ConfigError(.io, "queue.spool: \(path) cannot be used (\(why)) and cannot be set aside: \(failure)")
        }
        CSystem.close(fd)
        fd = -1
        fd = try openLocked(path)
        notes.append("spool \(path) cannot be used (\(why)); it was kept as \(aside) and a new spool started")
    }

    static func unrestorable(_ path: String, _ slot: Int) -> String {
        "spool \(path): the stored position of slot \(slot) cannot be restored (its recipient name is damaged); the events it still needed are not delivered to that recipient"
    }

    static func errorText() -> String { String(cString: strerror(csystem_errno())) }
}
