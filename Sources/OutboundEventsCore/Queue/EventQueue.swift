/// The bounded queue: one ring of bytes of a fixed capacity holding every queued event once,
/// whatever the number of recipients that want it, and one cursor per recipient slot.
///
/// A record carries a bit mask of the slots that wanted it when it was emitted. A slot's cursor
/// points at the oldest record it still has to deliver (its head of line) or is caught up.
/// Space is reclaimed from the ring's tail as soon as no active slot needs the oldest record.
/// When an event does not fit, the overflow policy either evicts the oldest records (counting
/// the loss for each slot that still needed them) or refuses the new one.
///
/// Not thread-safe: the agent calls it with its lock held. The memory is the caller's (heap for
/// a memory-only queue, a mapped file for a spool), so the queue itself performs no I/O. With a
/// spool header, every record is checksummed and every change of a slot's position is stored
/// in the header as it happens: plain memory stores into the mapped file, which outlive a
/// killed process.
public final class EventQueue {
    public static let maxSlots = 64

    public struct Slot {
        public internal(set) var active = false
        /// Sequence number and ring offset of the head-of-line record; offset -1: caught up.
        var cursorSeq: UInt64 = 0
        var cursorOffset = -1
        public internal(set) var queued = 0
        public internal(set) var droppedOverflow: UInt64 = 0
        var inFlightSeq: UInt64?
        var inFlightEvicted = false

        public var hasPending: Bool { cursorOffset >= 0 || inFlightSeq != nil }
        public var headSeq: UInt64? { cursorOffset >= 0 ? cursorSeq : nil }
    }

    public enum AppendResult: Equatable {
        case queued(seq: UInt64)
        /// Refused: the queue is full and the policy is `reject`.
        case full
    }

    /// How an in-flight delivery ended, as far as the queue is concerned.
    public enum Outcome: Sendable { case delivered, failed, expired }

    /// What became of the in-flight record when its delivery finished.
    public enum Finish: Equatable {
        /// The record left the slot's queue (delivered or expired).
        case removed
        /// The record stays at the head of line, to be retried.
        case retained
        /// The ring evicted the record while it was in flight; the slot moved on already. A
        /// failed delivery of it is counted as an overflow drop.
        case evicted
    }

    let base: UnsafeMutableRawPointer
    /// Bytes usable for records: the capacity rounded down to the record alignment.
    public let usable: Int
    /// The spool's header, where positions are kept; nil for a memory-only queue.
    public let header: SpoolHeader?
    let checksumSeed: UInt32?
    public var policy: OverflowPolicy
    /// Per-slot state, outside an `Array`: `oe_emit` books a record without bounds or
    /// uniqueness checks. Read from outside through `slot(_:)`.
    let slots: UnsafeMutablePointer<Slot>
    public private(set) var activeMask: UInt64 = 0

    var tail = 0
    var head = 0
    public private(set) var count = 0
    public private(set) var nextSeq: UInt64
    /// The sequence number of the newest record in the ring: walking stops there.
    var newestSeq: UInt64 = 0
    /// Numbering restarted (`restartNumbering`): the next record says the numbers before it
    /// were skipped, not lost.
    var gapBeforeNext = false
    /// Events evicted or refused for lack of room, each counted once.
    public private(set) var droppedOverflow: UInt64 = 0

    /// A queue over `memory`. With a spool `header`, records are checksummed and positions are
    /// stored there; sequence numbers continue from the header's.
    public init(memory: UnsafeMutableRawBufferPointer, policy: OverflowPolicy, header: SpoolHeader? = nil) {
        base = memory.baseAddress!
        usable = memory.count & ~7
        self.policy = policy
        self.header = header
        checksumSeed = header.map { SpoolHeader.checksumSeed($0.instance) }
        nextSeq = max(header?.nextSeq ?? 1, 1)
        slots = .allocate(capacity: Self.maxSlots)
        slots.initialize(repeating: Slot(), count: Self.maxSlots)
    }

    deinit {
        slots.deinitialize(count: Self.maxSlots)
        slots.deallocate()
    }

    /// The state of slot `index` (0 to `maxSlots` - 1).
    public func slot(_ index: Int) -> Slot {
        precondition(index >= 0 && index < Self.maxSlots)
        return slots[index]
    }

    /// The largest record the queue takes: min(64 KiB, capacity / 4) (SPEC section 3).
    public static func maximumEventSize(capacity: Int) -> Int {
        min(EventRecord.maximumSize, capacity / 4)
    }

