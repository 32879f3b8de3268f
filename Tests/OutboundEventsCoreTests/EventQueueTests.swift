import CChecksum
import Testing
@testable import OutboundEventsCore

/// A queue over its own heap memory, with helpers that speak in event names.
final class QueueFixture {
    let memory: UnsafeMutableRawBufferPointer
    let headerMemory: UnsafeMutableRawBufferPointer
    let queue: EventQueue

    /// `spooled`: with a spool header (in memory here), so records are checksummed and
    /// positions stored.
    init(capacity: Int, policy: OverflowPolicy = .dropOldest, spooled: Bool = false) {
        memory = .allocate(byteCount: capacity, alignment: 8)
        memory.initializeMemory(as: UInt8.self, repeating: 0)
        headerMemory = .allocate(byteCount: SpoolHeader.size, alignment: 8)
        let header = SpoolHeader(headerMemory.baseAddress!)
        header.initialize(capacity: capacity, instance: 0x1234_5678_9ABC_DEF0, nextSeq: 1, created: 0)
        queue = EventQueue(memory: memory, policy: policy, header: spooled ? header : nil)
    }

    deinit {
        memory.deallocate()
        headerMemory.deallocate()
    }

    func activate(_ slot: Int) { queue.activate(slot, name: "r\(slot)") }

    @discardableResult
    func append(_ name: String, mask: UInt64, padding: Int = 0,
                timestamp: Int64 = 1_700_000_000) -> EventQueue.AppendResult {
        let bytes = Array(name.utf8)
        return StringFields([("lsid", name), ("pad", String(repeating: "p", count: padding))]).withFields { variables in
            let size = EventRecord.size(nameLength: bytes.count, variables: variables, customFields: .none)!
            return bytes.withUnsafeBytes {
                queue.append(size: size, mask: mask, timestamp: timestamp, name: $0,
                             variables: variables, customFields: .none)
            }
        }
    }

    /// Delivers (or fails) the head of line of `slot`; returns the event name.
    @discardableResult
    func deliver(_ slot: Int, _ outcome: EventQueue.Outcome = .delivered) -> String? {
        guard let view = queue.beginDelivery(slot) else { return nil }
        let name = view.nameString
        queue.finishDelivery(slot, outcome)
        return name
    }

    func drain(_ slot: Int) -> [String] {
        var names: [String] = []
        while let name = deliver(slot) { names.append(name) }
        return names
    }
}

@Suite("The bounded ring queue")
struct EventQueueTests {
    @Test("each recipient gets its events in emit order")
    func order() {
        let f = QueueFixture(capacity: 64 * 1024)
        f.activate(0)
        f.activate(1)
        for i in 0..<20 { f.append("e\(i)", mask: 0b11) }
        #expect(f.drain(0) == (0..<20).map { "e\($0)" })
        #expect(f.drain(1) == (0..<20).map { "e\($0)" })
        #expect(f.queue.count == 0 && f.queue.usedBytes == 0)
    }

