import CSystem
import OutboundEventsCore

/// The page's state file (`admin.state_file`, SPEC 13) as text, in the configuration file's
/// format. A value of several lines (a PEM certificate, an email body) cannot stand on a
/// `key = value` line: it goes into a file of its own in `managed.d/` beside the state file,
/// named by a hash of its contents, and the line reads `key = @managed.d/NAME`, as an
/// administrator would write it. Side files are written before the state file that names
/// them, so each state file that was ever renamed into place finds all of its values.
struct StateFileText {
    var text = "# Written by outbound-eventsd: the recipients and relay settings of the Outbound Events page.\n"
        + "# Change them on the page or through its API; edits here are read at the next reload.\n"
    /// Side files: name in `managed.d/` → contents.
    var sideFiles: [String: String] = [:]

    static let sideDirectory = "managed.d"

    init(agent: [(key: String, value: String)],
         recipients: [(kind: SettingsFile.Recipient.Kind, name: String, settings: [(key: String, value: String)])]) {
        for (key, value) in agent { line(key, value) }
        for recipient in recipients {
            text += "\n[\(recipient.kind.rawValue) \"\(recipient.name)\"]\n"
            for (key, value) in recipient.settings { line(key, value) }
        }
    }

    mutating func line(_ key: String, _ value: String) {
        let trimmed = value.first == " " || value.first == "\t" || value.last == " " || value.last == "\t"
        if value.contains("\n") || value.contains("\r") || trimmed {
            let name = "\(key)-\(Self.hash(value)).txt"
            sideFiles[name] = value
            text += "\(key) = @\(Self.sideDirectory)/\(name)\n"
        } else {
            text += "\(key) = \(value.hasPrefix("@") ? "@" + value : value)\n"
        }
    }

    /// The text parsed, with `@managed.d/NAME` values taken from `sideFiles` (not yet on disk).
    func parsed() -> SettingsFile {
        var file = SettingsFile(parsing: text)
        func resolve(_ setting: inout SettingsFile.Setting) {
            guard let path = setting.file, path.hasPrefix(Self.sideDirectory + "/"),
                  let value = sideFiles[String(path.dropFirst(Self.sideDirectory.count + 1))] else { return }
            setting.value = value
            setting.file = nil
        }
        for index in file.agent.indices { resolve(&file.agent[index]) }
        for r in file.recipients.indices {
            for s in file.recipients[r].settings.indices { resolve(&file.recipients[r].settings[s]) }
        }
        return file
    }

    /// FNV-1a, 64 bits, in hex: a name that changes with the contents.
    static func hash(_ value: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in value.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for shift in stride(from: 60, through: 0, by: -4) { out.append(digits[Int(hash >> UInt64(shift) & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Writes the side files, then the state file, each atomically and durably; then removes
    /// the side files the new state file no longer names. The error says which file failed.
    func write(to path: String) throws(ConfigError) {
        let directory = DurableFile.directory(of: path)
        let side = directory + "/" + Self.sideDirectory
        if !sideFiles.isEmpty && mkdir(side, 0o700) != 0 && csystem_errno() != EEXIST {
            throw ConfigError(.io, "cannot make \(side): \(DurableFile.errorText())")
        }
        for (name, contents) in sideFiles.sorted(by: { $0.key < $1.key }) {
            try DurableFile.write(side + "/" + name, contents)
        }
        try DurableFile.write(path, text)
        guard let entries = opendir(side) else { return }
        defer { closedir(entries) }
        while let entry = readdir(entries) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name.hasSuffix(".txt"), sideFiles[name] == nil else { continue }
            unlink(side + "/" + name)
        }
    }
}

/// A file replaced atomically and durably, as SPEC 11 asks of the files the agent keeps:
/// written to a temporary file beside it, fsynced, renamed over it, and the directory fsynced,
/// so a power cut leaves the old file or the new one, never a mix or nothing. Mode 0600: the
/// state file may hold secrets.
enum DurableFile {
    static func write(_ path: String, _ text: String) throws(ConfigError) {
        let temporary = path + ".tmp"
        unlink(temporary)
        let fd = csystem_open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ConfigError(.io, "cannot write \(temporary): \(errorText())") }
        var bytes = Array(text.utf8)
        var failure: String?
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = CSystem.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 && csystem_errno() == EINTR { continue }
                guard written > 0 else { failure = "cannot write \(temporary): \(errorText())"; return }
                offset += written
            }
        }
        if failure == nil && fsync(fd) != 0 { failure = "cannot fsync \(temporary): \(errorText())" }
        CSystem.close(fd)
        if failure == nil && rename(temporary, path) != 0 {
            failure = "cannot rename \(temporary) to \(path): \(errorText())"
        }
        if let failure {
            unlink(temporary)
            throw ConfigError(.io, failure)
        }
        let directoryFD = csystem_open(directory(of: path), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
        guard directoryFD >= 0 else { throw ConfigError(.io, "cannot open \(directory(of: path)): \(errorText())") }
        defer { CSystem.close(directoryFD) }
        guard fsync(directoryFD) == 0 else {
            throw ConfigError(.io, "cannot fsync \(directory(of: path)): \(errorText())")
        }
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func errorText() -> String { String(cString: strerror(csystem_errno())) }
}
