import CSystem
import Locking
import OutboundEventsCore

/// Appliance mode's intake (SPEC 9, 11, 12): the file `<spool>.intake` beside the daemon's
/// spool, mapped shared by the daemon and by every producer (a firmware service whose agent has
/// `queue.attach`). A producer's `oe_emit` writes its event here and returns: no socket, no
/// round trip, and no lock the daemon ever takes. The daemon moves the events, in the order
/// they were claimed, into its spool, where they keep the sequence number they were given
/// here: that number is the one total order of all producers' events, and the second half of
/// the event's id.
///
/// Writing is claim, then commit (Aeron's log buffers, the Linux BPF ring buffer):
/// - a producer claims room and a number together, with one compare-and-swap of the 16-byte
///   pair (claim position, next sequence); a claim that would cross the ring's end takes the
///   rest of the ring too and fills it with a padding frame;
/// - it marks the frame `writing` with its pid, copies the event and computes its checksum
///   outside any lock, and stores the frame word `committed` last: that store is the commit;
/// - every frame carries the position it was claimed at, so bytes left from an earlier lap (or
///   brought back by a power cut) never read as a frame of this one;
/// - the daemon reads committed frames in claim order from `taken`, without any lock: it
///   copies each frame, checks that nobody wrote over it meanwhile, queues the copy, and moves
///   `taken` past the frames of one take with a compare-and-swap. A frame whose writer died
///   (its pid is gone), or a claim left unmarked for a second, becomes padding: a producer
///   killed at any instant delays the daemon by at most a second;
/// - room is given back (`free`) once the daemon's spool sync has made the moved events
///   durable, so a power cut never finds an event in neither file.
///
/// Producers never overwrite what was not given back. With the intake full and the policy
/// `drop_oldest`, a producer makes room at the oldest frame itself: a frame before `taken` is
/// in the daemon's queue, and only its room is given back early (the event is delivered; a
/// power cut before the daemon's next spool sync can take it); a frame not yet taken is
/// evicted and counted, a step of frames at a time, by moving `taken` past them. Should the
/// daemon have queued such a frame meanwhile, its own compare-and-swap finds `taken` moved and
/// it takes the count back: the event is delivered, and counted once. With `reject` the new
/// event is refused (`OE_EQUEUEFULL`) and counted.
///
/// The header's fields, by offset (`Field`); every one a naturally aligned little-endian
/// word, stored and loaded atomically:
///
///     0     "OEINTAKE"            magic
///     8     u32 layout version    (2)
///     12    u32 header size       (262144)
///     16    u64 ring capacity     (a multiple of 16)
///     24    u64 instance          (seeds record checksums)
///     32    u64 reserved          sequence numbers below it may have been given; made durable
///                                 before any of them is used
///     40    u32 overflow policy   (daemon: 0 drop_oldest, 1 reject)
///     44    u32 largest event     (daemon: its queue's maximum event size)
///     48    u64 dropped           events refused or evicted for lack of room
///     56    u32 sync interval     (daemon: milliseconds; producers sync at that pace while it
///                                 is stopped)
///     64    u64 claim position    bytes ever claimed   } one 16-byte word, moved by one
///     72    u64 next sequence                          } compare-and-swap
///     80    u64 free position     producers may reuse the bytes before it, less a lap
///     88    u64 taken position    (daemon: how far it has read)
///     96    u32 wake              (futex: producers bump it when the daemon sleeps)
///     100   u32 sleeping          (the daemon waits on `wake`)
///     104   u32 flush waiters     (producers waiting in oe_agent_flush)
///     108   u32 done              (futex: bumped when `done before` moves)
///     112   u64 done before       (daemon: every event numbered lower is delivered or not wanted)
///     120   u32 status generation (seqlock: odd while the daemon writes the status)
///     124   u32 status length
///     128   u64 abandoned         (daemon: claims whose writer died, turned into padding)
///     4096  the daemon's latest status document (JSON), up to 258048 bytes
///     262144 the ring of frames
///
/// A frame, 16-byte aligned:
///
///     0     u64 state word: bits 62-63 state (1 writing, 2 committed, 3 padding), bits 54-61 the
///           lap (position / capacity, modulo 256), bits 32-53 the writer's pid, bits 0-31 the
///           frame's length (header included)
///     8     u64 the position the frame was claimed at (its lap tag)
///
/// A frame counts where both its word's lap and its position field are those of the place it is
/// read at. Marking a frame is a compare-and-swap of the word from one of an earlier lap (never
/// from one of this lap: that is the daemon's padding), then the position; so a reader never
/// takes an earlier lap's word for this lap's.
///     16    the event (`EventRecord`), checksummed with the instance's seed
///
/// Byte 0 of the file carries an open-file-description lock while the daemon runs, which a
/// producer can test without taking it ("daemon": "running" or "stopped").
public final class IntakeFile: @unchecked Sendable {
    public static let magic: [UInt8] = Array("OEINTAKE".utf8)
    public static let version: UInt32 = 2
    public static let headerSize = 262_144
    static let statusOffset = 4096
    public static let statusCapacity = headerSize - statusOffset
    /// The longest a claim may stay unmarked, or a dead writer's frame unfinished, before the
    /// daemon turns it into padding (SPEC 12: at most 1 s).
    public static let abandonAfter: Millis = 1000

