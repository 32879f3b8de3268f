import OutboundEventsAgent
import OutboundEventsCore

/// The API (SPEC 13), JSON over the page's listeners, below `/api/v1/`:
///
///     GET    status                          the status JSON
///     GET    recipients                      {"http": [...], "email": [...]}
///     GET    recipients/http/NAME            a recipient: the settings' keys, string values
///     PUT    recipients/http/NAME            create or replace
///     DELETE recipients/http/NAME
///     POST   recipients/http/NAME/test       one signed test delivery: {"delivered", "report"}
///     (the same for recipients/email/NAME, without test)
///     GET    smtp, PUT smtp                  the relay's smtp.* settings
///     POST   smtp/test                       {"to": ADDRESS}: a test email
///     POST   login                           {"password": ...} over TCP: {"csrf_token": ...}
///
/// A refusal is a 4xx with `{"error": {"key": KEY or null, "message": TEXT}}`; nothing changes.
extension AdminServer {
    func api(_ request: Request, _ path: [String]) -> Response {
        switch (request.method, path.count, path.first) {
        case ("GET", 1, "status"):
            return .json(daemon.agent.status())
        case ("GET", 1, "recipients"):
            return .json(recipientsJSON())
        case (_, 3, "recipients"), (_, 4, "recipients"):
            guard let kind = SettingsFile.Recipient.Kind(rawValue: path[1]) else { return notFound() }
            let name = path[2]
            if path.count == 4 {
                guard path[3] == "test", kind == .http else { return notFound() }
                guard request.method == "POST" else { return .apiError(405, key: nil, "use POST") }
                guard request.body.isEmpty || (try? FlatJSON.parse(request.body))?.isEmpty == true else {
                    return .apiError(400, key: nil, "this call takes no settings (send {} or nothing)")
                }
                return testJSON(sendTest(name))
            }
            switch request.method {
            case "GET":
                let entries = daemon.recipientEntries(daemon.currentConfiguration())
                guard let entry = entries.first(where: { $0.kind == kind && $0.name == name }) else {
                    return notFound("no \(kind.rawValue) recipient \(Values.quote(name))")
                }
                return .json(recipientJSON(entry))
            case "PUT":
                let fields: [(key: String, value: String)]
                do { fields = try FlatJSON.parse(request.body) } catch {
                    return .apiError(400, key: nil, error.message)
                }
                let known = kind == .http ? HTTPRecipientSettings.keys : EmailRecipientSettings.keys
                if let unknown = fields.first(where: { !known.contains($0.key) }) {
                    let what = kind == .http ? "HTTP recipient" : "email recipient"
                    return .apiError(400, key: unknown.key,
                                     Settings.unknownKey(unknown.key, kind: what, known: known).message)
                }
                let existed = daemon.recipientEntries(daemon.currentConfiguration())
                    .contains { $0.kind == kind && $0.name == name }
                return outcomeJSON(daemon.putRecipient(kind, name, fields), created: !existed) {
                    self.daemon.recipientEntries(self.daemon.currentConfiguration())
                        .first { $0.kind == kind && $0.name == name }.map(self.recipientJSON)
                }
            case "DELETE":
                guard request.body.isEmpty else { return .apiError(400, key: nil, "DELETE takes no body") }
                return outcomeJSON(daemon.deleteRecipient(kind, name), created: false) { nil }
            default:
                return .apiError(405, key: nil, "use GET, PUT or DELETE")
            }
        case ("GET", 1, "smtp"):
            return .json(smtpJSON())
        case ("PUT", 1, "smtp"):
            let fields: [(key: String, value: String)]
            do { fields = try FlatJSON.parse(request.body) } catch { return .apiError(400, key: nil, error.message) }
            return outcomeJSON(daemon.putSMTP(fields), created: false) { self.smtpJSON() }
        case ("POST", 2, "smtp") where path[1] == "test":
            let fields: [(key: String, value: String)]
            do { fields = try FlatJSON.parse(request.body) } catch { return .apiError(400, key: nil, error.message) }
            guard fields.count == 1, fields[0].key == "to" else {
                return .apiError(400, key: fields.first { $0.key != "to" }?.key ?? "to", "send {\"to\": ADDRESS}")
            }
            do throws(ConfigError) { try Values.emailAddress("to", fields[0].value) } catch {
                return .apiError(400, key: "to", error.message)
            }
            return testJSON(sendTestEmail(to: fields[0].value))
        case (_, 1, "status"), (_, 1, "recipients"), (_, 1, "smtp"), (_, 2, "smtp"):
            return .apiError(405, key: nil, "method \(request.method) is not allowed here")
        default:
            return notFound()
        }
    }

    func notFound(_ message: String = "no such API path") -> Response { .apiError(404, key: nil, message) }

    func outcomeJSON(_ outcome: Outcome, created: Bool, then body: () -> String?) -> Response {
        switch outcome {
        case .applied:
            guard let text = body() else { return Response(status: 204, contentType: "application/json", body: []) }
            return .json(text, status: created ? 201 : 200)
        case .notFound: return notFound("no such recipient")
        case .readOnly(let location):
            return .apiError(409, key: nil,
                             "set in the configuration file at \(location): read-only here; change it there")
        case .refused(let refusals):
            let first = refusals[0]
            let more = refusals.count > 1
                ? " (and \(refusals.count - 1) more: "
                    + refusals.dropFirst().map { $0.message }.joined(separator: "; ") + ")"
                : ""
            return .apiError(422, key: first.key, first.message + more)
        }
    }

    func recipientJSON(_ entry: RecipientEntry) -> String {
        var json = JSONWriter()
        json.object { json in
            json.field("kind", entry.kind.rawValue)
            json.field("name", entry.name)
            json.field("source", entry.managed ? "page" : entry.location)
            json.object("settings") { json in
                for (key, value) in entry.settings { json.field(key, Secrets.shown(key, value)) }
            }
        }
        return json.text
    }

    func recipientsJSON() -> String {
        let entries = daemon.recipientEntries(daemon.currentConfiguration())
        var json = JSONWriter()
        json.object { json in
            for kind in [SettingsFile.Recipient.Kind.http, .email] {
                json.array(kind.rawValue) { json in
                    for entry in entries where entry.kind == kind {
                        json.object { json in
                            json.field("name", entry.name)
                            json.field("source", entry.managed ? "page" : entry.location)
                            json.object("settings") { json in
                                for (key, value) in entry.settings { json.field(key, Secrets.shown(key, value)) }
                            }
                        }
                    }
                }
            }
        }
        return json.text
    }

    func smtpJSON() -> String {
        let configuration = daemon.currentConfiguration()
        var json = JSONWriter()
        json.object { json in
            for key in Daemon.smtpKeys {
                guard let setting = configuration.file.agent.last(where: { $0.key == key }) else { continue }
                json.field(key, Secrets.shown(key, setting.value))
            }
        }
        return json.text
    }

    func testJSON(_ result: TestResult) -> Response {
        if let refusal = result.refusal { return .apiError(refusal.status, key: refusal.key, refusal.message) }
        var json = JSONWriter()
        json.object { json in
            json.field("delivered", result.delivered)
            json.array("report") { json in
                for line in result.lines { json.element(line) }
            }
        }
        return .json(json.text)
    }
}
