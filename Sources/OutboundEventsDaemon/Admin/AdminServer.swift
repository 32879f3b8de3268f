import CAdminHTTP
import CSystem
import Locking
import OutboundEventsAgent
import OutboundEventsCore
import TLSMaterial

/// The Outbound Events page and its API (SPEC 13), served by libmicrohttpd on the listeners of
/// `admin.socket` and `admin.listen`. Whoever opens the Unix socket is an administrator; over
/// TCP every page and API call needs a session, opened with the password. Every state change
/// carries the session's CSRF token (a form field, or `X-CSRF-Token` for the API) and no
/// foreign `Origin`; the API over the Unix socket without a session takes a same-origin check
/// and a JSON body instead, which a page of another site cannot send.
final class AdminServer: @unchecked Sendable {
    /// One listener: whether it needs the login. Its server holds it until `stop` (Embedded
    /// Swift has no `unowned`).
    final class Listener {
        let server: AdminServer
        let overTCP: Bool
        var handle: OpaquePointer?

        init(server: AdminServer, overTCP: Bool) {
            self.server = server
            self.overTCP = overTCP
        }
    }

    static let bodyLimit = 1 << 20
    static let socketGroup = "outbound-events-admin"
    static let cookie = "oe_session"

    /// The daemon, which holds the server until it stops (Embedded Swift has no `unowned`).
    let daemon: Daemon
    let sessions = Locked(Sessions())
    /// The password hash and cookie flag, which a reload may change.
    let settings: Locked<AdminSettings>
    var listeners: [Listener] = []

    init(daemon: Daemon, settings: AdminSettings) {
        self.daemon = daemon
        self.settings = Locked(settings)
    }

    /// Opens the configured listeners (none: nil). Fails when one cannot be opened.
    static func start(_ daemon: Daemon) throws(ConfigError) -> AdminServer? {
        let admin = daemon.configuration.admin
        guard !admin.socket.isEmpty || admin.listen != nil else { return nil }
        let server = AdminServer(daemon: daemon, settings: admin)
        var error = [CChar](repeating: 0, count: 256)
        var places: [String] = []
        if !admin.socket.isEmpty {
            var groupMissing: Int32 = 0
            let fd = cadminhttp_listen_unix(admin.socket, 0o660, socketGroup, &groupMissing, &error, error.count)
            guard fd >= 0 else { throw ConfigError(.io, "admin.socket: \(Self.text(error))") }
            try server.serve(fd, overTCP: false)
            places.append(admin.socket)
            if groupMissing != 0 {
                daemon.agent.log(LogEntry(.warning, nil,
                                          "admin.socket: the group \(socketGroup) does not exist;"
                                              + " \(admin.socket) keeps the daemon's group (mode 0660)",
                                          fields: []))
            }
        }
        if let listen = admin.listen {
            let fd = cadminhttp_listen_tcp(listen.host, Int32(listen.port), listen.isIPv6 ? 1 : 0, &error, error.count)
            guard fd >= 0 else {
                server.stop()
                throw ConfigError(.io, "admin.listen: \(Self.text(error))")
            }
            do { try server.serve(fd, overTCP: true) } catch {
                server.stop()
                throw error
            }
            places.append("http://\(listen) (login required)")
        }
        daemon.agent.log(LogEntry(.info, nil,
                                  "the Outbound Events page and its API listen on \(places.joined(separator: " and "))",
                                  fields: []))
        return server
    }

    func serve(_ fd: Int32, overTCP: Bool) throws(ConfigError) {
        let listener = Listener(server: self, overTCP: overTCP)
        var error = [CChar](repeating: 0, count: 256)
        let context = Unmanaged.passUnretained(listener).toOpaque()
        guard let handle = cadminhttp_start(fd, Self.bodyLimit, { context, request in
            let listener = Unmanaged<Listener>.fromOpaque(context!).takeUnretainedValue()
            listener.server.respond(to: Request(request!, overTCP: listener.overTCP)).send(request!)
        }, context, &error, error.count) else {
            close(fd)
            throw ConfigError(.io, "admin: \(Self.text(error))")
        }
        listener.handle = handle
        listeners.append(listener)
    }