    /// The header's fields, named once: the code reads them by name, never by offset.
    enum Field: Int {
        case layoutVersion = 8, headerSize = 12, capacity = 16, instance = 24, reserved = 32
        case policy = 40, largestEvent = 44, dropped = 48, syncInterval = 56
        case claimPosition = 64, nextSequence = 72, free = 80, taken = 88
        case wake = 96, sleeping = 100, flushWaiters = 104, done = 108, doneBefore = 112
        case statusGeneration = 120, statusLength = 124, abandoned = 128
    }

    /// A frame's state, in the top two bits of its state word.
    enum FrameState: UInt64 { case empty = 0, writing = 1, committed = 2, padding = 3 }
    static let frameHeader = 16

    public let path: String
    let fd: Int32
    let base: UnsafeMutableRawPointer
    let mappedSize: Int
    public let capacity: Int
    let seed: UInt32
    var ring: UnsafeMutableRawPointer { base + Self.headerSize }

    /// The daemon's own: where an unmarked claim or an unfinished frame was first seen, and
    /// when (monotonic milliseconds).
    var stuck: (position: UInt64, since: Millis, claimed: UInt64)?
    /// The daemon's own: the number of the last event it took (0 before the first).
    var lastTaken: UInt64 = 0
    /// The daemon's own: where it copies a frame before it queues it (allocated at its first
    /// take), `copyCapacity` bytes.
    var copy: UnsafeMutableRawPointer?
    static let copyCapacity = stride(65536)
    /// The daemon's own: the positions of the frames the current take queued (or skipped as
    /// queued already), until `taken` moves past them.
    var kept: [UInt64] = []

    /// The intake beside `spool`.
    public static func path(spool: String) -> String { spool + ".intake" }

    init(path: String, fd: Int32, base: UnsafeMutableRawPointer, mappedSize: Int) {
        self.path = path
        self.fd = fd
        self.base = base
        self.mappedSize = mappedSize
        capacity = Int(truncatingIfNeeded: UInt64(littleEndian: base.load(fromByteOffset: Field.capacity.rawValue,
                                                                          as: UInt64.self)))
        seed = SpoolHeader.checksumSeed(UInt64(littleEndian: base.load(fromByteOffset: Field.instance.rawValue,
                                                                       as: UInt64.self)))
    }

    deinit {
        copy?.deallocate()
        munmap(base, mappedSize)
        CSystem.close(fd)
    }

    // MARK: Shared words

    @inline(__always) func word64(_ field: Field) -> UnsafeMutablePointer<UInt64> {
        (base + field.rawValue).assumingMemoryBound(to: UInt64.self)
    }

    @inline(__always) func word32(_ field: Field) -> UnsafeMutablePointer<UInt32> {
        (base + field.rawValue).assumingMemoryBound(to: UInt32.self)
    }

    @inline(__always) func load(_ field: Field) -> UInt64 { csystem_load64(word64(field)) }
    @inline(__always) func store(_ field: Field, _ value: UInt64) { csystem_store64(word64(field), value) }
    @inline(__always) func load32(_ field: Field) -> UInt32 { csystem_load32(word32(field)) }
    @inline(__always) func store32(_ field: Field, _ value: UInt32) { csystem_store32(word32(field), value) }

    /// Events the intake evicted or refused for lack of room, since it was made.
    public var dropped: UInt64 { load(.dropped) }
    /// Claims whose writer died, turned into padding, since the intake was made.
    public var abandoned: UInt64 { load(.abandoned) }

