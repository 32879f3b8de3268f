import OutboundEventsCore

/// Who is let in (SPEC 13, OWASP's session management and CSRF cheat sheets): sessions, each
/// with its CSRF token, and the pause of logins after wrong passwords. A value with the rules;
/// `AdminServer` keeps it in a lock and gives it the time.
struct Sessions {
    struct Session {
        var id: String
        var csrf: String
        var lastUsed: Int64
    }

    /// A session unused this long (seconds) ends.
    static let idleLimit: Int64 = 3600
    /// Sessions kept at most; the one unused longest goes first.
    static let limit = 64
    /// Wrong passwords from one address within `failureWindow` seconds that pause its logins
    /// for `pause` seconds.
    static let failureLimit = 5
    static let failureWindow: Int64 = 60
    static let pause: Int64 = 60

    var sessions: [String: Session] = [:]
    /// Per address: the times of its recent wrong passwords, and when its pause ends.
    var failures: [String: [Int64]] = [:]
    var pausedUntil: [String: Int64] = [:]

    /// The session of a cookie's id, if it is live; its use is noted.
    mutating func find(_ id: String?, now: Int64) -> Session? {
        guard let id, var session = sessions[id] else { return nil }
        guard now - session.lastUsed <= Self.idleLimit else {
            sessions[id] = nil
            return nil
        }
        session.lastUsed = now
        sessions[id] = session
        return session
    }

    /// A new session with fresh random id and token (`random` gives hex text of 32 random bytes).
    mutating func open(now: Int64, random: () -> String) -> Session {
        sessions = sessions.filter { now - $0.value.lastUsed <= Self.idleLimit }
        while sessions.count >= Self.limit, let oldest = sessions.values.min(by: { $0.lastUsed < $1.lastUsed }) {
            sessions[oldest.id] = nil
        }
        let session = Session(id: random(), csrf: random(), lastUsed: now)
        sessions[session.id] = session
        return session
    }

    mutating func close(_ id: String) { sessions[id] = nil }

    /// Seconds until `address` may try a password again; 0: now.
    func pausedFor(_ address: String, now: Int64) -> Int64 {
        max(0, (pausedUntil[address] ?? 0) - now)
    }

    /// A wrong password from `address`: the fifth within a minute pauses its logins for a minute.
    mutating func failed(_ address: String, now: Int64) {
        var recent = (failures[address] ?? []).filter { now - $0 < Self.failureWindow }
        recent.append(now)
        if recent.count >= Self.failureLimit {
            pausedUntil[address] = now + Self.pause
            recent = []
        }
        failures[address] = recent
        // Addresses whose failures have all aged out are forgotten, so the table stays small.
        if failures.count > 1024 {
            failures = failures.filter { !$0.value.isEmpty && now - $0.value.last! < Self.failureWindow }
            pausedUntil = pausedUntil.filter { $0.value > now }
        }
    }

    mutating func succeeded(_ address: String) { failures[address] = nil }
}
