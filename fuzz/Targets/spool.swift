// Fuzz target: the spool, from the writer's side to recovery. The input is a program of queue
// operations (append, deliver, enable or disable a slot, scribble over a byte of the file; the
// scribbles land after the writer is done, as damage to a file at rest does); then the file is
// recovered as a restarted agent would. Whatever the program, recovery
// returns without reading outside the file, and when nothing was scribbled each slot gets back
// exactly the events it still had pending, in order.
import OutboundEventsCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let capacity = 4096
    let file = UnsafeMutableRawBufferPointer.allocate(byteCount: SpoolHeader.size + capacity, alignment: 8)
    defer { file.deallocate() }
    file.initializeMemory(as: UInt8.self, repeating: 0)
    let header = SpoolHeader(file.baseAddress!)
    header.initialize(capacity: capacity, instance: 0x5EED_F00D, nextSeq: 1, created: 0)
    let ring = UnsafeMutableRawBufferPointer(start: file.baseAddress! + SpoolHeader.size, count: capacity)
    let queue = EventQueue(memory: ring, policy: .dropOldest, header: header)
    for slot in 0..<4 { queue.activate(slot, name: "r\(slot)") }

    var input = UnsafeBufferPointer(start: data, count: size).makeIterator()
    var scribbles: [(position: Int, mask: UInt8)] = []
    var padding = ""
    while let op = input.next() {
        let argument = Int(input.next() ?? 0)
        switch op % 5 {
        case 0, 1:
            padding = String(repeating: "p", count: argument * 2)
            let mask = UInt64(op >> 4) | 1
            let name = Array("support_conference_begin".utf8)
            StringFields([("pad", padding)]).withFields { variables in
                let size = EventRecord.size(nameLength: name.count, variables: variables, customFields: .none)!
                guard size <= EventQueue.maximumEventSize(capacity: capacity) else { return }
                _ = name.withUnsafeBytes {
                    queue.append(size: size, mask: mask, timestamp: 1, name: $0, variables: variables, customFields: .none)
                }
            }
        case 2:
            let slot = argument % 4
            if queue.beginDelivery(slot) != nil { queue.finishDelivery(slot, argument & 4 == 0 ? .delivered : .failed) }
        case 3:
            let slot = argument % 4
            if queue.slot(slot).active { queue.deactivate(slot) } else { queue.activate(slot, name: "r\(slot)") }
        default:
            scribbles.append(((argument << 8 | Int(input.next() ?? 0)) % capacity, input.next() ?? 0xFF))
        }
    }
    var pending: [[UInt64]] = Array(repeating: [], count: 4)
    for slot in 0..<4 where queue.slot(slot).active {
        queue.forEachRecord { _, view in
            if let head = queue.slot(slot).headSeq, view.seq >= head, view.mask & (1 << UInt64(slot)) != 0 {
                pending[slot].append(view.seq)
            }
        }
    }

    for scribble in scribbles { ring[scribble.position] ^= scribble.mask }
    let scribbled = scribbles.contains { $0.mask != 0 }

    // Recovery, as SpoolFile does it: in place, or copied into a fresh ring.
    let recovery = SpoolRecovery(ring: UnsafeRawBufferPointer(ring), header: header, slots: EventQueue.maxSlots)
    let fresh = UnsafeMutableRawBufferPointer.allocate(byteCount: SpoolHeader.size + capacity, alignment: 8)
    defer { fresh.deallocate() }
    let recovered: EventQueue
    if recovery.inPlace {
        recovered = EventQueue(memory: ring, policy: .dropOldest, header: header)
        recovered.adopt(recovery)
    } else {
        fresh.initializeMemory(as: UInt8.self, repeating: 0)
        let freshHeader = SpoolHeader(fresh.baseAddress!)
        freshHeader.initialize(capacity: capacity, instance: header.instance, nextSeq: header.nextSeq, created: 0)
        for slot in 0..<EventQueue.maxSlots {
            if let name = header.name(slot) { freshHeader.activate(slot, name: name, needFrom: header.needFrom(slot)) }
        }
        recovered = EventQueue(memory: UnsafeMutableRawBufferPointer(start: fresh.baseAddress! + SpoolHeader.size, count: capacity),
                               policy: .dropOldest, header: freshHeader)
        for record in recovery.records {
            _ = recovered.restore(EventView(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(ring)[record.offset..<(record.offset + record.length)])))
        }
    }
    for (slot, _, _) in recovered.resumeStoredSlots() {
        var delivered: [UInt64] = []
        while let event = recovered.beginDelivery(slot), delivered.count < 10_000 {
            delivered.append(event.seq)
            event.forEachField { _, _, _ in }
            recovered.finishDelivery(slot, .delivered)
        }
        if !scribbled && slot < 4 {
            precondition(delivered == pending[slot], "slot \(slot): recovered \(delivered), pending were \(pending[slot])")
        }
    }
    return 0
}
