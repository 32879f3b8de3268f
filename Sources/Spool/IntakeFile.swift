import CSystem
import OutboundEventsCore

/// Appliance mode's intake (SPEC 9): the file `<spool>.intake` beside the daemon's spool, mapped
/// shared by the daemon and by every producer (a firmware service whose agent has
/// `queue.attach`). A producer's `oe_emit` writes its event here and returns: no socket, no
/// round trip. The daemon moves the events, in the order they were written, into its spool,
/// where they keep the sequence number they were given here: that number is the one total
/// order of all producers' events, and the second half of the event's id.
///
/// Every change of the ring is made under a process-shared, robust mutex in the header, held
/// for the copy of one event: a producer killed at any instant (even holding it) never blocks
/// the others, and never damages an accepted event, because a record becomes visible only by
/// the single store that moves `head` past it, made after the record is complete.
///
///     0     "OEINTAKE"            magic
///     8     u32 layout version    (1)
///     12    u32 header size       (262144)
///     16    u64 ring capacity
///     24    u64 instance          (seeds record checksums)
///     32    u64 next sequence     [lock]
///     40    u64 head              [lock] bytes ever written (a position: modulo capacity)
///     48    u64 tail              [lock] bytes ever taken out
///     56    u64 dropped           [lock] events evicted or refused for lack of room
///     64    u32 overflow policy   (daemon: 0 drop_oldest, 1 reject)
///     68    u32 wake              (futex: producers bump it when the daemon sleeps)
///     72    u32 sleeping          (the daemon waits on `wake`)
///     76    u32 flush waiters     (producers waiting in oe_agent_flush)
///     80    u64 done before       (daemon: every event numbered lower is delivered or not wanted)
///     88    u32 done              (futex: bumped when `done before` moves)
///     92    u32 largest event     (daemon: its queue's maximum event size)
///     96    u32 status generation (seqlock: odd while the daemon writes the status)
///     100   u32 status length
///     128   the mutex (pthread_mutex_t, process-shared and robust)
///     4096  the daemon's latest status document (JSON), up to 258048 bytes
///     262144 the ring: records as in the spool (`EventRecord`), a wrap marker where one
///           did not fit before the end
///
/// Byte 0 of the file carries an open-file-description lock while the daemon runs, which a
/// producer can test without taking it ("daemon": "running" or "stopped").
public final class IntakeFile: @unchecked Sendable {
    public static let magic: [UInt8] = Array("OEINTAKE".utf8)
    public static let version: UInt32 = 1
    public static let headerSize = 262_144
    static let statusOffset = 4096
    public static let statusCapacity = headerSize - statusOffset
    static let mutexOffset = 128

    public let path: String
    let fd: Int32
    let base: UnsafeMutableRawPointer
    let mappedSize: Int
    public let capacity: Int
    let seed: UInt32
    var ring: UnsafeMutableRawPointer { base + Self.headerSize }
    var mutex: UnsafeMutablePointer<pthread_mutex_t> {
        (base + Self.mutexOffset).assumingMemoryBound(to: pthread_mutex_t.self)
    }

    /// The intake beside `spool`.
    public static func path(spool: String) -> String { spool + ".intake" }

    init(path: String, fd: Int32, base: UnsafeMutableRawPointer, mappedSize: Int) {
        self.path = path
        self.fd = fd
        self.base = base
        self.mappedSize = mappedSize
        capacity = Int(truncatingIfNeeded: UInt64(littleEndian: base.load(fromByteOffset: 16, as: UInt64.self)))
        let instance = UInt64(littleEndian: base.load(fromByteOffset: 24, as: UInt64.self))
        seed = SpoolHeader.checksumSeed(instance)
    }

    deinit {
        munmap(base, mappedSize)
        CSystem.close(fd)
    }

    // MARK: Opening

