import Locking
import OutboundEventsAgent
import OutboundEventsCore

/// The page's addresses. Forms post, then redirect (303) to a page that shows the result; a
/// refused form is shown again with its values and the reasons next to the fields.
///
///     GET  /                                   the lists, the relay's status and its form
///     GET  /recipients/KIND/new                the form of a new recipient; POST saves it
///     GET  /recipients/KIND/NAME               its form; POST saves it
///     GET  /recipients/KIND/NAME/delete        asks once more; POST deletes
///     POST /recipients/http/NAME/test          Send test: the report
///     POST /smtp, POST /smtp/test              Email configuration; Send test email
///     GET  /macros                             the macros of Subject and Body
///     GET  /login, POST /login, POST /logout   over TCP
extension AdminServer {
    func pages(_ request: Request, _ segments: [String], csrf: String) -> Response {
        let page = Page(daemon: daemon, csrf: csrf, loggedIn: request.overTCP)
        let get = request.method == "GET" || request.method == "HEAD"
        let post = request.method == "POST"
        switch segments.count {
        case 0 where get:
            return page.main()
        case 1 where segments[0] == "macros" && get:
            return page.macros()
        case 1 where segments[0] == "logout" && post:
            if let id = request.cookie(Self.cookie) { sessions.withLock { $0.close(id) } }
            var response = Response.redirect(request.overTCP ? "/login" : "/")
            response.headers.append(("Set-Cookie", cookieHeader("", expire: true)))
            return response
        case 1 where segments[0] == "smtp" && post:
            return saveSMTP(request, page)
        case 2 where segments == ["smtp", "test"] && post:
            guard let fields = form(request), let to = fields.last(where: { $0.name == "to" })?.value else {
                return page.error(400, "The form is not complete.")
            }
            do throws(ConfigError) { try Values.emailAddress("to", to) } catch {
                let reason = "Send a test email to: " + Refusal(key: "to", message: error.message).reason
                return page.testResult("Send test email",
                                       TestResult(refusal: .init(status: 422, key: "to", message: reason)))
            }
            return page.testResult("Send test email to \(to)", sendTestEmail(to: to))
        case 3, 4:
            guard segments[0] == "recipients",
                  let kind = SettingsFile.Recipient.Kind(rawValue: segments[1]) else { break }
            let name = segments[2]
            let isNew = segments.count == 3 && name == "new"
            let entry = isNew ? nil : daemon.recipientEntries(daemon.currentConfiguration())
                .first { $0.kind == kind && $0.name == name }
            if segments.count == 3 {
                if isNew {
                    if get { return page.recipientForm(kind, name: nil, page.formState(kind, nil)) }
                    if post { return saveRecipient(request, page, kind, name: nil, stored: nil) }
                    break
                }
                guard let entry else {
                    return page.error(404, "There is no \(kind.rawValue) recipient called \(name).")
                }
                guard entry.managed else {
                    return page.error(409,
                                      "\(name) is set in the configuration file at \(entry.location): change it there.")
                }
                if get { return page.recipientForm(kind, name: name, page.formState(kind, entry)) }
                if post { return saveRecipient(request, page, kind, name: name, stored: entry) }
                break
            }
            switch (segments[3], request.method) {
            case ("delete", "GET"):
                guard entry != nil else {
                    return page.error(404, "There is no \(kind.rawValue) recipient called \(name).")
                }
                return page.confirmDelete(kind, name)
            case ("delete", "POST"):
                return outcome(daemon.deleteRecipient(kind, name), page)
            case ("test", "POST") where kind == .http:
                return page.testResult("Send test to \(name)", sendTest(name))
            default: break
            }
        default: break
        }
        return page.error(404, "There is no such page.")
    }

    /// The fields of a posted form, or nil when the body is not a form.
    func form(_ request: Request) -> [(name: String, value: String)]? {
        try? FormData.parse(contentType: request.header("Content-Type") ?? "", body: request.body)
    }

    func outcome(_ outcome: Outcome, _ page: Page) -> Response {
        switch outcome {
        case .applied: return .redirect("/")
        case .notFound: return page.error(404, "There is no such recipient.")
        case .readOnly(let location):
            return page.error(409, "It is set in the configuration file at \(location): change it there.")
        case .refused(let refusals): return page.error(422, refusals.map { $0.message }.joined(separator: "\n"))
        }
    }