    /// The daemon's overflow policy, which producers follow.
    public var policy: OverflowPolicy {
        get { load32(.policy) == 1 ? .reject : .dropOldest }
        set { store32(.policy, newValue == .reject ? 1 : 0) }
    }

    /// The daemon's largest event (0 until a daemon has run).
    public var largestEvent: Int {
        get { Int(load32(.largestEvent)) }
        set { store32(.largestEvent, UInt32(clamping: newValue)) }
    }

    /// The daemon's `queue.sync_interval` (0 until a daemon has run).
    public var syncInterval: Millis {
        get { Millis(load32(.syncInterval)) }
        set { store32(.syncInterval, UInt32(clamping: newValue)) }
    }

    /// The lowest sequence number not yet delivered to every recipient that wants it.
    public var doneBefore: UInt64 { load(.doneBefore) }

    /// The next sequence number a claim gets.
    public var nextSequence: UInt64 { load(.nextSequence) }

    /// Bytes ever claimed: moves whenever a producer writes.
    public var claimPosition: UInt64 { load(.claimPosition) }

    /// Bytes claimed and not yet given back: what producers cannot use now.
    public var held: UInt64 { claimPosition &- load(.free) }

    // MARK: Frames

    @inline(__always) func frame(_ position: UInt64) -> UnsafeMutableRawPointer {
        ring + Int(position % UInt64(capacity))
    }

    @inline(__always) func lap(_ position: UInt64) -> UInt64 { (position / UInt64(capacity)) & 0xFF }

    @inline(__always) func stateWord(_ state: FrameState, pid: UInt32, length: Int, at position: UInt64) -> UInt64 {
        state.rawValue << 62 | lap(position) << 54 | UInt64(pid & 0x3F_FFFF) << 32
            | UInt64(UInt32(truncatingIfNeeded: length))
    }

    /// Whether `word` was written in the lap of `position`.
    @inline(__always) func isThisLap(_ word: UInt64, _ position: UInt64) -> Bool {
        word != 0 && (word >> 54) & 0xFF == lap(position)
    }

    /// The frame at `position` as this lap wrote it: nil when nothing of this lap is there yet.
    @inline(__always) func frameWord(at position: UInt64) -> UInt64? {
        let at = frame(position)
        let word = csystem_load64(at.assumingMemoryBound(to: UInt64.self))
        guard isThisLap(word, position),
              csystem_load64((at + 8).assumingMemoryBound(to: UInt64.self)) == position else {
            return nil
        }
        return word
    }

    @inline(__always) static func state(_ word: UInt64) -> FrameState { FrameState(rawValue: word >> 62)! }
    @inline(__always) static func length(_ word: UInt64) -> Int { Int(UInt32(truncatingIfNeeded: word)) }
    @inline(__always) static func pid(_ word: UInt64) -> Int32 { Int32(truncatingIfNeeded: (word >> 32) & 0x3F_FFFF) }

    /// Bytes a frame holding an event of `size` bytes takes.
    @inline(__always) public static func stride(_ size: Int) -> Int { (frameHeader + size + 15) & ~15 }

    /// Turns the frame at `position`, whose word is `expected`, into padding of `length`;
    /// false when someone else changed it first.
    func pad(_ position: UInt64, length: Int, expected: UInt64) -> Bool {
        let at = frame(position)
        // The position first: a producer about to mark this place sees the padding as a frame
        // of this lap (word and position) the moment its word is stored, and only one of the
        // two compare-and-swaps wins.
        csystem_store64((at + 8).assumingMemoryBound(to: UInt64.self), position)
        return csystem_cas64(at.assumingMemoryBound(to: UInt64.self), expected,
                             stateWord(.padding, pid: 0, length: length, at: position)) == 1
    }

    // MARK: Producing

    public enum AppendResult: Equatable { case queued, full }

