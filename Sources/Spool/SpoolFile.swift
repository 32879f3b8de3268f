import CSystem
import OutboundEventsCore

/// The crash-safe spool (`queue.spool`): the queue's ring and its header live in one file,
/// mapped shared, so every record and every position an `oe_emit` or a delivery stores is in
/// the kernel's page cache the moment it is written and survives the process being killed,
/// even with SIGKILL. `sync` (msync) bounds what a power cut can take: the agent calls it at
/// least every `queue.sync_interval` while the spool changes, never with a lock `oe_emit` takes.
///
/// Opening never deletes anything the agent cannot read: a spool of another layout version or
/// with a damaged header is renamed aside, and one of another capacity is migrated. A new,
/// rebuilt or migrated spool is written beside the old one, synced, and renamed over it (then
/// the directory is synced): after a power cut there is the old file or the new one, whole.
public final class SpoolFile {
    /// Who numbers the events: the agent itself, or appliance mode's intake, whose numbers the
    /// daemon's spool keeps (and whose reservation protects them).
    public enum Numbering { case own, external }

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
    /// The spool was found open: the last agent on it was killed, or the power was cut.
    public let uncleanStop: Bool
    /// After an unclean stop, where numbering went on (the reservation), if it moved.
    public let numberingRestarted: UInt64?