    /// Saves the HTTP or email recipient form: the fields become the settings (SPEC 4's keys),
    /// checked and applied like a reload, or the form again with the reasons.
    func saveRecipient(_ request: Request, _ page: Page, _ kind: SettingsFile.Recipient.Kind, name: String?,
                       stored: RecipientEntry?) -> Response {
        guard let fields = form(request) else { return page.error(400, "The form could not be read.") }
        let httpNames: Set<String> = ["csrf", "name", "url", "enabled", "ca_use", "ca_certificate",
                                      "ca_certificate_file", "send_custom_fields", "events", "retry_interval",
                                      "retry_duration", "email_contacts", "email_alert_after", "email_alert_resend",
                                      "body_format", "signing_secret", "signing_secret_remove"]
        let emailNames: Set<String> = ["csrf", "name", "enabled", "addresses", "require_external_key", "events",
                                       "subject", "body", "retry_duration"]
        if let unknown = fields.first(where: { !(kind == .http ? httpNames : emailNames).contains($0.name) }) {
            return page.error(400, "The form has a field this page does not know: \(unknown.name).")
        }
        func value(_ field: String) -> String { fields.last { $0.name == field }?.value ?? "" }
        func flag(_ field: String) -> String { value(field) == "true" ? "true" : "false" }
        let recipientName = name ?? value("name")

        // What the form shows again if refused: everything typed but the secret.
        var state = page.formState(kind, stored)
        for (field, text) in fields
            where field != "csrf" && field != "events" && field != "signing_secret" && field != "ca_certificate_file" {
            state.values[field] = text
        }
        state.values["name"] = recipientName
        for field in ["enabled", "ca_use", "send_custom_fields", "require_external_key"] {
            state.values[field] = flag(field)
        }
        state.events = Set(fields.filter { $0.name == "events" }.map { $0.value })

        var settings: [(key: String, value: String)] = []
        var refusals: [Refusal] = []
        let profile = daemon.agent.profile
        let capable = profile.events.filter { kind == .http ? $0.http : $0.email }.map { $0.name }
        let ticked = capable.filter { state.events.contains($0) }
        let events = ticked.count == capable.count ? "all" : ticked.joined(separator: ",")
        if ticked.isEmpty { refusals.append(Refusal(key: "events", message: "events: choose at least one event")) }
        do throws(ConfigError) { try Values.recipientName(recipientName) } catch {
            refusals.append(Refusal(key: "name", message: error.message))
        }
        if kind == .http {
            settings.append(("url", value("url")))
            settings.append(("enabled", flag("enabled")))
            if flag("ca_use") == "true" {
                let pem = value("ca_certificate_file").isEmpty ? value("ca_certificate") : value("ca_certificate_file")
                state.values["ca_certificate"] = pem
                if pem.isEmpty {
                    refusals.append(Refusal(key: "ca_certificate",
                                            message: "ca_certificate: paste the CA certificate or upload its PEM file,"
                                                + " or untick Use a CA certificate"))
                } else {
                    settings.append(("ca_certificate", pem))
                }
            }
            settings.append(("send_custom_fields", flag("send_custom_fields")))
            settings.append(("events", events))
            for key in ["retry_interval", "retry_duration", "email_contacts", "email_alert_after", "email_alert_resend"]
                where !value(key).isEmpty {
                settings.append((key, value(key)))
            }
            settings.append(("body_format", value("body_format").isEmpty ? "form" : value("body_format")))
            if !value("signing_secret").isEmpty {
                settings.append(("signing_secret", value("signing_secret")))
            } else if state.secretStored && flag("signing_secret_remove") != "true" {
                settings.append(("signing_secret", Secrets.mask))
            }
        } else {
            settings.append(("enabled", flag("enabled")))
            settings.append(("addresses", value("addresses")))
            settings.append(("require_external_key", flag("require_external_key")))
            settings.append(("events", events))
            for key in ["subject", "body", "retry_duration"] where !value(key).isEmpty {
                settings.append((key, value(key).replacingCRLF()))
            }
        }
        if name == nil,
           daemon.recipientEntries(daemon.currentConfiguration()).contains(where: { $0.name == recipientName }) {
            refusals.append(Refusal(key: "name",
                                    message: "name: \(Values.quote(recipientName)) is taken;"
                                        + " names are unique across HTTP and email recipients"))
        }
        if refusals.isEmpty {
            switch daemon.putRecipient(kind, recipientName, settings) {
            case .applied: return .redirect("/")
            case .notFound: refusals.append(Refusal(key: nil, message: "There is no such recipient."))
            case .readOnly(let location):
                let message = "It is set in the configuration file at \(location): change it there."
                refusals.append(Refusal(key: nil, message: message))
            case .refused(let found): refusals = found
            }
        }
        state.refusals = refusals
        return page.recipientForm(kind, name: name, state, status: 422)
    }

    /// Saves Email configuration (the relay's `smtp.*` settings of the state file).
    func saveSMTP(_ request: Request, _ page: Page) -> Response {
        guard let fields = form(request) else { return page.error(400, "The form could not be read.") }
        let known = Set(Page.smtpFields.map { $0.key } + ["csrf", "smtp.password_remove", "smtp.ca_certificate_file"])
        if let unknown = fields.first(where: { !known.contains($0.name) }) {
            return page.error(400, "The form has a field this page does not know: \(unknown.name).")
        }
        func value(_ field: String) -> String { fields.last { $0.name == field }?.value ?? "" }
        let configuration = daemon.currentConfiguration()
        var state = page.smtpFormState(configuration)
        var settings: [(key: String, value: String)] = []
        for (key, _, _) in Page.smtpFields {
            // Keys of the configuration file are not in the form (read-only there).
            guard fields.contains(where: { $0.name == key }) || key == "smtp.ca_certificate" else { continue }
            var text = value(key)
            if key == "smtp.ca_certificate" {
                if !value("smtp.ca_certificate_file").isEmpty { text = value("smtp.ca_certificate_file") }
                guard fields.contains(where: { $0.name == key }) || !text.isEmpty else { continue }
            }
            if key == "smtp.password" {
                if text.isEmpty && state.secretStored && value("smtp.password_remove") != "true" { text = Secrets.mask }
            } else {
                state.values[key] = text
            }
            settings.append((key, text))
        }
        switch daemon.putSMTP(settings) {
        case .applied: return .redirect("/")
        case .refused(let refusals):
            state.refusals = refusals
            return page.main(smtpState: state, status: 422)
        case .notFound, .readOnly: return page.error(409, "The relay settings could not be changed.")
        }
    }
}

extension String {
    /// Text from a browser's textarea has CRLF line ends; settings are written with LF.
    func replacingCRLF() -> String {
        var out = ""
        for character in self {
            if character == "\r\n" || character == "\r" { out.append("\n") } else { out.append(character) }
        }
        return out
    }
}