    /// Writes one event (a producer's `oe_emit`): `size` from `EventRecord.size`, at most
    /// `largestEvent`. Waits for nobody: a failed compare-and-swap means another producer
    /// claimed first, and is tried again at once.
    public func append(size: Int, timestamp: Int64, name: UnsafeRawBufferPointer, variables: Fields,
                       customFields: Fields, pid: UInt32) -> AppendResult {
        let stride = Self.stride(size)
        let capacity = UInt64(self.capacity)
        let pair = word64(.claimPosition)
        var waitingSince: Millis?
        while true {
            let position = csystem_load64(pair)
            let seq = csystem_load64(word64(.nextSequence))
            let offset = position % capacity
            let skip = offset + UInt64(stride) > capacity ? capacity - offset : 0
            let end = position + skip + UInt64(stride)
            let free = load(.free)
            // Room given back past `position` since it was read: others claimed meanwhile.
            guard free <= position else { continue }
            if end - free > capacity {
                let eviction = evictOldest(before: end)
                if eviction == .madeRoom { continue }
                if eviction == .writerBusy {
                    // The oldest frame is another producer's, being written: a copy of one
                    // event (longer only if that producer was preempted), unless that producer
                    // died there (then this gives up).
                    let now = ConditionLock.now()
                    let since = waitingSince ?? now
                    waitingSince = since
                    if now - since < Self.writerWait {
                        sched_yield()
                        continue
                    }
                }
                _ = csystem_add64(word64(.dropped), 1)
                return .full
            }
            guard csystem_cas_pair(pair, position, seq, end, seq + 1) == 1 else { continue }
            if testStop == .afterClaim { stopForTest() }
            if skip > 0 {
                _ = pad(position, length: Int(skip),
                        expected: csystem_load64(frame(position).assumingMemoryBound(to: UInt64.self)))
            }
            let framePosition = position + skip
            guard begin(framePosition, length: stride, pid: pid) else { continue }
            if testStop == .afterMark { stopForTest() }
            let at = frame(framePosition)
            EventRecord.write(at: at + Self.frameHeader, size: size, seq: seq, mask: 0, timestamp: timestamp,
                              name: name, variables: variables, customFields: customFields, checksumSeed: seed)
            // The commit: the daemon reads the event from this store on. It fails only if the
            // daemon took this writer for dead (a pid it cannot see): the event is written again.
            let writing = stateWord(.writing, pid: pid, length: stride, at: framePosition)
            guard csystem_cas64(at.assumingMemoryBound(to: UInt64.self), writing,
                                stateWord(.committed, pid: pid, length: stride, at: framePosition)) == 1 else {
                continue
            }
            if load32(.sleeping) != 0 { wakeDaemon() }
            return .queued
        }
    }

    /// Where a producer stops itself (SIGSTOP) in its next append, for the tests of SPEC 12's
    /// dead-writer promise: as if it were descheduled, or killed, between its claim and its
    /// mark, or between its mark and its commit. Set at attach from `OE_TEST_STOP_PRODUCER`
    /// (`claim` or `mark`); the firmware never sets it.
    public enum TestStop {
        case none, afterClaim, afterMark

        public static var fromEnvironment: TestStop {
            guard let value = getenv("OE_TEST_STOP_PRODUCER") else { return .none }
            let text = String(cString: value)
            return text == "claim" ? .afterClaim : text == "mark" ? .afterMark : .none
        }
    }
    public var testStop = TestStop.none

    func stopForTest() {
        testStop = .none
        raise(SIGSTOP)
    }

    /// Marks the claimed frame at `position` as being written by `pid`. False when it cannot
    /// be used: the daemon padded it (this claim stayed unmarked past `abandonAfter`), or a
    /// frame of this lap is there already (a power cut took back the claim position: it is
    /// moved past what the ring holds first).
    func begin(_ position: UInt64, length: Int, pid: UInt32) -> Bool {
        let at = frame(position)
        let word = csystem_load64(at.assumingMemoryBound(to: UInt64.self))
        // A frame of this lap (its word and its position both say so; an earlier lap's bytes
        // can look like this lap's word by chance, never like its position too).
        if let existing = frameWord(at: position) {
            if Self.state(existing) != .padding { repairClaim() }
            return false
        }
        // A writer stopped past `abandonAfter` between its claim and here finds its claim padded
        // and its room perhaps given back and claimed again on a later lap: `word` may then be
        // a later producer's frame, which it must not mark. Room not given back when this check
        // runs was not given back when `word` was loaded either, so `word` is no later lap's.
        guard load(.free) <= position else { return false }
        guard csystem_cas64(at.assumingMemoryBound(to: UInt64.self), word,
                            stateWord(.writing, pid: pid, length: length, at: position)) == 1 else { return false }
        csystem_store64((at + 8).assumingMemoryBound(to: UInt64.self), position)
        // The daemon copies a frame and then checks its word and position: it sees these two
        // changed whenever its copy saw any of the bytes written next.
        csystem_release_fence()
        return true
    }

