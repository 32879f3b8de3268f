import CSystem
import OutboundEventsCore

/// Making and attaching to the intake. A new intake is written beside its path, synced and
/// renamed into place (then the directory is synced): a producer attaching meanwhile finds no
/// intake yet (and is told to try again) or the whole one, never half of one, and a power cut
/// leaves no half-made file.
extension IntakeFile {
    /// The daemon's side: opens the intake beside `spool`, making it (readable and writable by
    /// the daemon's group, the producers) when there is none or the one there cannot be used,
    /// which is set aside. An intake that exists keeps its capacity: producers have it mapped.
    public static func openForDaemon(spool: String, capacity: Int, now: Int64,
                                     notes: inout [String]) throws(ConfigError) -> IntakeFile {
        let path = Self.path(spool: spool)
        let fd = csystem_open(path, O_RDWR | O_CLOEXEC, 0)
        if fd >= 0 {
            // The umask must not take the producers' access away.
            fchmod(fd, 0o660)
            guard let problem = problem(fd, size: SpoolFile.fileSize(fd)) else { return try map(path, fd) }
            CSystem.close(fd)
            let aside = "\(path).\(problem.reason)-\(now)"
            guard rename(path, aside) == 0 else {
                let reason = SpoolFile.errorText()
                throw ConfigError(.io, "queue.spool: \(path) cannot be used (\(problem.why))"
                                           + " and cannot be set aside: \(reason)")
            }
            notes.append("intake \(path) cannot be used (\(problem.why)); it was kept as \(aside)"
                             + " and a new intake started")
        } else if csystem_errno() != ENOENT {
            throw ioError("cannot open \(path)")
        }
        return try create(path, capacity: capacity)
    }

    /// Writes a new, empty intake at `path`.
    static func create(_ path: String, capacity requested: Int) throws(ConfigError) -> IntakeFile {
        let building = path + ".new"
        let fd = csystem_open(building, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o660)
        guard fd >= 0 else { throw ioError("cannot create \(building)") }
        fchmod(fd, 0o660)
        let capacity = requested & ~15
        let total = headerSize + capacity
        var base: UnsafeMutableRawPointer?
        var complete = false
        defer {
            if !complete {
                if let base { munmap(base, total) }
                CSystem.close(fd)
                unlink(building)
            }
        }
        let reserved = posix_fallocate(fd, 0, off_t(total))
        guard reserved == 0 else {
            throw ConfigError(.io, "queue.spool: cannot reserve \(total) bytes for \(building)"
                                       + " (queue.capacity plus a \(headerSize)-byte header):"
                                       + " \(String(cString: strerror(reserved)))")
        }
        guard let mapped = mmapShared(fd, total) else { throw ioError("cannot map \(total) bytes of \(building)") }
        base = mapped
        // fallocate gives zeroed blocks: only the fields that are not zero are written.
        magic.withUnsafeBytes { mapped.copyMemory(from: $0.baseAddress!, byteCount: 8) }
        func put<T: FixedWidthInteger>(_ field: Field, _ value: T) {
            mapped.storeBytes(of: value.littleEndian, toByteOffset: field.rawValue, as: T.self)
        }
        put(.layoutVersion, version)
        put(.headerSize, UInt32(headerSize))
        put(.capacity, UInt64(capacity))
        put(.instance, UInt64.random(in: 1...UInt64.max))
        put(.nextSequence, UInt64(1))
        put(.reserved, UInt64(1) &+ SpoolHeader.reservation)
        guard msync(mapped, total, MS_SYNC) == 0, fsync(fd) == 0 else {
            throw ioError("cannot write \(building) to disk")
        }
        guard rename(building, path) == 0 else { throw ioError("cannot rename \(building) to \(path)") }
        let synced = csystem_sync_directory(SpoolFile.directory(of: path))
        guard synced == 0 else {
            throw ConfigError(.io, "queue.spool: cannot sync the directory of \(path):"
                                       + " \(String(cString: strerror(synced)))")
        }
        complete = true
        return IntakeFile(path: path, fd: fd, base: mapped, mappedSize: total)
    }

    /// A producer's side: attaches to the daemon's spool at `spool`. The error names the path
    /// and what is missing.
    public static func attach(spool: String) throws(ConfigError) -> IntakeFile {
        var info = stat()
        guard stat(spool, &info) == 0 else {
            let reason = SpoolFile.errorText()
            throw ConfigError(.io, "queue.attach: \(spool): \(reason) (the path of outbound-eventsd's queue.spool;"
                                       + " the daemon makes it when it first starts)")
        }
        let path = Self.path(spool: spool)
        let fd = csystem_open(path, O_RDWR | O_CLOEXEC, 0)
        guard fd >= 0 else {
            let missing = csystem_errno() == ENOENT
            let denied = csystem_errno() == EACCES
            let reason = SpoolFile.errorText()
            throw ConfigError(.io, missing
                ? "queue.attach: \(path) does not exist yet: outbound-eventsd makes it when it starts on \(spool);"
                    + " try again once it runs"
                : "queue.attach: cannot open \(path): \(reason)"
                    + "\(denied ? " (the service's user must be in the daemon's group, outbound-events)" : "")")
        }
        if let problem = problem(fd, size: SpoolFile.fileSize(fd)) {
            CSystem.close(fd)
            throw ConfigError(.io, "queue.attach: \(path) cannot be used: \(problem.why)")
        }
        return try map(path, fd)
    }

    /// Why the file at `fd` is not a usable intake (and the word its copy is set aside
    /// under), or nil.
    static func problem(_ fd: Int32, size: Int) -> (reason: String, why: String)? {
        guard size >= headerSize else { return ("corrupt", "it is \(size) bytes, shorter than its header") }
        guard let header = mmapShared(fd, statusOffset) else { return ("corrupt", "its header cannot be mapped") }
        defer { munmap(header, statusOffset) }
        let hasMagic = magic.withUnsafeBytes { UnsafeRawBufferPointer(start: header, count: 8).elementsEqual($0) }
        guard hasMagic else { return ("corrupt", "its header is not an intake header") }
        let found = UInt32(littleEndian: header.load(fromByteOffset: Field.layoutVersion.rawValue, as: UInt32.self))
        guard found == version else {
            return ("incompatible", "it has layout version \(found); this version reads layout \(version)"
                                        + " (restart every firmware service after an upgrade)")
        }
        let stored = UInt64(littleEndian: header.load(fromByteOffset: Field.capacity.rawValue, as: UInt64.self))
        let capacity = Int(truncatingIfNeeded: stored)
        guard SpoolHeader.capacityRange.contains(capacity), capacity % 16 == 0 else {
            return ("corrupt", "its header gives a ring of \(capacity) bytes")
        }
        guard size >= headerSize + capacity else {
            return ("corrupt", "it is \(size) bytes, shorter than its \(headerSize + capacity)")
        }
        return nil
    }

    static func map(_ path: String, _ fd: Int32) throws(ConfigError) -> IntakeFile {
        guard let header = mmapShared(fd, statusOffset) else {
            CSystem.close(fd)
            throw ioError("cannot map \(path)")
        }
        let stored = UInt64(littleEndian: header.load(fromByteOffset: Field.capacity.rawValue, as: UInt64.self))
        let capacity = Int(truncatingIfNeeded: stored)
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
}