    public var usedBytes: Int {
        if count == 0 { return 0 }
        return head > tail ? head - tail : usable - tail + head
    }

    // MARK: Slots

    /// Starts a slot caught up: it sees only events appended from now on. `name` is what a
    /// restarted agent matches the slot's stored position by.
    public func activate(_ slot: Int, name: String, keepCounters: Bool = false) {
        let dropped = keepCounters ? slots[slot].droppedOverflow : 0
        slots[slot] = Slot()
        slots[slot].active = true
        slots[slot].droppedOverflow = dropped
        activeMask |= 1 << UInt64(slot)
        header?.activate(slot, name: name, needFrom: nextSeq)
    }

    /// Stops a slot and discards its pending events; returns how many.
    @discardableResult
    public func deactivate(_ slot: Int) -> Int {
        let discarded = slots[slot].queued
        let dropped = slots[slot].droppedOverflow
        slots[slot] = Slot()
        slots[slot].droppedOverflow = dropped
        activeMask &= ~(1 << UInt64(slot))
        header?.deactivate(slot)
        reclaim()
        return discarded
    }

    // MARK: Appending

    /// Stores an event for the slots in `mask` (inactive slots are ignored). `size` is from
    /// `EventRecord.size` and must not exceed `maximumEventSize`. `mask` must not be empty.
    public func append(
        size: Int, mask: UInt64, timestamp: Int64, name: UnsafeRawBufferPointer,
        variables: Fields, customFields: Fields
    ) -> AppendResult {
        let wanted = mask & activeMask
        let stride = EventRecord.aligned(size)
        guard let at = room(stride, for: wanted) else { return .full }
        let seq = nextSeq
        EventRecord.write(at: base + at, size: size, seq: seq, mask: wanted, timestamp: timestamp,
                          name: name, variables: variables, customFields: customFields,
                          checksumSeed: checksumSeed)
        if gapBeforeNext {
            gapBeforeNext = false
            markGap(base + at, size: size)
        }
        book(at: at, stride: stride, seq: seq, for: wanted)
        return .queued(seq: seq)
    }

    /// Where a record of `stride` bytes goes, after evicting the oldest records if the policy
    /// says so; nil (the refusal counted for `wanted`) when it cannot go anywhere.
    @inline(__always)
    func room(_ stride: Int, for wanted: UInt64) -> Int? {
        var offset = reserve(stride)
        if offset == nil {
            // Records nobody needs any more (wanted by no recipient) make room first.
            reclaim()
            offset = reserve(stride)
        }
        while offset == nil {
            guard policy == .dropOldest, count > 0 else {
                droppedOverflow += 1
                forEachSlot(in: wanted) { slots[$0].droppedOverflow += 1 }
                return nil
            }
            evictOldest()
            offset = reserve(stride)
        }
        markWrap(to: offset!)
        return offset
    }

    /// Books a record just written at `at` for the slots in `wanted`.
    @inline(__always)
    func book(at: Int, stride: Int, seq: UInt64, for wanted: UInt64) {
        placed(at: at, stride: stride, seq: seq)
        forEachSlot(in: wanted) { slot in
            slots[slot].queued += 1
            if slots[slot].cursorOffset < 0 {
                slots[slot].cursorSeq = seq
                slots[slot].cursorOffset = at
            }
        }
    }

    /// Stores a copy of an event already numbered elsewhere (appliance mode: a producer wrote it
    /// into the daemon's intake), for the slots in `mask`. It keeps its sequence number, which
    /// must be `nextSeq` or later, and its time, so its id is the one it was given there. An
    /// event no recipient wants is stored too (with an empty mask, freed as soon as the tail
    /// reaches it): sequence numbers stay consecutive, which recovery counts losses by.
    public func append(copying record: EventView, mask: UInt64) -> AppendResult {
        let wanted = mask & activeMask
        let size = record.length
        let stride = EventRecord.aligned(size)
        guard let at = room(stride, for: wanted) else { return .full }
        (base + at).copyMemory(from: record.bytes.baseAddress!, byteCount: size)
        (base + at).storeBytes(of: wanted.littleEndian, toByteOffset: 16, as: UInt64.self)
        // Numbers a producer's claim took and never used, or skipped when the intake's
        // numbering restarted: not events lost.
        let flags: UInt16 = record.seq != nextSeq || gapBeforeNext ? EventRecord.gapBefore : 0
        gapBeforeNext = false
        (base + at).storeBytes(of: flags.littleEndian, toByteOffset: 38, as: UInt16.self)
        EventRecord.seal(base + at, size: size, seed: checksumSeed)
        book(at: at, stride: stride, seq: record.seq, for: wanted)
        if wanted == 0 { reclaim() }
        return .queued(seq: record.seq)
    }