    enum Eviction { case madeRoom, writerBusy, notAllowed }
    /// How long a producer finding the oldest frame still being written yields to its writer
    /// before it gives up: a few of the scheduler's time slices.
    static let writerWait: Millis = 20

    /// With the intake full: makes room at the oldest frame when the policy allows it
    /// (`drop_oldest`).
    func evictOldest(before end: UInt64) -> Eviction {
        guard policy == .dropOldest else { return .notAllowed }
        let free = load(.free)
        guard free <= end && end - free > UInt64(capacity) else { return .madeRoom }
        let taken = load(.taken)
        if free < taken {
            // In the daemon's queue already: their room goes back, all of it at once, before
            // the daemon's spool sync would give it; the events are still delivered.
            _ = csystem_cas64(word64(.free), free, taken)
            return .madeRoom
        }
        guard let word = frameWord(at: free) else { return .writerBusy }
        let state = Self.state(word)
        guard state == .committed || state == .padding else { return .writerBusy }
        // Nothing a producer writes: the daemon skips it, producers leave it alone.
        guard isWhole(word, at: free) else { return .notAllowed }
        let after = free + UInt64(Self.length(word))
        let holds: UInt64 = state == .committed ? 1 : 0
        if free == taken {
            // Not taken yet: evicted, by moving `taken` past them. A step of frames at once
            // (the room needed, and at least 1/256 of the intake), so that the next emits find
            // room without an eviction each.
            let goal = max(end - UInt64(capacity), free + UInt64(capacity / 256))
            let (next, more) = wholeFrames(from: after, to: goal)
            let events = holds + more
            // Counted first, so that a daemon taking the count back never finds it missing.
            _ = csystem_add64(word64(.dropped), events)
            guard csystem_cas64(word64(.taken), free, next) == 1 else {
                _ = csystem_add64(word64(.dropped), 0 &- events)
                return .madeRoom
            }
            _ = csystem_cas64(word64(.free), free, next)
            return .madeRoom
        }
        // `taken` behind `free`: no daemon has run since producers evicted without it.
        guard !daemonRunning else { return .notAllowed }
        guard csystem_cas64(word64(.free), free, after) == 1 else { return .madeRoom }
        _ = csystem_add64(word64(.dropped), holds)
        return .madeRoom
    }

    /// From `position`, the whole committed or padding frames up to `goal` (or to the first
    /// of another kind, or to the claim position): where they end, and how many events they
    /// hold.
    func wholeFrames(from position: UInt64, to goal: UInt64) -> (end: UInt64, events: UInt64) {
        let claimed = claimPosition
        var at = position
        var events: UInt64 = 0
        while at < goal && at < claimed {
            guard let word = frameWord(at: at), isWhole(word, at: at) else { break }
            let state = Self.state(word)
            guard state == .committed || state == .padding else { break }
            if state == .committed { events += 1 }
            at += UInt64(Self.length(word))
        }
        return (at, events)
    }

    /// Whether the frame `word` at `position` fits where it is: a length a producer writes.
    @inline(__always) func isWhole(_ word: UInt64, at position: UInt64) -> Bool {
        let length = Self.length(word)
        return length >= Self.frameHeader && length % 16 == 0
            && position % UInt64(capacity) + UInt64(length) <= UInt64(capacity)
    }

    /// Wakes the daemon's intake thread.
    public func wakeDaemon() {
        _ = csystem_add32(word32(.wake), 1)
        csystem_futex_wake(word32(.wake))
    }

    // MARK: After a power cut

    /// Makes the claim pair agree with the ring: a power cut can bring back a header older than
    /// the frames the disk kept. The claim position moves past every frame of its lap, and the
    /// next number past theirs. Safe while producers claim (every change is a compare-and-swap
    /// that only moves forward).
    func repairClaim() {
        let capacity = UInt64(self.capacity)
        let free = load(.free)
        var position = free
        var end = free
        var newest: UInt64 = 0
        // Every frame of this lap, also past a hole the cut left.
        while position < free + capacity {
            guard let word = frameWord(at: position) else {
                position += 16
                continue
            }
            let length = Self.length(word)
            guard length >= Self.frameHeader, length % 16 == 0, position % capacity + UInt64(length) <= capacity else {
                position += 16
                continue
            }
            if Self.state(word) == .committed, let view = committedEvent(at: position, word: word) {
                newest = max(newest, view.seq)
            }
            position += UInt64(length)
            end = position
        }
        moveClaim(atLeast: end, sequence: newest + 1)
    }