    /// Stops serving: waits for the requests being answered.
    func stop() {
        for listener in listeners { cadminhttp_stop(listener.handle) }
        listeners = []
        let socket = settings.withLock { $0.socket }
        if !socket.isEmpty { unlink(socket) }
    }

    func configurationChanged(_ configuration: Configuration) {
        settings.withLock { $0 = configuration.admin }
    }

    static func now() -> Int64 { Int64(time(nil)) }

    /// The text of a C function's error buffer.
    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func randomToken() -> String {
        let bytes = PasswordHash.randomBytes(32) ?? []
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: Who gets in

    /// The answer to a request: the checks of SPEC 13, then the page or the API.
    func respond(to request: Request) -> Response {
        guard let segments = request.segments else {
            return request.isAPI ? .apiError(400, key: nil, "the path is not valid percent-encoded UTF-8")
                                 : page.error(400, "The address is not valid.")
        }
        if request.bodyTooLarge {
            return request.isAPI ? .apiError(413, key: nil, "the request body is larger than 1 MiB")
                                 : page.error(413, "The request is larger than 1 MiB.")
        }
        if segments == ["style.css"] && request.method == "GET" { return Page.stylesheet }
        let now = Self.now()
        var session = sessions.withLock { $0.find(request.cookie(Self.cookie), now: now) }
        var setCookie: String?
        if request.overTCP {
            if segments == ["login"] || segments == ["api", "v1", "login"] {
                return login(request, api: segments.count == 3)
            }
            guard session != nil else {
                return request.isAPI
                    ? .apiError(401, key: nil, "log in first: POST /api/v1/login with {\"password\": ...}")
                    : .redirect("/login")
            }
        } else if session == nil && !request.isAPI {
            // Whoever opens the socket is an administrator: a session without a password, for the
            // CSRF token of the forms.
            let opened = sessions.withLock { $0.open(now: now, random: Self.randomToken) }
            session = opened
            setCookie = cookieHeader(opened.id)
        }
        if request.changesState {
            if let refusal = refuseForgery(request, session: session) { return refusal }
        }
        var response: Response
        if request.isAPI {
            response = api(request, Array(segments.dropFirst(2)))
        } else {
            response = pages(request, segments, csrf: session?.csrf ?? "")
        }
        if let setCookie { response.headers.append(("Set-Cookie", setCookie)) }
        return response
    }

    /// 403 for a state change that may come from another site: a foreign `Origin`, or no CSRF
    /// token of the session (SPEC 13; OWASP's CSRF cheat sheet).
    func refuseForgery(_ request: Request, session: Sessions.Session?) -> Response? {
        let forbidden: (String) -> Response = { reason in
            request.isAPI ? .apiError(403, key: nil, reason) : self.page.error(403, reason)
        }
        if let origin = request.header("Origin"), !Self.sameOrigin(origin, host: request.header("Host")) {
            return forbidden("refused: the request comes from another site (Origin \(origin))")
        }
        if request.isAPI {
            if let session {
                guard let token = request.header("X-CSRF-Token"), Self.equal(token, session.csrf) else {
                    return forbidden("refused: the X-CSRF-Token header is missing or wrong"
                                         + " (it is returned by POST /api/v1/login)")
                }
            } else if request.method != "DELETE" {
                // Over the Unix socket without a session: a page of another site can send neither
                // a JSON body nor a DELETE without the browser asking first, which is never allowed.
                let type = request.header("Content-Type")?.lowercased() ?? ""
                guard type.hasPrefix("application/json") else {
                    return forbidden("refused: send the body as Content-Type: application/json")
                }
            }
            return nil
        }
        guard let session else { return forbidden("refused: no session") }
        let fields = (try? FormData.parse(contentType: request.header("Content-Type") ?? "", body: request.body)) ?? []
        guard let token = fields.last(where: { $0.name == "csrf" })?.value, Self.equal(token, session.csrf) else {
            return forbidden("This form has expired or did not come from this page."
                                 + " Go back, reload the page and try again.")
        }
        return nil
    }

    /// Whether an `Origin` names the host the request was sent to.
    static func sameOrigin(_ origin: String, host: String?) -> Bool {
        guard let host, let schemeEnd = origin.byteRange(of: "://") else { return false }
        return origin[schemeEnd.upperBound...] == host
    }

    /// Compares two tokens in time that does not depend on where they differ.
    static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }

