import CSystemd
import CSystem
import OutboundEventsCore
import Locking

/// Writes entries to journald with `sd_journal_sendv`: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER,
/// MESSAGE_ID, CODE_FILE/LINE/FUNC and the entry's `OE_*` fields.
public final class JournalSink: LogSink {
    let identifier: String

    public init(identifier: String) { self.identifier = identifier }

    public func write(_ entry: LogEntry) {
        var lines = [
            "MESSAGE=" + entry.message,
            "PRIORITY=\(entry.priority.rawValue)",
            "SYSLOG_IDENTIFIER=" + identifier,
            "CODE_FILE=" + entry.file,
            "CODE_LINE=\(entry.line)",
            "CODE_FUNC=" + entry.function,
        ]
        if let id = entry.messageID { lines.append("MESSAGE_ID=" + id.rawValue) }
        for field in entry.fields { lines.append(field.name + "=" + field.value) }
        // One buffer holds every field; the vectors point into it.
        var buffer: [UInt8] = []
        var ranges: [Range<Int>] = []
        for line in lines {
            let start = buffer.count
            buffer.append(contentsOf: line.utf8)
            ranges.append(start..<buffer.count)
        }
        buffer.withUnsafeMutableBytes { bytes in
            let vectors = ranges.map { iovec(iov_base: bytes.baseAddress! + $0.lowerBound, iov_len: $0.count) }
            _ = sd_journal_sendv(vectors, Int32(vectors.count))
        }
    }
}

/// The same content as one readable line per entry on standard error, for development.
public final class StderrSink: LogSink {
    let identifier: String
    let lock = Locked(())

    public init(identifier: String) { self.identifier = identifier }

    public func write(_ entry: LogEntry) {
        let level = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"][entry.priority.rawValue]
        var line = "\(identifier)[\(getpid())] \(level): \(entry.message)"
        let fields = entry.fields.map { "\($0.name)=\($0.value)" }
        if !fields.isEmpty { line += " [" + fields.joined(separator: " ") + "]" }
        line += "\n"
        // One write(2) per line, under a lock, so lines from several threads never interleave.
        var bytes = Array(line.utf8)
        lock.withLock { _ in
            bytes.withUnsafeMutableBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = CSystem.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                    if written <= 0 { if written < 0 && csystem_errno() == EINTR { continue } else { return } }
                    offset += written
                }
            }
        }
    }
}

/// Discards everything (`log.destination = none`).
public final class NullSink: LogSink {
    public init() {}
    public func write(_ entry: LogEntry) {}
}