    /// Continues numbering at `seq` (the reservation, after an unclean stop took back the last
    /// numbers given): the next record is flagged so recovery does not count the skipped
    /// numbers as lost events.
    public func restartNumbering(at seq: UInt64) {
        guard seq > nextSeq else { return }
        nextSeq = seq
        gapBeforeNext = true
        header?.nextSeq = seq
    }

    func markGap(_ record: UnsafeMutableRawPointer, size: Int) {
        record.storeBytes(of: EventRecord.gapBefore.littleEndian, toByteOffset: 38, as: UInt16.self)
        EventRecord.seal(record, size: size, seed: checksumSeed)
    }

    /// A record going to the ring's start leaves a marker where the newest one ends, so walks
    /// know to wrap there.
    func markWrap(to at: Int) {
        if at == 0 && count > 0 && head < usable {
            base.storeBytes(of: EventRecord.wrapMarker, toByteOffset: head, as: UInt32.self)
        }
    }

    /// Books a record just written at `at`: the ring's head moves past it, and the spool
    /// learns the next sequence number only now, after the record is complete.
    func placed(at: Int, stride: Int, seq: UInt64) {
        if count == 0 { tail = at }
        nextSeq = max(nextSeq, seq + 1)
        newestSeq = seq
        head = at + stride
        count += 1
        header?.nextSeq = nextSeq
    }

    /// Copies a recovered record into this (fresh) ring, keeping its sequence number, mask and
    /// time, so the event keeps its id. Used when a damaged or resized spool is rebuilt.
    public func restore(_ record: EventView) -> Bool {
        let size = record.length
        let stride = EventRecord.aligned(size)
        guard let at = reserve(stride) else { return false }
        markWrap(to: at)
        (base + at).copyMemory(from: record.bytes.baseAddress!, byteCount: size)
        EventRecord.seal(base + at, size: size, seed: checksumSeed)
        placed(at: at, stride: stride, seq: record.seq)
        return true
    }

    /// Takes over the records recovery found in place in this ring's memory.
    public func adopt(_ recovery: SpoolRecovery) {
        guard let first = recovery.records.first, let last = recovery.records.last else { return }
        tail = first.offset
        head = last.offset + EventRecord.aligned(last.length)
        count = recovery.records.count
        newestSeq = last.seq
        nextSeq = max(nextSeq, last.seq + 1)
        header?.nextSeq = nextSeq
    }

    /// Gives each slot stored in the header its position back, after `adopt` or `restore`:
    /// the cursor goes to the first record it still needs. Returns each resumed slot with its
    /// name and the number of events it has pending.
    public func resumeStoredSlots() -> [(slot: Int, name: String, queued: Int)] {
        guard let header else { return [] }
        var resumed: [(slot: Int, name: String, queued: Int)] = []
        for slot in 0..<Self.maxSlots {
            guard let name = header.name(slot) else { continue }
            let needFrom = header.needFrom(slot)
            let bit: UInt64 = 1 << UInt64(slot)
            slots[slot] = Slot()
            slots[slot].active = true
            activeMask |= bit
            forEachRecord { offset, view in
                guard view.seq >= needFrom, view.mask & bit != 0 else { return }
                if slots[slot].cursorOffset < 0 {
                    slots[slot].cursorSeq = view.seq
                    slots[slot].cursorOffset = offset
                }
                slots[slot].queued += 1
            }
            header.setNeedFrom(slot, self.needFrom(slot))
            resumed.append((slot, name, slots[slot].queued))
        }
        reclaim()
        return resumed
    }

    /// The oldest sequence number the slot still needs.
    func needFrom(_ slot: Int) -> UInt64 {
        slots[slot].cursorOffset >= 0 ? slots[slot].cursorSeq : nextSeq
    }

    /// Where a record of `stride` bytes fits, or nil.
    func reserve(_ stride: Int) -> Int? {
        if count == 0 {
            tail = 0
            head = 0
            return stride <= usable ? 0 : nil
        }
        if head > tail {
            if stride <= usable - head { return head }
            return stride <= tail ? 0 : nil
        }
        if head < tail { return stride <= tail - head ? head : nil }
        return nil
    }