    /// Moves the claim pair forward to at least `position` and `sequence`.
    func moveClaim(atLeast position: UInt64, sequence: UInt64) {
        let pair = word64(.claimPosition)
        while true {
            let current = csystem_load64(pair)
            let seq = csystem_load64(word64(.nextSequence))
            guard current < position || seq < sequence else { return }
            if csystem_cas_pair(pair, current, seq, max(current, position), max(seq, sequence)) == 1 { return }
        }
    }

    /// Continues numbering at the reservation (no number given before a power cut is given
    /// again), then reserves the next numbers and syncs the header before they are used.
    /// The daemon calls it at start, a producer when it attaches while no daemon runs.
    public func restartNumbering(atLeast floor: UInt64) -> Bool {
        repairClaim()
        moveClaim(atLeast: 0, sequence: max(load(.reserved), floor))
        return reserveAhead(force: true)
    }

    /// Moves the reservation ahead when numbering has come within half of it, and syncs the
    /// header; false when the disk refused.
    @discardableResult
    public func reserveAhead(force: Bool = false) -> Bool {
        let reserved = load(.reserved)
        let next = nextSequence
        guard force || next &+ SpoolHeader.reservation / 2 > reserved else { return true }
        let wanted = next &+ SpoolHeader.reservation
        if wanted > reserved { _ = csystem_cas64(word64(.reserved), reserved, wanted) }
        return msync(base, Self.statusOffset, MS_SYNC) == 0
    }

    /// Writes the whole intake to the disk (what producers acknowledged, and room given back).
    @discardableResult
    public func sync() -> Bool {
        msync(base, mappedSize, MS_SYNC) == 0
    }

    // MARK: Consuming (the daemon)

    /// What one `take` did.
    public struct Taken {
        /// Events handed to the daemon's queue.
        public var moved = 0
        /// Events skipped because the daemon's queue already had them.
        public var skipped = 0
        /// Frames that failed their checks (the file was changed by something else than a
        /// producer), skipped.
        public var damaged = 0
        /// Claims whose writer died, turned into padding now, each by its writer's pid: 0 for
        /// a claim never marked (its writer stopped or died before it wrote its pid).
        public var abandoned: [Int32] = []
        /// The daemon's queue was full (policy reject): the rest waits in the intake.
        public var full = false
        /// A frame is being written (or a claim not yet marked): look again soon.
        public var waiting = false
        /// Events left in the intake.
        public var left = false
        /// The lowest sequence number still in the intake after the take, or the next one to
        /// be given when it is empty (a flush's progress).
        public var oldest: UInt64 = 0
    }

    /// Where the daemon reads next.
    public var taken: UInt64 { load(.taken) }

