import CSystem
import OutboundEventsCore
import Spool

/// The few file operations the agent needs, with errors that name the path and the reason.
enum Files {
    /// Reads a whole text file (a firmware profile, a settings file): at most 1 MiB.
    static func readText(_ path: String, key: String) throws(ConfigError) -> String {
        let fd = csystem_open(path, O_RDONLY | O_CLOEXEC, 0)
        guard fd >= 0 else {
            let reason = errorText()
            throw ConfigError(.io, "\(key): cannot open \(path): \(reason)")
        }
        defer { CSystem.close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if csystem_errno() == EINTR { continue }
                let reason = errorText()  // before anything else can change errno
                throw ConfigError(.io, "\(key): cannot read \(path): \(reason)")
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            guard bytes.count <= 1 << 20 else { throw ConfigError(.io, "\(key): \(path) is larger than 1 MiB") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Replaces `path` atomically: writes a temporary file beside it, then renames it over.
    @discardableResult
    static func writeAtomically(_ path: String, _ text: String) -> Bool {
        let temporary = path + ".tmp.\(getpid())"
        let fd = csystem_open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        // Readable by anyone (outbound-events status), whatever the umask (the unit has 0027).
        if fd >= 0 { fchmod(fd, 0o644) }
        guard fd >= 0 else { return false }
        var bytes = Array(text.utf8)
        var ok = true
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 && csystem_errno() == EINTR { continue }
                guard written > 0 else { ok = false; return }
                offset += written
            }
        }
        // Whole or old across a power cut: the new text is on the disk before it takes the
        // name, and the rename is on the disk before this returns.
        if ok && fdatasync(fd) != 0 { ok = false }
        CSystem.close(fd)
        guard ok, rename(temporary, path) == 0 else {
            unlink(temporary)
            return false
        }
        return csystem_sync_directory(SpoolFile.directory(of: path)) == 0
    }

    static func errorText(_ code: Int32 = csystem_errno()) -> String {
        String(cString: strerror(code))
    }
}