    func evictOldest() {
        let view = event(at: tail)
        let seq = view.seq
        var lostBySomeone = false
        forEachSlot(in: view.mask & activeMask) { slot in
            guard slots[slot].cursorOffset >= 0, slots[slot].cursorSeq == seq else { return }
            lostBySomeone = true
            slots[slot].queued -= 1
            if slots[slot].inFlightSeq == seq {
                slots[slot].inFlightEvicted = true
            } else {
                slots[slot].droppedOverflow += 1
            }
            advance(slot)
        }
        if lostBySomeone { droppedOverflow += 1 }
        popTail()
    }

    func popTail() {
        if count == 1 {
            count = 0
            tail = 0
            head = 0
            return
        }
        let view = event(at: tail)
        tail = following(offset: tail, seq: view.seq, length: view.length)!
        count -= 1
    }

    // MARK: Delivering

    /// The slot's head-of-line event, marked in flight. Nil when the slot has nothing pending.
    public func beginDelivery(_ slot: Int) -> EventView? {
        guard slots[slot].cursorOffset >= 0 else { return nil }
        slots[slot].inFlightSeq = slots[slot].cursorSeq
        slots[slot].inFlightEvicted = false
        return event(at: slots[slot].cursorOffset)
    }

    /// Ends the slot's in-flight delivery.
    @discardableResult
    public func finishDelivery(_ slot: Int, _ outcome: Outcome) -> Finish {
        guard slots[slot].inFlightSeq != nil else { return .retained }
        slots[slot].inFlightSeq = nil
        if slots[slot].inFlightEvicted {
            slots[slot].inFlightEvicted = false
            if outcome != .delivered {
                slots[slot].droppedOverflow += 1
            }
            return .evicted
        }
        guard outcome != .failed else { return .retained }
        slots[slot].queued -= 1
        advance(slot)
        reclaim()
        return .removed
    }

    /// Whether the ring evicted the slot's in-flight record for room while it was in flight.
    public func isInFlightEvicted(_ slot: Int) -> Bool {
        slots[slot].inFlightEvicted
    }

    /// Forgets an in-flight delivery without a result (the transfer was cancelled): the event
    /// stays at the head of line.
    public func cancelDelivery(_ slot: Int) {
        if slots[slot].inFlightEvicted { slots[slot].droppedOverflow += 1 }
        slots[slot].inFlightSeq = nil
        slots[slot].inFlightEvicted = false
    }

    // MARK: Walking the ring

    public func event(at offset: Int) -> EventView {
        let length = Int(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        return EventView(UnsafeRawBufferPointer(start: base + offset, count: length))
    }

    /// The offset of the record after the one at `offset`, or nil if it was the newest.
    func following(offset: Int, seq: UInt64, length: Int) -> Int? {
        guard count > 0, seq != newestSeq else { return nil }
        let next = offset + EventRecord.aligned(length)
        if next >= usable { return 0 }
        let marker = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: next, as: UInt32.self))
        return marker == EventRecord.wrapMarker ? 0 : next
    }

    /// Moves the slot's cursor to its next wanted record, or marks it caught up.
    func advance(_ slot: Int) {
        let bit: UInt64 = 1 << UInt64(slot)
        var offset = slots[slot].cursorOffset
        var view = event(at: offset)
        while let next = following(offset: offset, seq: view.seq, length: view.length) {
            offset = next
            view = event(at: offset)
            if view.mask & bit != 0 {
                slots[slot].cursorSeq = view.seq
                slots[slot].cursorOffset = offset
                header?.setNeedFrom(slot, view.seq)
                return
            }
        }
        slots[slot].cursorOffset = -1
        header?.setNeedFrom(slot, nextSeq)
    }

    /// Frees records at the tail that no active slot still needs.
    func reclaim() {
        while count > 0 {
            let view = event(at: tail)
            let seq = view.seq
            var needed = false
            forEachSlot(in: view.mask & activeMask) { slot in
                if slots[slot].cursorOffset >= 0 && slots[slot].cursorSeq <= seq { needed = true }
            }
            if needed { return }
            popTail()
        }
    }

    /// Calls `body` with every slot number whose bit is set in `mask`, lowest first.
    func forEachSlot(in mask: UInt64, _ body: (Int) -> Void) {
        var remaining = mask
        while remaining != 0 {
            body(remaining.trailingZeroBitCount)
            remaining &= remaining - 1
        }
    }

    /// Every record in the ring, oldest first, for diagnostics and tests.
    public func forEachRecord(_ body: (Int, EventView) -> Void) {
        guard count > 0 else { return }
        var offset = tail
        while true {
            let view = event(at: offset)
            body(offset, view)
            guard let next = following(offset: offset, seq: view.seq, length: view.length) else { return }
            offset = next
        }
    }
}
