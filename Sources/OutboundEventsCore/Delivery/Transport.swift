/// What the agent asks of a transport, and what it gets back. The real transport is libcurl's
/// multi interface (module Delivery), which carries both webhooks and mail so that a slow relay
/// never holds up a webhook; unit tests of the agent use a fake. Every method but `wakeup` is
/// called on the agent's delivery thread only.
public protocol Transport: AnyObject {
    /// Sets where a slot delivers. Called before the first `start` and after every change.
    func configure(slot: Int, target: TransferTarget)
    /// Starts one HTTP POST of `body` with `headers` ("Name: value"). Copies both.
    func start(slot: Int, body: [UInt8], headers: [String])
    /// Hands one message to the SMTP relay. Copies it.
    func start(slot: Int, mail: MailEnvelope)
    /// Checks the slot's SMTP relay without sending mail: connect, EHLO, STARTTLS or TLS,
    /// login if set, NOOP, QUIT. Finishes like a mail: success, or the relay's refusal.
    func startCheck(slot: Int)
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

public enum TransferTarget: Equatable, Sendable {
    case http(HTTPTarget)
    case smtp(SMTPTarget)
}

/// Where and how a webhook slot delivers.
public struct HTTPTarget: Equatable, Sendable {
    public var url: String
    /// PEM of the only CA to trust; empty: the system trust store.
    public var caCertificate: String
    public var connectTimeout: Millis
    public var requestTimeout: Millis
    public var userAgent: String
    /// `http.proxy` (nil: connect directly) and `http.no_proxy`.
    public var proxy: ProxyURL?
    public var noProxy: [String]

    public init(url: String, caCertificate: String, connectTimeout: Millis, requestTimeout: Millis,
                userAgent: String, proxy: ProxyURL? = nil, noProxy: [String] = []) {
        self.url = url
        self.caCertificate = caCertificate
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.userAgent = userAgent
        self.proxy = proxy
        self.noProxy = noProxy
    }
}

/// The SMTP relay a mail slot hands messages to.
public struct SMTPTarget: Equatable, Sendable {
    public var relay: SMTPSettings
    public var connectTimeout: Millis
    public var requestTimeout: Millis

    public init(relay: SMTPSettings, connectTimeout: Millis, requestTimeout: Millis) {
        self.relay = relay
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
    }
}

/// One message for the relay: the envelope sender and recipients, and the rendered message.
public struct MailEnvelope: Sendable, Equatable {
    public var from: String
    public var recipients: [String]
    public var message: [UInt8]

    public init(from: String, recipients: [String], message: [UInt8]) {
        self.from = from
        self.recipients = recipients
        self.message = message
    }
}

/// An address a relay refused: `550 5.1.1 <x@example.com>: Recipient address rejected`.
public struct RefusedAddress: Equatable, Sendable {
    public var address: String
    public var reply: String

    public init(address: String, reply: String) {
        self.address = address
        self.reply = reply
    }
}

/// The end of one attempt. For HTTP, success is status 200 and nothing else; for SMTP, the
/// relay accepting the message.
public struct DeliveryResult: Equatable, Sendable {
    public enum Failure: String, Sendable {
        /// The peer answered with a refusal: another HTTP status (a 3xx included: redirects are
        /// not followed), or an SMTP reply rejecting the message.
        case refused
        /// Name resolution, connection refused or reset, or another network error.
        case network
        /// The peer's certificate did not verify, or the handshake failed.
        case tls
        case timeout
    }

    /// HTTP status or SMTP reply code received, 0 when none was.
    public var status: Int
    /// Nil on success.
    public var failure: Failure?
    /// What went wrong, short and readable; empty on success.
    public var error: String
    public var elapsed: Millis
    /// For mail handed to the relay: the addresses it refused at RCPT while it took others,
    /// each with its reply. (Refused for all is a failure.)
    public var refusedAddresses: [RefusedAddress] = []

    public var succeeded: Bool { failure == nil }

    public static func success(status: Int = 200, elapsed: Millis) -> DeliveryResult {
        DeliveryResult(status: status, failure: nil, error: "", elapsed: elapsed)
    }

    public init(status: Int, failure: Failure?, error: String, elapsed: Millis) {
        self.status = status
        self.failure = failure
        self.error = error
        self.elapsed = elapsed
    }
}