    @Test("an event wanted by many recipients is stored once")
    func storedOnce() {
        let f = QueueFixture(capacity: 64 * 1024)
        for slot in 0..<64 { f.activate(slot) }
        f.append("shared", mask: .max)
        let single = f.queue.usedBytes
        #expect(f.queue.count == 1)
        #expect(single < 128)
        for slot in 0..<64 { #expect(f.queue.slot(slot).queued == 1) }
    }

    @Test("a failed delivery keeps the event at the head of line")
    func failureBlocks() {
        let f = QueueFixture(capacity: 64 * 1024)
        f.activate(0)
        f.append("first", mask: 1)
        f.append("second", mask: 1)
        #expect(f.deliver(0, .failed) == "first")
        #expect(f.deliver(0, .failed) == "first")
        #expect(f.deliver(0, .expired) == "first")
        #expect(f.drain(0) == ["second"])
    }

    @Test("recipients see only the events their mask selects, and move independently")
    func masks() {
        let f = QueueFixture(capacity: 64 * 1024)
        f.activate(0)
        f.activate(5)
        f.append("a", mask: 0b1)
        f.append("b", mask: 0b100000)
        f.append("c", mask: 0b100001)
        #expect(f.drain(5) == ["b", "c"])
        #expect(f.queue.count == 3)
        #expect(f.drain(0) == ["a", "c"])
        #expect(f.queue.count == 0)
    }

    @Test("space is reclaimed as soon as no recipient needs the oldest event")
    func reclaim() {
        let f = QueueFixture(capacity: 64 * 1024)
        f.activate(0)
        f.activate(1)
        f.append("a", mask: 0b11)
        f.append("b", mask: 0b11)
        f.deliver(0)
        #expect(f.queue.count == 2)
        f.deliver(1)
        #expect(f.queue.count == 1)
    }

    @Test("the ring wraps around and keeps order across the wrap")
    func wrap() {
        let f = QueueFixture(capacity: 4096)
        f.activate(0)
        var expected: [String] = []
        var delivered: [String] = []
        for i in 0..<500 {
            f.append("e\(i)", mask: 1, padding: i % 97)
            expected.append("e\(i)")
            if i % 3 == 2 { delivered += f.drain(0) }
        }
        delivered += f.drain(0)
        #expect(delivered == expected)
        #expect(f.queue.droppedOverflow == 0)
    }

    @Test("drop_oldest evicts the oldest events, counted per recipient that still needed them")
    func dropOldest() {
        let f = QueueFixture(capacity: 4096)
        f.activate(0)
        f.activate(1)
        for i in 0..<200 { f.append("e\(i)", mask: 0b11, padding: 40) }
        let kept = f.queue.count
        #expect(kept < 200 && kept > 20)
        #expect(f.queue.slot(0).droppedOverflow == UInt64(200 - kept))
        #expect(f.queue.slot(1).droppedOverflow == UInt64(200 - kept))
        #expect(f.queue.droppedOverflow == UInt64(200 - kept))
        #expect(f.queue.usedBytes <= 4096)
        #expect(f.drain(0) == ((200 - kept)..<200).map { "e\($0)" })
    }

    @Test("reject refuses the new event and keeps the old ones")
    func reject() {
        let f = QueueFixture(capacity: 4096, policy: .reject)
        f.activate(0)
        var refused = 0
        for i in 0..<200 where f.append("e\(i)", mask: 1, padding: 40) == .full { refused += 1 }
        #expect(refused > 0)
        #expect(f.queue.droppedOverflow == UInt64(refused))
        #expect(f.drain(0) == (0..<(200 - refused)).map { "e\($0)" })
    }

    @Test("an event evicted while in flight is delivered once or counted as an overflow drop")
    func evictedInFlight() {
        let f = QueueFixture(capacity: 4096)
        f.activate(0)
        f.append("head", mask: 1, padding: 40)
        let view = f.queue.beginDelivery(0)
        #expect(view?.nameString == "head")
        for i in 0..<100 { f.append("e\(i)", mask: 1, padding: 40) }
        #expect(f.queue.finishDelivery(0, .failed) == .evicted)
        let droppedAfterFailure = f.queue.slot(0).droppedOverflow
        #expect(droppedAfterFailure == f.queue.droppedOverflow)
        #expect(f.deliver(0) != "head")
    }

    @Test("deactivating a slot discards its events and frees their space")
    func deactivate() {
        let f = QueueFixture(capacity: 64 * 1024)
        f.activate(0)
        f.activate(1)
        for i in 0..<10 { f.append("e\(i)", mask: 0b11) }
        #expect(f.queue.deactivate(1) == 10)
        _ = f.drain(0)
        #expect(f.queue.count == 0)
    }

    @Test("a slot activated later sees only events appended after")
    func lateActivation() {
        let f = QueueFixture(capacity: 64 * 1024)
        f.activate(0)
        f.append("old", mask: 0b11)
        f.activate(1)
        f.append("new", mask: 0b11)
        #expect(f.drain(1) == ["new"])
        #expect(f.drain(0) == ["old", "new"])
    }

    @Test("records are checksummed with CRC-32C when the queue is spooled")
    func checksums() {
        let f = QueueFixture(capacity: 4096, spooled: true)
        f.activate(0)
        f.append("sum", mask: 1)
        f.queue.forEachRecord { _, view in
            let computed = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: view.bytes[8..<view.length]),
                                           seed: SpoolHeader.checksumSeed(0x1234_5678_9ABC_DEF0))
            #expect(view.storedChecksum == computed)
            #expect(view.isWellFormed)
        }
    }

    @Test("CRC-32C matches the standard check value")
    func crcCheckValue() {
        let bytes = Array("123456789".utf8)
        #expect(bytes.withUnsafeBytes { CRC32C.checksum($0) } == 0xE306_9283)
        #expect(bytes.withUnsafeBytes { cchecksum_crc32c_tables($0.baseAddress, $0.count, 0) } == 0xE306_9283)
    }

    @Test("the processor's crc32 instruction and the tables agree on every length, seed and alignment")
    func crcInstructionAndTables() {
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &random) }
        bytes.withUnsafeBytes { all in
            for _ in 0..<2000 {
                let start = Int.random(in: 0..<64, using: &random)
                let count = Int.random(in: 0...(all.count - start), using: &random)
                let seed = UInt32.random(in: 0...UInt32.max, using: &random)
                let slice = UnsafeRawBufferPointer(rebasing: all[start..<(start + count)])
                let tables = cchecksum_crc32c_tables(slice.baseAddress, slice.count, seed)
                #expect(CRC32C.checksum(slice, seed: seed) == tables, "\(count) bytes from \(start), seed \(seed)")
            }
        }
        #if arch(x86_64)
        #expect(cchecksum_crc32c_hardware() == 1, "x86-64 machines with SSE4.2 use the instruction")
        #endif
    }

    @Test("a key given twice is found whatever the keys, as a comparison of every pair finds it")
    func repeatedKeys() {
        // Keys that share length, first and last bytes (customer, computer), short keys, keys
        // of up to 20 bytes over a small alphabet: many collide in the filter.
        var state: UInt64 = 0x5EED
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        for _ in 0..<3000 {
            let count = Int(next() % 12)
            let keys = (0..<count).map { _ in
                String((0..<Int(next() % 20)).map { _ in
                    ["c", "o", "m", "p", "u", "t", "e", "r", "s"][Int(next() % 9)]
                })
            }
            var expected: Int?
            for i in keys.indices where expected == nil && keys[..<i].contains(keys[i]) { expected = i }
            let found = StringFields(keys.map { ($0, "") }).withFields { $0.repeatedKey() }
            #expect(found == expected, "\(keys)")
        }
        let fields = StringFields([("customer", "a"), ("computer", "b"), ("customer", "c")])
        let found = fields.withFields { $0.repeatedKey() }
        #expect(found == 2)
    }

    @Test("the record limit is min(64 KiB, capacity / 4)")
    func recordLimit() {
        #expect(EventQueue.maximumEventSize(capacity: 4 << 20) == 65536)
        #expect(EventQueue.maximumEventSize(capacity: 4096) == 1024)
    }
}