    func cookieHeader(_ id: String, expire: Bool = false) -> String {
        let secure = settings.withLock { $0.secureCookie }
        return "\(Self.cookie)=\(expire ? "" : id); Path=/; HttpOnly; SameSite=Strict"
            + "\(secure ? "; Secure" : "")\(expire ? "; Max-Age=0" : "")"
    }

    /// `POST /login` (the form) and `POST /api/v1/login` (`{"password": ...}`): a session for
    /// the right password; five wrong ones in a minute from one address pause its logins.
    func login(_ request: Request, api: Bool) -> Response {
        if !api && request.method == "GET" { return page.login(error: nil) }
        guard request.method == "POST" else {
            return api ? .apiError(405, key: nil, "use POST") : page.error(405, "Use the login form.")
        }
        if let origin = request.header("Origin"), !Self.sameOrigin(origin, host: request.header("Host")) {
            return api ? .apiError(403, key: nil, "refused: the request comes from another site")
                       : page.error(403, "The login comes from another site.")
        }
        let password: String
        if api {
            guard let fields = try? FlatJSON.parse(request.body) else {
                return .apiError(400, key: nil, "send {\"password\": \"...\"} as JSON")
            }
            guard fields.count == 1, fields[0].key == "password" else {
                return .apiError(400, key: nil, "the only key is \"password\"")
            }
            password = fields[0].value
        } else {
            guard let fields = try? FormData.parse(contentType: request.header("Content-Type") ?? "",
                                                   body: request.body),
                  let value = fields.last(where: { $0.name == "password" })?.value else {
                return page.login(error: "Enter the password.", status: 400)
            }
            password = value
        }
        let now = Self.now()
        let paused = sessions.withLock { $0.pausedFor(request.peer, now: now) }
        guard paused == 0 else {
            let text = "Too many wrong passwords: logins from your address are paused for \(paused) more seconds."
            return api ? .apiError(429, key: "password", text) : page.login(error: text, status: 429)
        }
        let hash = settings.withLock { $0.passwordHash }
        guard !hash.isEmpty, PasswordHash.verify(password, against: hash) else {
            let pausedNow = sessions.withLock { sessions in
                sessions.failed(request.peer, now: now)
                return sessions.pausedFor(request.peer, now: now) > 0
            }
            if pausedNow {
                let text = "logins from \(request.peer) paused for a minute after \(Sessions.failureLimit)"
                    + " wrong passwords within a minute"
                daemon.agent.log(LogEntry(.warning, .loginsPaused, text,
                                          fields: [("OE_PEER", request.peer), ("OE_ERROR", text)]))
            }
            return api ? .apiError(401, key: "password", "wrong password")
                       : page.login(error: "The password is wrong.", status: 401)
        }
        let session = sessions.withLock { sessions in
            sessions.succeeded(request.peer)
            return sessions.open(now: now, random: Self.randomToken)
        }
        var response: Response
        if api {
            var json = JSONWriter()
            json.object { $0.field("csrf_token", session.csrf) }
            response = .json(json.text)
        } else {
            response = .redirect("/")
        }
        response.headers.append(("Set-Cookie", cookieHeader(session.id)))
        return response
    }

    var page: Page { Page(daemon: daemon) }
}