    public var ring: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: mapping + SpoolHeader.size, count: mappedSize - SpoolHeader.size)
    }

    /// What `open` found or made: a mapped spool and its queue.
    struct Opened {
        var fd: Int32
        var mapping: UnsafeMutableRawPointer
        var size: Int
        var queue: EventQueue
        var missing: UInt64
    }

    /// What the file at the spool's path holds.
    enum Existing {
        /// Nothing (a new spool is made).
        case none
        /// A spool of the configured capacity, mapped whole.
        case sameCapacity(UnsafeMutableRawPointer)
        /// A spool of another capacity: what the file really holds of it, mapped.
        case otherCapacity(UnsafeMutableRawPointer, readable: Int)
    }

    /// Opens or creates the spool at `path` with a ring of `capacity` bytes. Errors are
    /// `OE_EIO` and name the path.
    public init(path: String, capacity: Int, policy: OverflowPolicy, now: Int64,
                numbering: Numbering = .own) throws(ConfigError) {
        self.path = path
        var notes: [String] = []
        let opened = try Self.open(path, capacity: capacity, policy: policy, now: now, notes: &notes)
        fd = opened.fd
        mapping = opened.mapping
        mappedSize = opened.size
        header = SpoolHeader(opened.mapping)
        queue = opened.queue
        missing = opened.missing
        uncleanStop = header.isOpen
        let restart = header.reserved
        if uncleanStop && numbering == .own && restart > queue.nextSeq {
            // A power cut may have taken back the newest numbers: none given before is given
            // again, whatever the disk kept.
            queue.restartNumbering(at: restart)
            numberingRestarted = restart
        } else {
            numberingRestarted = nil
        }
        resumed = queue.resumeStoredSlots()
        self.notes = notes
        do throws(ConfigError) {
            try markOpen()
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    /// Marks the spool open and reserves numbers ahead, durably, before any is used.
    func markOpen() throws(ConfigError) {
        header.isOpen = true
        header.reserved = queue.nextSeq &+ SpoolHeader.reservation
        guard msync(mapping, SpoolHeader.size, MS_SYNC) == 0 else {
            let reason = Self.errorText()
            throw ConfigError(.io, "queue.spool: cannot write \(path) to disk: \(reason)")
        }
    }

    /// Moves the reservation ahead when numbering has come within half of it (with the lock
    /// the queue is used under held); the next `sync` makes it durable. Numbers never reach a
    /// reservation that is not on the disk: half of one is more than a run emits between two
    /// syncs.
    public func extendReservation() -> Bool {
        guard queue.nextSeq &+ SpoolHeader.reservation / 2 > header.reserved else { return false }
        header.reserved = queue.nextSeq &+ SpoolHeader.reservation
        return true
    }

    /// Writes dirty pages to the disk: what a power cut (not a process crash) can take is what
    /// changed since the last call. Safe while other threads store into the ring. False when
    /// the disk refused (the next call tries again).
    @discardableResult
    public func sync() -> Bool {
        guard fd >= 0 else { return false }
        return msync(mapping, mappedSize, MS_SYNC) == 0
    }

    /// A clean close: synced, and marked closed, so the next start knows nothing was cut.
    public func close() {
        guard fd >= 0 else { return }
        header.isOpen = false
        sync()
        munmap(mapping, mappedSize)
        CSystem.close(fd)
        fd = -1
    }

    // MARK: Opening, step by step

    static func open(_ path: String, capacity: Int, policy: OverflowPolicy, now: Int64,
                     notes: inout [String]) throws(ConfigError) -> Opened {
        var file = try openLocked(path)
        let expected = SpoolHeader.size + capacity
        let existing: Existing
        do throws(ConfigError) {
            existing = try inspect(path, fd: &file, capacity: capacity, now: now, notes: &notes)
        } catch {
            if file >= 0 { CSystem.close(file) }
            throw error
        }
        var old: (mapping: UnsafeMutableRawPointer, size: Int)?
        switch existing {
        case .none:
            break
        case .sameCapacity(let mapping):
            // The usual restart: the ring is read where it is.
            let header = SpoolHeader(mapping)
            let ring = UnsafeMutableRawBufferPointer(start: mapping + SpoolHeader.size, count: capacity)
            let recovery = SpoolRecovery(ring: UnsafeRawBufferPointer(ring), header: header, slots: EventQueue.maxSlots)
            if recovery.inPlace {
                for slot in header.unrestorableSlots {
                    notes.append(unrestorable(path, slot))
                    header.deactivate(slot)
                }
                let queue = EventQueue(memory: ring, policy: policy, header: header)
                queue.adopt(recovery)
                return Opened(fd: file, mapping: mapping, size: expected, queue: queue, missing: recovery.missing)
            }
            notes.append("spool \(path) has damaged records;"
                             + " rebuilding it from the \(recovery.records.count) that are intact")
            old = (mapping, expected)
        case .otherCapacity(let mapping, let readable):
            old = (mapping, readable)
        }
        defer { if let old { munmap(old.mapping, old.size) } }
        do throws(ConfigError) {
            let built = try build(path, capacity: capacity, policy: policy, now: now, from: old, notes: &notes)
            CSystem.close(file)
            return built
        } catch {
            // No spool was there: leave none behind, not even the empty file that holds the lock.
            if case .none = existing, fileSize(file) == 0 { unlink(path) }
            CSystem.close(file)
            throw error
        }
    }

    /// Reads what the file holds. An unusable file is set aside (and `fd` is then a new,
    /// empty file at `path`).
    static func inspect(_ path: String, fd: inout Int32, capacity: Int, now: Int64,
                        notes: inout [String]) throws(ConfigError) -> Existing {
        let size = fileSize(fd)
        guard size > 0 else { return .none }
        guard size >= SpoolHeader.size else {
            try setAside(path, fd: &fd, reason: "corrupt", now: now, notes: &notes,
                         why: "it is \(size) bytes, shorter than its header")
            return .none
        }
        let header = try map(fd, size: SpoolHeader.size, path: path)
        let view = SpoolHeader(header)
        let storedCapacity = view.capacity
        let problem: (reason: String, why: String)? =
            !view.hasMagic ? ("corrupt", "its header is not a spool header")
            : view.layoutVersion != SpoolHeader.version
                ? ("incompatible",
                   "it has layout version \(view.layoutVersion); this agent reads version \(SpoolHeader.version)")
            : view.headerSize != SpoolHeader.size ? ("incompatible", "its header size is \(view.headerSize)")
            : !SpoolHeader.capacityRange.contains(storedCapacity)
                ? ("corrupt", "its header gives a ring of \(storedCapacity) bytes")
            : nil
        munmap(header, SpoolHeader.size)
        if let problem {
            try setAside(path, fd: &fd, reason: problem.reason, now: now, notes: &notes, why: problem.why)
            return .none
        }
        let storedSize = SpoolHeader.size + storedCapacity
        if size < storedSize {
            notes.append("spool \(path) is \(size) bytes, shorter than its \(storedSize): it was truncated;"
                             + " the records in the missing part are lost")
        }
        guard storedCapacity != capacity else {
            // Extends a truncated file; reserves the blocks of one made sparse.
            try reserve(fd, size: storedSize, path: path)
            return .sameCapacity(try map(fd, size: storedSize, path: path))
        }
        notes.append("spool \(path) has a ring of \(storedCapacity) bytes; migrating its events to the configured"
                         + " queue.capacity of \(capacity)")
        // Only what the file really holds is mapped: a page past its end would fault.
        let readable = min(size, storedSize)
        return .otherCapacity(try map(fd, size: readable, path: path), readable: readable)
    }

    /// Makes a spool beside `path`, with the records of `old` if there is one (a rebuild or a
    /// migration), syncs it and renames it over `path`: a power cut leaves the old file or the
    /// new one, whole.
    static func build(_ path: String, capacity: Int, policy: OverflowPolicy, now: Int64,
                      from old: (mapping: UnsafeMutableRawPointer, size: Int)?,
                      notes: inout [String]) throws(ConfigError) -> Opened {
        let building = path + ".new"
        let expected = SpoolHeader.size + capacity
        let file = try openLocked(building, truncate: true)
        var mapped: UnsafeMutableRawPointer?
        var complete = false
        defer {
            if !complete {
                if let mapped { munmap(mapped, expected) }
                CSystem.close(file)
                // Nothing of value is in the new file: leave no half-made spool behind.
                unlink(building)
            }
        }
        try reserve(file, size: expected, path: building)
        let mapping = try map(file, size: expected, path: building)
        mapped = mapping
        let header = SpoolHeader(mapping)
        let ring = UnsafeMutableRawBufferPointer(start: mapping + SpoolHeader.size, count: capacity)
        var lost: UInt64 = 0
        let queue: EventQueue
        if let old {
            let oldHeader = SpoolHeader(old.mapping)
            header.initialize(capacity: capacity, instance: oldHeader.instance, nextSeq: oldHeader.nextSeq,
                              created: oldHeader.created)
            // Whether the last stop was clean, and the numbers reserved, carry over.
            header.reserved = oldHeader.reserved
            header.isOpen = oldHeader.isOpen
            queue = EventQueue(memory: ring, policy: policy, header: header)
            lost = copyRecords(of: old, into: queue, notes: &notes)
            for slot in 0..<EventQueue.maxSlots {
                if let name = oldHeader.name(slot) {
                    header.activate(slot, name: name, needFrom: oldHeader.needFrom(slot))
                }
            }
            notes += oldHeader.unrestorableSlots.map { unrestorable(path, $0) }
        } else {
            header.initialize(capacity: capacity, instance: UInt64.random(in: 1...UInt64.max), nextSeq: 1, created: now)
            queue = EventQueue(memory: ring, policy: policy, header: header)
        }
        guard msync(mapping, expected, MS_SYNC) == 0, fsync(file) == 0 else {
            let reason = errorText()
            throw ConfigError(.io, "queue.spool: cannot write \(building) to disk: \(reason)")
        }
        guard rename(building, path) == 0 else {
            let reason = errorText()  // before anything else can change errno
            throw ConfigError(.io, "queue.spool: cannot rename \(building) to \(path): \(reason)")
        }
        let synced = csystem_sync_directory(directory(of: path))
        guard synced == 0 else {
            throw ConfigError(.io, "queue.spool: cannot sync the directory of \(path):"
                                       + " \(String(cString: strerror(synced)))")
        }
        complete = true
        return Opened(fd: file, mapping: mapping, size: expected, queue: queue, missing: lost)
    }

    /// Copies the intact records of an old ring into a new queue, keeping their numbers and
    /// times (so their ids); when the new ring is smaller, the newest that fit. Returns the
    /// events lost to damage.
    static func copyRecords(of old: (mapping: UnsafeMutableRawPointer, size: Int), into queue: EventQueue,
                            notes: inout [String]) -> UInt64 {
        let oldHeader = SpoolHeader(old.mapping)
        let oldRing = UnsafeRawBufferPointer(start: old.mapping + SpoolHeader.size, count: old.size - SpoolHeader.size)
        let recovery = SpoolRecovery(ring: oldRing, header: oldHeader, slots: EventQueue.maxSlots)
        var room = queue.usable
        var keep = recovery.records.count
        for (index, record) in recovery.records.enumerated().reversed() {
            room -= EventRecord.aligned(record.length)
            if room < 0 { break }
            keep = index
        }
        if keep > 0 { notes.append("\(keep) oldest events did not fit in the new queue.capacity and were dropped") }
        for record in recovery.records[keep...] {
            let bytes = oldRing[record.offset..<(record.offset + record.length)]
            let view = EventView(UnsafeRawBufferPointer(rebasing: bytes))
            _ = queue.restore(view)
        }
        return recovery.missing
    }

    // MARK: File operations

    /// Opens (creating it if need be) and takes the file's exclusive lock: two agents on one
    /// spool would corrupt it. The lock is on the file the path names once it is held: a
    /// spool renamed into place meanwhile (another agent's rebuild) is opened again.
    static func openLocked(_ path: String, truncate: Bool = false) throws(ConfigError) -> Int32 {
        for _ in 0..<8 {
            let fd = csystem_open(path, O_RDWR | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0o600)
            guard fd >= 0 else {
                let reason = errorText()
                throw ConfigError(.io, "queue.spool: cannot open \(path): \(reason)")
            }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                let busy = csystem_errno() == EWOULDBLOCK
                let reason = errorText()
                CSystem.close(fd)
                throw ConfigError(.io, busy ? "queue.spool: \(path) is in use by another agent"
                                            : "queue.spool: cannot lock \(path): \(reason)")
            }
            var opened = stat()
            var named = stat()
            if fstat(fd, &opened) == 0, stat(path, &named) == 0,
               opened.st_ino == named.st_ino, opened.st_dev == named.st_dev {
                return fd
            }
            CSystem.close(fd)
        }
        throw ConfigError(.io, "queue.spool: \(path) keeps being replaced while it is opened")
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
            throw ConfigError(.io, "queue.spool: cannot reserve \(size) bytes for \(path):"
                                       + " \(String(cString: strerror(result)))")
        }
        var info = stat()
        let allocated = fstat(fd, &info) == 0 ? Int(info.st_blocks) * 512 : 0
        var volume = statvfs()
        let free = fstatvfs(fd, &volume) == 0 ? Int(volume.f_bavail) * Int(volume.f_frsize) : 0
        let missing = max(1, size - allocated - free)
        throw ConfigError(.io, "queue.spool: not enough room for \(path): it needs \(size) bytes"
                                   + " (queue.capacity plus a \(SpoolHeader.size)-byte header),"
                                   + " \(missing) more than its filesystem has free;"
                                   + " free some space or lower queue.capacity")
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
        "spool \(path): the stored position of slot \(slot) cannot be restored (its recipient name is damaged);"
            + " the events it still needed are not delivered to that recipient"
    }

    /// The directory a path is in ("." for a bare name).
    public static func directory(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "." }
        let prefix = String(path[..<slash])
        return prefix.isEmpty ? "/" : prefix
    }

    static func errorText() -> String { String(cString: strerror(csystem_errno())) }
}
