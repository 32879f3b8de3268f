/// What the agent asks of an HTTP transport, and what it gets back. The real transport is
/// libcurl's multi interface (module HTTPDelivery); unit tests of the agent use a fake.
/// Every method but `wakeup` is called on the agent's delivery thread only.
public protocol HTTPTransport: AnyObject {
    /// Sets where a slot delivers. Called before the first `start` and after every edit.
    func configure(slot: Int, target: HTTPTarget)
    /// Starts one POST of `body` with `headers` ("Name: value"). The transport copies both.
    func start(slot: Int, body: [UInt8], headers: [String])
    /// Abandons the slot's transfer, if any; the slot keeps its configuration.
    func cancel(slot: Int)
    /// Abandons the slot's transfer and forgets the slot (its recipient is gone or disabled).
    func release(slot: Int)
    /// Waits at most `timeout` for transfers to finish (returns early on `wakeup`) and reports
    /// each finished one.
    func poll(timeout: Millis, _ finished: (_ slot: Int, _ result: DeliveryResult) -> Void)
    /// Ends a `poll` in progress. Any thread.
    func wakeup()
}

/// Where and how a slot delivers.
public struct HTTPTarget: Equatable, Sendable {
    public var url: String
    /// PEM of the only CA to trust; empty: the system trust store.
    public var caCertificate: String
    public var connectTimeout: Millis
    public var requestTimeout: Millis
    public var userAgent: String

    public init(url: String, caCertificate: String, connectTimeout: Millis, requestTimeout: Millis,
                userAgent: String) {
        self.url = url
        self.caCertificate = caCertificate
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.userAgent = userAgent
    }
}

/// The end of one attempt. Success is HTTP 200 and nothing else.
public struct DeliveryResult: Equatable, Sendable {
    public enum Failure: String, Sendable {
        /// The receiver answered with another status (a 3xx included: redirects are not followed).
        case status
        /// Name resolution, connection refused or reset, or another network error.
        case network
        /// The peer's certificate did not verify, or the handshake failed.
        case tls
        case timeout
    }

    /// HTTP status received, 0 when none was.
    public var status: Int
    /// Nil on success; otherwise what went wrong and a short human-readable reason.
    public var failure: Failure?
    public var error: String
    public var elapsed: Millis

    public var succeeded: Bool { failure == nil }

    public static func success(elapsed: Millis) -> DeliveryResult {
        DeliveryResult(status: 200, failure: nil, error: "", elapsed: elapsed)
    }

    public init(status: Int, failure: Failure?, error: String, elapsed: Millis) {
        self.status = status
        self.failure = failure
        self.error = error
        self.elapsed = elapsed
    }
}