    /// The daemon's side: opens the intake beside `spool`, making it (readable and writable by
    /// the daemon's group, the producers) when there is none or the one there cannot be used,
    /// which is set aside. An intake that exists keeps its capacity: producers have it mapped.
    public static func openForDaemon(spool: String, capacity: Int, now: Int64,
                                     notes: inout [String]) throws(ConfigError) -> IntakeFile {
        let path = Self.path(spool: spool)
        var fd = csystem_open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o660)
        guard fd >= 0 else { throw ioError("cannot open \(path)") }
        // The umask must not take the producers' access away.
        fchmod(fd, 0o660)
        let size = SpoolFile.fileSize(fd)
        if size > 0 {
            if let problem = problem(fd, size: size) {
                let aside = "\(path).corrupt-\(now)"
                guard rename(path, aside) == 0 else {
                    let reason = SpoolFile.errorText()
                    CSystem.close(fd)
                    throw ConfigError(.io, "queue.spool: \(path) cannot be used (\(problem)) and cannot be set aside: \(reason)")
                }
                notes.append("intake \(path) cannot be used (\(problem)); it was kept as \(aside) and a new intake started")
                CSystem.close(fd)
                fd = csystem_open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_TRUNC, 0o660)
                guard fd >= 0 else { throw ioError("cannot open \(path)") }
                fchmod(fd, 0o660)
            } else {
                return try map(path, fd)
            }
        }
        let total = headerSize + capacity
        let reserved = posix_fallocate(fd, 0, off_t(total))
        guard reserved == 0 else {
            ftruncate(fd, 0)
            CSystem.close(fd)
            throw ConfigError(.io, "queue.spool: cannot reserve \(total) bytes for \(path) (queue.capacity plus a \(headerSize)-byte header): \(String(cString: strerror(reserved)))")
        }
        guard let base = mmapShared(fd, total) else {
            let reason = SpoolFile.errorText()
            CSystem.close(fd)
            throw ConfigError(.io, "queue.spool: cannot map \(total) bytes of \(path): \(reason)")
        }
        base.initializeMemory(as: UInt8.self, repeating: 0, count: headerSize)
        base.storeBytes(of: version.littleEndian, toByteOffset: 8, as: UInt32.self)
        base.storeBytes(of: UInt32(headerSize).littleEndian, toByteOffset: 12, as: UInt32.self)
        base.storeBytes(of: UInt64(capacity & ~7).littleEndian, toByteOffset: 16, as: UInt64.self)
        base.storeBytes(of: UInt64.random(in: 1...UInt64.max).littleEndian, toByteOffset: 24, as: UInt64.self)
        base.storeBytes(of: UInt64(1).littleEndian, toByteOffset: 32, as: UInt64.self)
        let initialized = csystem_robust_mutex_init((base + mutexOffset).assumingMemoryBound(to: pthread_mutex_t.self))
        guard initialized == 0 else {
            munmap(base, total)
            CSystem.close(fd)
            throw ConfigError(.io, "queue.spool: cannot make the lock of \(path): \(String(cString: strerror(initialized)))")
        }
        // The magic last: a producer attaching meanwhile finds no intake yet, never half of one.
        msync(base, headerSize, MS_SYNC)
        magic.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: 8) }
        msync(base, headerSize, MS_SYNC)
        return IntakeFile(path: path, fd: fd, base: base, mappedSize: total)
    }

    /// A producer's side: attaches to the daemon's spool at `spool`. The error names the path
    /// and what is missing.
    public static func attach(spool: String) throws(ConfigError) -> IntakeFile {
        var info = stat()
        guard stat(spool, &info) == 0 else {
            let reason = SpoolFile.errorText()
            throw ConfigError(.io, "queue.attach: \(spool): \(reason) (the path of outbound-eventsd's queue.spool; the daemon makes it when it first starts)")
        }
        let path = Self.path(spool: spool)
        let fd = csystem_open(path, O_RDWR | O_CLOEXEC, 0)
        guard fd >= 0 else {
            let missing = csystem_errno() == ENOENT
            let denied = csystem_errno() == EACCES
            let reason = SpoolFile.errorText()
            throw ConfigError(.io, missing
                ? "queue.attach: \(spool) is not the spool of an outbound-eventsd daemon (\(path) does not exist)"
                : "queue.attach: cannot open \(path): \(reason)\(denied ? " (the service's user must be in the daemon's group, outbound-events)" : "")")
        }
        if let problem = problem(fd, size: SpoolFile.fileSize(fd)) {
            CSystem.close(fd)
            throw ConfigError(.io, "queue.attach: \(path) cannot be used: \(problem)")
        }
        return try map(path, fd)
    }

    /// Why the file at `fd` is not a usable intake, or nil.
    static func problem(_ fd: Int32, size: Int) -> String? {
        guard size >= headerSize else { return "it is \(size) bytes, shorter than its header" }
        guard let header = mmapShared(fd, statusOffset) else { return "its header cannot be mapped" }
        defer { munmap(header, statusOffset) }
        let hasMagic = magic.withUnsafeBytes { UnsafeRawBufferPointer(start: header, count: 8).elementsEqual($0) }
        guard hasMagic else { return "its header is not an intake header" }
        let version = UInt32(littleEndian: header.load(fromByteOffset: 8, as: UInt32.self))
        guard version == Self.version else { return "it has layout version \(version); this agent reads version \(Self.version)" }
        let capacity = Int(truncatingIfNeeded: UInt64(littleEndian: header.load(fromByteOffset: 16, as: UInt64.self)))
        guard SpoolHeader.capacityRange.contains(capacity) else { return "its header gives a ring of \(capacity) bytes" }
        guard size >= headerSize + capacity else { return "it is \(size) bytes, shorter than its \(headerSize + capacity)" }
        return nil
    }

    static func map(_ path: String, _ fd: Int32) throws(ConfigError) -> IntakeFile {
        let header = mmapShared(fd, statusOffset)
        guard let header else {
            CSystem.close(fd)
            throw ioError("cannot map \(path)")
        }
        let capacity = Int(truncatingIfNeeded: UInt64(littleEndian: header.load(fromByteOffset: 16, as: UInt64.self)))
        munmap(header, statusOffset)
        guard let base = mmapShared(fd, headerSize + capacity) else {
            let reason = SpoolFile.errorText()
            CSystem.close(fd)
            throw ConfigError(.io, "queue.attach: cannot map \(path): \(reason)")
        }
        return IntakeFile(path: path, fd: fd, base: base, mappedSize: headerSize + capacity)
    }

    static func mmapShared(_ fd: Int32, _ size: Int) -> UnsafeMutableRawPointer? {
        let pointer = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        guard let pointer, pointer != csystem_map_failed() else { return nil }
        return pointer
    }

    static func ioError(_ what: String) -> ConfigError {
        let reason = SpoolFile.errorText()
        return ConfigError(.io, "queue.spool: \(what): \(reason)")
    }

    // MARK: Shared words

    func word64(_ offset: Int) -> UnsafeMutablePointer<UInt64> {
        (base + offset).assumingMemoryBound(to: UInt64.self)
    }

    func word32(_ offset: Int) -> UnsafeMutablePointer<UInt32> {
        (base + offset).assumingMemoryBound(to: UInt32.self)
    }

    var nextSeq: UInt64 {
        get { csystem_load64(word64(32)) }
        set { csystem_store64(word64(32), newValue) }
    }
    var head: UInt64 {
        get { csystem_load64(word64(40)) }
        set { csystem_store64(word64(40), newValue) }
    }
    var tail: UInt64 {
        get { csystem_load64(word64(48)) }
        set { csystem_store64(word64(48), newValue) }
    }
    /// Events the intake evicted or refused for lack of room, since it was made.
    public var dropped: UInt64 {
        get { csystem_load64(word64(56)) }
        set { csystem_store64(word64(56), newValue) }
    }

    /// The daemon's overflow policy, which producers follow.
    public var policy: OverflowPolicy {
        get { csystem_load32(word32(64)) == 1 ? .reject : .dropOldest }
        set { csystem_store32(word32(64), newValue == .reject ? 1 : 0) }
    }

    /// The daemon's largest event (0 until a daemon has run).
    public var largestEvent: Int {
        get { Int(csystem_load32(word32(92))) }
        set { csystem_store32(word32(92), UInt32(clamping: newValue)) }
    }

    /// The lowest sequence number not yet delivered to every recipient that wants it.
    public var doneBefore: UInt64 { csystem_load64(word64(80)) }

    // MARK: Locking

    /// Runs `body` with the intake's lock held. A holder that died is recovered from first.
    @inline(__always)
    func withLock<R>(_ body: () -> R) -> R {
        if csystem_robust_mutex_lock(mutex) == 1 { repairAfterDeath() }
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// The previous holder died holding the lock. Records are committed by one store of
    /// `head`, after they are complete, so the ring is consistent; only `next sequence`, stored
    /// after `head`, may lag behind the newest record: it is set past it.
    func repairAfterDeath() {
        var newest: UInt64 = 0
        forEachRecord(from: tail) { _, view in
            newest = max(newest, view.seq)
            return true
        }
        if newest >= nextSeq { nextSeq = newest + 1 }
    }

    // MARK: Producing

    public enum AppendResult: Equatable { case queued, full }

    /// Writes one event (a producer's `oe_emit`): `size` from `EventRecord.size`, at most
    /// `largestEvent`. With the intake full, the oldest events are evicted or the new one is
    /// refused, as the daemon's policy says.
    public func append(size: Int, timestamp: Int64, name: UnsafeRawBufferPointer, variables: Fields,
                       customFields: Fields) -> AppendResult {
        let stride = UInt64(EventRecord.aligned(size))
        let capacity = UInt64(self.capacity)
        let result: AppendResult = withLock {
            var head = self.head
            var tail = self.tail
            var skip: UInt64 = 0
            while true {
                let at = head % capacity
                skip = at + stride > capacity ? capacity - at : 0
                if head + skip + stride - tail <= capacity { break }
                guard policy == .dropOldest, tail != head else {
                    dropped += 1
                    return .full
                }
                if (ring + Int(tail % capacity)).load(as: UInt32.self) != EventRecord.wrapMarker { dropped += 1 }
                tail = following(tail)
                self.tail = tail
            }
            if skip > 0 {
                (ring + Int(head % capacity)).storeBytes(of: EventRecord.wrapMarker, as: UInt32.self)
                head += skip
            }
            let seq = nextSeq
            EventRecord.write(at: ring + Int(head % capacity), size: size, seq: seq, mask: 0, timestamp: timestamp,
                              name: name, variables: variables, customFields: customFields, checksumSeed: seed)
            // The commit: the record is visible from this store on.
            self.head = head + stride
            nextSeq = seq + 1
            return .queued
        }
        if result == .queued && csystem_load32(word32(72)) != 0 { wakeDaemon() }
        return result
    }

    /// Wakes the daemon's intake thread.
    public func wakeDaemon() {
        _ = csystem_add32(word32(68), 1)
        csystem_futex_wake(word32(68))
    }

    /// The position after the record (or wrap marker) at `position`.
    func following(_ position: UInt64) -> UInt64 {
        let capacity = UInt64(self.capacity)
        let at = Int(position % capacity)
        let length = (ring + at).load(as: UInt32.self)
        if length == EventRecord.wrapMarker { return position + (capacity - UInt64(at)) }
        return position + UInt64(EventRecord.aligned(Int(UInt32(littleEndian: length))))
    }

    /// Calls `body` with each record from `position` to `head`, with the lock held, until it
    /// returns false. Records that fail their checks end the walk (returns false then).
    @discardableResult
    func forEachRecord(from start: UInt64, _ body: (UInt64, EventView) -> Bool) -> Bool {
        let capacity = UInt64(self.capacity)
        var position = start
        let head = self.head
        while position < head {
            let at = Int(position % capacity)
            let raw = (ring + at).load(as: UInt32.self)
            if raw == EventRecord.wrapMarker {
                position += capacity - UInt64(at)
                continue
            }
            let length = Int(UInt32(littleEndian: raw))
            guard length >= EventRecord.headerSize, length <= EventRecord.maximumSize, at + length <= self.capacity else {
                return false
            }
            let view = EventView(UnsafeRawBufferPointer(start: ring + at, count: length))
            let body8 = UnsafeRawBufferPointer(start: ring + at + 8, count: length - 8)
            guard view.storedChecksum == CRC32C.checksum(body8, seed: seed), view.isWellFormed else { return false }
            guard body(position, view) else { return true }
            position += UInt64(EventRecord.aligned(length))
        }
        return true
    }

    // MARK: Consuming (the daemon)

    /// What one `take` did.
    public struct Taken {
        /// Events handed to the daemon's queue.
        public var moved = 0
        /// Events skipped because the daemon's queue already had them (moved before a crash).
        public var skipped = 0
        /// Damaged records were found (never the product of a producer's write, which is
        /// visible only once complete): they and everything after them were thrown away.
        public var damaged = false
        /// The daemon's queue was full (policy reject): the rest waits in the intake.
        public var full = false
        /// Events left in the intake.
        public var left = false
        /// The lowest sequence number still in the intake after the take, or the next one to be
        /// given when it is empty.
        public var oldest: UInt64 = 0
    }

    /// Hands at most `limit` events, oldest first, to `accept` (the daemon's queue), with the
    /// lock held: it returns false when its queue is full. Events numbered below `floor` are
    /// already in the daemon's queue (it was killed between storing one and taking it out
    /// here) and are skipped, so no event is queued twice.
    public func take(limit: Int, floor: UInt64, _ accept: (EventView) -> Bool) -> Taken {
        withLock {
            var taken = Taken()
            let intact = forEachRecord(from: tail) { position, view in
                guard taken.moved + taken.skipped < limit else {
                    taken.left = true
                    return false
                }
                if view.seq < floor {
                    taken.skipped += 1
                } else if accept(view) {
                    taken.moved += 1
                } else {
                    taken.full = true
                    taken.left = true
                    return false
                }
                tail = position + UInt64(EventRecord.aligned(view.length))
                return true
            }
            if !intact {
                // Damage (the file was changed under the daemon): what follows cannot be read.
                taken.damaged = true
                tail = head
            }
            taken.oldest = nextSeq
            forEachRecord(from: tail) { _, view in
                taken.oldest = view.seq
                return false
            }
            return taken
        }
    }

    /// Makes sure sequence numbers continue after `seq` (the daemon's queue's next one).
    public func continueAfter(_ seq: UInt64) {
        withLock { if nextSeq < seq { nextSeq = seq } }
    }

    /// Publishes how far delivery has come, and wakes producers waiting in flush.
    public func publishDone(before seq: UInt64) {
        guard csystem_load64(word64(80)) != seq else { return }
        csystem_store64(word64(80), seq)
        _ = csystem_add32(word32(88), 1)
        csystem_futex_wake(word32(88))
    }

    /// Whether a producer waits in flush (the daemon then publishes progress often).
    public var hasFlushWaiters: Bool { csystem_load32(word32(76)) != 0 }

    /// The daemon's wait for work: returns when a producer (or `wakeDaemon`) wakes it, or after
    /// `timeout`. The intake and `stop` are checked after the sleep is announced, so no wake-up
    /// is missed.
    public func sleep(timeout: Int32, unless stop: () -> Bool) {
        let seen = csystem_load32(word32(68))
        csystem_store32(word32(72), 1)
        if head == tail && !stop() {
            _ = csystem_futex_wait(word32(68), seen, timeout)
        }
        csystem_store32(word32(72), 0)
    }

    /// Marks the daemon running for as long as this intake stays open; false if another
    /// process holds the mark.
    public func holdRunningMark() -> Bool {
        csystem_hold_running_lock(fd) == 0
    }

    /// Whether a daemon runs on this intake.
    public var daemonRunning: Bool { csystem_running_lock_held(fd) == 1 }

    // MARK: Flush (a producer)

    /// Waits until every event written so far is delivered (or wanted by nobody), at most
    /// until `deadline` (`ConditionLock.now()` milliseconds, passed as `now`).
    public func waitDelivered(deadline: Int64, now: () -> Int64) -> Bool {
        let target = nextSeq
        if doneBefore >= target { return true }
        _ = csystem_add32(word32(76), 1)
        defer { _ = csystem_add32(word32(76), UInt32.max) }
        wakeDaemon()
        while true {
            let seen = csystem_load32(word32(88))
            if doneBefore >= target { return true }
            let left = deadline - now()
            if left <= 0 { return false }
            _ = csystem_futex_wait(word32(88), seen, Int32(min(left, 100)))
        }
    }

    // MARK: Status

    /// The daemon's side: the status document producers read.
    public func publishStatus(_ json: String) {
        var bytes = Array(json.utf8.prefix(Self.statusCapacity))
        let generation = csystem_load32(word32(96))
        csystem_store32(word32(96), generation | 1)
        bytes.withUnsafeMutableBytes { (base + Self.statusOffset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        csystem_store32(word32(100), UInt32(bytes.count))
        csystem_store32(word32(96), (generation | 1) &+ 1)
    }

    /// A producer's side: the daemon's latest status document, nil before a daemon published one.
    public func readStatus() -> String? {
        for _ in 0..<1000 {
            let before = csystem_load32(word32(96))
            if before & 1 == 1 {
                sched_yield()
                continue
            }
            let length = min(Int(csystem_load32(word32(100))), Self.statusCapacity)
            let text = String(decoding: UnsafeRawBufferPointer(start: base + Self.statusOffset, count: length), as: UTF8.self)
            if csystem_load32(word32(96)) == before { return length == 0 ? nil : text }
        }
        return nil
    }
}