    /// Hands at most `limit` committed events, in claim order, to `accept` (the daemon's
    /// queue), which returns false when its queue is full. Events numbered below `floor` are in
    /// the daemon's queue already (it stopped after storing them and before giving their room
    /// back) and are skipped, so no event is queued twice. Takes no lock: producers write on,
    /// and with `drop_oldest` may evict the oldest frames while they are read.
    ///
    /// Each frame is copied, checked against its word and position after the copy (a writer
    /// changes both before anything else), and queued from the copy; `taken` moves past the
    /// frames once, at the end (one store producers see, not one per frame). Frames a producer
    /// evicted meanwhile were counted dropped by it: the count of those the daemon queued
    /// anyway is taken back.
    public func take(limit: Int, floor: UInt64, now: Millis, _ accept: (EventView) -> Bool) -> Taken {
        var result = Taken()
        var start = load(.taken)
        var position = start
        kept.removeAll(keepingCapacity: true)
        while result.moved + result.skipped < limit {
            let claimed = claimPosition
            guard position < claimed else { break }
            guard let word = frameWord(at: position) else {
                // Claimed, not yet marked: a producer between its claim and its mark, or one
                // that died there. Or the frame was evicted and its room claimed again.
                if load(.taken) > position {
                    settle(from: &start, to: &position)
                    continue
                }
                if abandonUnmarked(position, claimed: claimed, now: now) {
                    result.abandoned.append(0)
                    continue
                }
                result.waiting = true
                break
            }
            guard isWhole(word, at: position) else {
                // Nothing a producer writes: skip to where the next claim can be.
                result.damaged += 1
                position = claimed
                continue
            }
            let length = Self.length(word)
            let next = position + UInt64(length)
            switch Self.state(word) {
            case .empty:
                result.damaged += 1
                position = claimed
            case .padding:
                position = next
            case .writing:
                let pid = Self.pid(word)
                guard csystem_process_gone(pid) == 1 else {
                    result.waiting = true
                    break
                }
                if pad(position, length: length, expected: word) {
                    _ = csystem_add64(word64(.abandoned), 1)
                    result.abandoned.append(pid)
                }
            case .committed:
                guard length <= Self.copyCapacity else {
                    result.damaged += 1
                    position = next
                    break
                }
                let copy = self.copy ?? UnsafeMutableRawPointer.allocate(byteCount: Self.copyCapacity, alignment: 16)
                self.copy = copy
                memcpy(copy, frame(position), length)
                csystem_acquire_fence()
                guard frameWord(at: position) == word else {
                    // Written over while it was copied: evicted (with the frames before it)
                    // and claimed again, unless something else than a producer changed it.
                    if load(.taken) > position {
                        settle(from: &start, to: &position)
                    } else {
                        result.damaged += 1
                        position = next
                    }
                    break
                }
                guard let view = event(in: copy + Self.frameHeader, length: length) else {
                    result.damaged += 1
                    position = next
                    break
                }
                if view.seq < floor {
                    result.skipped += 1
                } else if accept(view) {
                    result.moved += 1
                } else {
                    // The queue is full (`reject`): the frame waits.
                    result.full = true
                    break
                }
                lastTaken = view.seq
                kept.append(position)
                position = next
            }
            if result.waiting || result.full { break }
            stuck = nil
        }
        settle(from: &start, to: &position)
        result.left = position < claimPosition
        result.oldest = oldestWaiting(from: position)
        return result
    }

    /// Moves `taken` from `start` to `position`, past the frames this take went through. Where
    /// producers evicted some of them meanwhile (`taken` moved), it moves from where they
    /// reached, or not at all when they went further; and the count of the evicted frames the
    /// daemon has (`kept`) is taken back. Then `start` and `position` are where to go on.
    func settle(from start: inout UInt64, to position: inout UInt64) {
        // Where producers' evictions reached: `start` when there were none.
        var reached = load(.taken)
        while reached < position && csystem_cas64(word64(.taken), reached, position) != 1 {
            reached = load(.taken)
        }
        for at in kept where at < reached {
            // A producer evicted it and counted it dropped, but it is queued.
            _ = csystem_add64(word64(.dropped), UInt64.max)
        }
        kept.removeAll(keepingCapacity: true)
        position = max(position, reached)
        start = position
    }

    /// The event of a committed frame, if it passes its checks.
    func committedEvent(at position: UInt64, word: UInt64) -> EventView? {
        event(in: frame(position) + Self.frameHeader, length: Self.length(word))
    }

    /// The event of a committed frame of `length` whose record starts at `record`, if it
    /// passes its checks.
    func event(in record: UnsafeMutableRawPointer, length: Int) -> EventView? {
        let size = Int(UInt32(littleEndian: record.load(as: UInt32.self)))
        guard size >= EventRecord.headerSize, size <= length - Self.frameHeader else { return nil }
        let view = EventView(UnsafeRawBufferPointer(start: record, count: size))
        let body = UnsafeRawBufferPointer(start: record + 8, count: size - 8)
        guard view.storedChecksum == CRC32C.checksum(body, seed: seed), view.isWellFormed else { return nil }
        return view
    }

    /// A claim at `position` still unmarked after `abandonAfter`: its writer died between its
    /// claim and its mark. It becomes padding up to the next frame of this lap, the end of the
    /// ring, or what was claimed when it was first seen stuck: claims made since may be in the
    /// instant between their claim and their mark, and must not be covered. True when it was
    /// padded.
    func abandonUnmarked(_ position: UInt64, claimed: UInt64, now: Millis) -> Bool {
        guard let stuck, stuck.position == position else {
            self.stuck = (position, now, claimed)
            return false
        }
        guard now - stuck.since >= Self.abandonAfter else { return false }
        let capacity = UInt64(self.capacity)
        let ringEnd = position - position % capacity + capacity
        var next = position + 16
        while next < min(stuck.claimed, ringEnd) && frameWord(at: next) == nil { next += 16 }
        let expected = csystem_load64(frame(position).assumingMemoryBound(to: UInt64.self))
        guard frameWord(at: position) == nil,
              pad(position, length: Int(next - position), expected: expected) else { return false }
        _ = csystem_add64(word64(.abandoned), 1)
        self.stuck = nil
        return true
    }

