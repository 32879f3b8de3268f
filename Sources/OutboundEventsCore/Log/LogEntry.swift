/// syslog priorities, as journald stores them in PRIORITY.
public enum Priority: Int, Sendable, Comparable {
    case emergency = 0, alert, critical, error, warning, notice, info, debug

    public static func < (a: Priority, b: Priority) -> Bool { a.rawValue < b.rawValue }
}

/// One log entry: a readable MESSAGE, a priority, the MESSAGE_ID of its kind of trouble (with
/// an entry in the shipped catalog) and the `OE_*` fields that apply.
public struct LogEntry: Sendable {
    public var priority: Priority
    public var messageID: MessageID?
    public var message: String
    public var fields: [(name: String, value: String)]
    public var file: String
    public var line: Int
    public var function: String

    public init(_ priority: Priority, _ messageID: MessageID?, _ message: String,
                fields: [(name: String, value: String)] = [],
                file: String = #fileID, line: Int = #line, function: String = #function) {
        self.priority = priority
        self.messageID = messageID
        self.message = message
        self.fields = fields
        self.file = file
        self.line = line
        self.function = function
    }

    public func field(_ name: String) -> String? { fields.first { $0.name == name }?.value }
}

/// Where log entries go: journald, standard error, nowhere, or a test's list.
public protocol LogSink: AnyObject, Sendable {
    func write(_ entry: LogEntry)
}
