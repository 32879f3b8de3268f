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

    /// A short description, in static storage (the C face hands out its pointer).
    public var summary: StaticString {
        switch self {
        case .ok: "success"
        case .invalid: "invalid argument or setting"
        case .exists: "a recipient of the other kind has that name"
        case .notFound: "no such recipient"
        case .queueFull: "queue full"
        case .tooBig: "event too large for the queue"
        case .tls: "CA certificate refused"
        case .io: "file error"
        case .timedOut: "timed out"
        case .state: "not possible in the agent's current state"
        case .noMemory: "out of memory"
        }
    }
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