    /// The number of the oldest event not yet taken, or the next one to be given when every
    /// claim is taken. A frame still being written (or a claim not yet marked) holds a number
    /// after the last one taken, not yet known: the answer is then that lower bound.
    func oldestWaiting(from position: UInt64) -> UInt64 {
        var at = position
        while at < claimPosition {
            guard let word = frameWord(at: at) else { return lastTaken &+ 1 }
            switch Self.state(word) {
            case .committed:
                if let view = committedEvent(at: at, word: word) { return view.seq }
                at += UInt64(Self.length(word))
            case .padding: at += UInt64(max(16, Self.length(word)))
            case .writing, .empty: return lastTaken &+ 1
            }
        }
        return nextSequence
    }

    /// Gives the room before `position` back to producers: the events there are durable in the
    /// daemon's spool.
    public func release(upTo position: UInt64) {
        while true {
            let free = load(.free)
            guard position > free else { return }
            if csystem_cas64(word64(.free), free, position) == 1 { return }
        }
    }

    /// Where the daemon starts reading: at the room not given back, so that whatever a power
    /// cut took from the spool is moved again (the numbers it kept are skipped by `floor`).
    public func resumeReading() {
        store(.taken, load(.free))
        stuck = nil
    }

    /// Publishes how far delivery has come, and wakes producers waiting in flush.
    public func publishDone(before seq: UInt64) {
        guard load(.doneBefore) != seq else { return }
        store(.doneBefore, seq)
        _ = csystem_add32(word32(.done), 1)
        csystem_futex_wake(word32(.done))
    }

    /// Whether a producer waits in flush (the daemon then publishes progress often).
    public var hasFlushWaiters: Bool { load32(.flushWaiters) != 0 }

    /// The daemon's wait for work: returns when a producer (or `wakeDaemon`) wakes it, or after
    /// `timeout`. The intake and `stop` are checked after the sleep is announced, so no wake-up
    /// is missed.
    public func sleep(timeout: Int32, unless stop: () -> Bool) {
        let seen = load32(.wake)
        store32(.sleeping, 1)
        if load(.taken) == claimPosition && !stop() {
            _ = csystem_futex_wait(word32(.wake), seen, timeout)
        }
        store32(.sleeping, 0)
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
        let target = nextSequence
        if doneBefore >= target { return true }
        _ = csystem_add32(word32(.flushWaiters), 1)
        defer { _ = csystem_add32(word32(.flushWaiters), UInt32.max) }
        wakeDaemon()
        while true {
            let seen = load32(.done)
            if doneBefore >= target { return true }
            let left = deadline - now()
            if left <= 0 { return false }
            _ = csystem_futex_wait(word32(.done), seen, Int32(min(left, 100)))
        }
    }

    // MARK: Status

    /// The daemon's side: the status document producers read.
    public func publishStatus(_ json: String) {
        var bytes = Array(json.utf8.prefix(Self.statusCapacity))
        let generation = load32(.statusGeneration)
        store32(.statusGeneration, generation | 1)
        bytes.withUnsafeMutableBytes {
            (base + Self.statusOffset).copyMemory(from: $0.baseAddress!, byteCount: $0.count)
        }
        store32(.statusLength, UInt32(bytes.count))
        store32(.statusGeneration, (generation | 1) &+ 1)
    }

    /// A producer's side: the daemon's latest status document, nil before a daemon published one.
    public func readStatus() -> String? {
        for _ in 0..<1000 {
            let before = load32(.statusGeneration)
            if before & 1 == 1 {
                sched_yield()
                continue
            }
            let length = min(Int(load32(.statusLength)), Self.statusCapacity)
            let text = String(decoding: UnsafeRawBufferPointer(start: base + Self.statusOffset, count: length),
                              as: UTF8.self)
            if load32(.statusGeneration) == before { return length == 0 ? nil : text }
        }
        return nil
    }
}
