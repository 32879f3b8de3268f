/// The result codes of the C ABI, mirrored here so the core can name them without importing C.
/// The face checks, at compile time of its tests, that the numbers equal the header's.
public enum ResultCode: Int32, Sendable {
    case ok = 0
    case invalid = -1
    case exists = -2
    case notFound = -3
    case queueFull = -4
    case tooBig = -5
    case tls = -6
    case io = -7
    case timedOut = -8
    case state = -9
    case noMemory = -10
}

/// A refused setting or call: the code the C caller gets and the one-line reason for `err`.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: ResultCode
    public var message: String

    public init(_ code: ResultCode, _ message: String) {
        self.code = code
        self.message = message
    }

    /// An invalid value: the message always starts with the key, so the reader knows where to look.
    public static func invalid(_ key: String, _ reason: String) -> ConfigError {
        ConfigError(.invalid, "\(key): \(reason)")
    }

    public var description: String { message }
}
