import OutboundEventsAgent
import OutboundEventsCore

/// The Outbound Events page (SPEC 13), rendered on the server in the seed's words and order:
/// plain HTML, one stylesheet, no script, every field a `<label for>` and input pair, the
/// error next to its field with a summary at the top (GOV.UK's error pattern). Every value
/// written into the HTML goes through `HTML.text` or `HTML.attribute`.
struct Page {
    let daemon: Daemon
    /// The session's CSRF token, carried by every form.
    var csrf = ""
    /// Over TCP: the page has a Log out button.
    var loggedIn = false

    init(daemon: Daemon, csrf: String = "", loggedIn: Bool = false) {
        self.daemon = daemon
        self.csrf = csrf
        self.loggedIn = loggedIn
    }

    /// What a form shows: the values (typed or stored) and the refusals by key.
    struct FormState {
        var values: [String: String] = [:]
        /// Events ticked, by name.
        var events: Set<String> = []
        var refusals: [Refusal] = []
        /// A secret is stored (the field shows that, never the value).
        var secretStored = false

        func error(_ key: String) -> String? { refusals.first { $0.key == key }?.reason }
        func value(_ key: String) -> String { values[key] ?? "" }
    }

    // MARK: The frame

    func document(_ title: String, _ body: String, status: Int = 200) -> Response {
        var html = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title == "Outbound Events" ? "Outbound Events" : HTML.text(title) + " – Outbound Events")</title>
            <link rel="stylesheet" href="/style.css">
            </head>
            <body>
            <header><p class="crumbs">Management &gt; <a href="/">Outbound Events</a></p>
            """
        if loggedIn {
            html += "<form method=\"post\" action=\"/logout\" class=\"logout\">\(hidden())"
                + "<button type=\"submit\" class=\"secondary\">Log out</button></form>"
        }
        html += "</header>\n<main>\n\(body)\n</main>\n</body>\n</html>\n"
        return .html(html, status: status)
    }

    func hidden() -> String { "<input type=\"hidden\" name=\"csrf\" value=\"\(HTML.attribute(csrf))\">" }

    func error(_ status: Int, _ message: String) -> Response {
        document("Error",
                 "<h1>Sorry</h1>\n<p class=\"error\">\(HTML.text(message))</p>\n"
                     + "<p><a href=\"/\">Back to Outbound Events</a></p>",
                 status: status)
    }

    func login(error: String?, status: Int = 200) -> Response {
        var body = "<h1>Log in</h1>\n"
        if let error { body += "<div class=\"error-summary\" role=\"alert\"><p>\(HTML.text(error))</p></div>\n" }
        body += """
            <form method="post" action="/login" class="narrow">
            <div class="field\(error == nil ? "" : " has-error")"><label for="password">Password</label>
            <input type="password" id="password" name="password" autocomplete="current-password" \
            autofocus required></div>
            <button type="submit">Log in</button>
            </form>
            """
        return document("Log in", body, status: status)
    }

    // MARK: Fields

    func field(_ id: String, _ label: String, _ key: String, _ state: FormState, hint: String? = nil,
               readOnly: String? = nil, type: String = "text", extra: String = "") -> String {
        let error = state.error(key)
        var html = "<div class=\"field\(error == nil ? "" : " has-error")\">"
            + "<label for=\"\(id)\">\(HTML.text(label))</label>"
        if let hint { html += "<p class=\"hint\" id=\"\(id)-hint\">\(HTML.text(hint))</p>" }
        if let error { html += "<p class=\"error\" id=\"\(id)-error\">\(HTML.text(error))</p>" }
        if let readOnly {
            html += "<input type=\"\(type)\" id=\"\(id)\" value=\"\(HTML.attribute(state.value(key)))\" readonly>"
                + "<p class=\"hint\">Set in \(HTML.text(readOnly)) (read-only here).</p></div>\n"
            return html
        }
        let described = [hint == nil ? nil : "\(id)-hint", error == nil ? nil : "\(id)-error"].compactMap { $0 }
        html += "<input type=\"\(type)\" id=\"\(id)\" name=\"\(key)\" value=\"\(HTML.attribute(state.value(key)))\""
            + "\(described.isEmpty ? "" : " aria-describedby=\"\(described.joined(separator: " "))\"")"
            + "\(extra)></div>\n"
        return html
    }

    func checkbox(_ id: String, _ label: String, _ key: String, _ state: FormState, checked: Bool) -> String {
        let error = state.error(key)
        return "<div class=\"field checkbox\(error == nil ? "" : " has-error")\">"
            + (error.map { "<p class=\"error\" id=\"\(id)-error\">\(HTML.text($0))</p>" } ?? "")
            + "<input type=\"checkbox\" id=\"\(id)\" name=\"\(key)\" value=\"true\"\(checked ? " checked" : "")>"
            + "<label for=\"\(id)\">\(HTML.text(label))</label></div>\n"
    }

    func textarea(_ id: String, _ label: String, _ key: String, _ state: FormState, hint: String? = nil,
                  readOnly: String? = nil, rows: Int = 6) -> String {
        let error = state.error(key)
        var html = "<div class=\"field\(error == nil ? "" : " has-error")\">"
            + "<label for=\"\(id)\">\(HTML.text(label))</label>"
        if let hint { html += "<p class=\"hint\">\(hint)</p>" }
        if let error { html += "<p class=\"error\" id=\"\(id)-error\">\(HTML.text(error))</p>" }
        if let readOnly {
            return html + "<textarea id=\"\(id)\" rows=\"\(rows)\" readonly>\(HTML.text(state.value(key)))</textarea>"
                + "<p class=\"hint\">Set in \(HTML.text(readOnly)) (read-only here).</p></div>\n"
        }
        return html + "<textarea id=\"\(id)\" name=\"\(key)\" rows=\"\(rows)\">"
            + "\(HTML.text(state.value(key)))</textarea></div>\n"
    }

    func select(_ id: String, _ label: String, _ key: String, _ state: FormState, options: [(String, String)],
                readOnly: String? = nil) -> String {
        let error = state.error(key)
        var html = "<div class=\"field\(error == nil ? "" : " has-error")\">"
            + "<label for=\"\(id)\">\(HTML.text(label))</label>"
        if let error { html += "<p class=\"error\" id=\"\(id)-error\">\(HTML.text(error))</p>" }
        html += "<select id=\"\(id)\"\(readOnly == nil ? " name=\"\(key)\"" : " disabled")>"
        for (value, text) in options {
            html += "<option value=\"\(HTML.attribute(value))\"\(state.value(key) == value ? " selected" : "")>"
                + "\(HTML.text(text))</option>"
        }
        html += "</select>"
        if let readOnly { html += "<p class=\"hint\">Set in \(HTML.text(readOnly)) (read-only here).</p>" }
        return html + "</div>\n"
    }

    func events(_ prefix: String, kind: SettingsFile.Recipient.Kind, _ state: FormState) -> String {
        let profile = daemon.agent.profile
        let error = state.error("events")
        var html = "<fieldset class=\"events\(error == nil ? "" : " has-error")\" id=\"\(prefix)-events\">"
            + "<legend>Events to send</legend>"
        if let error { html += "<p class=\"error\" id=\"\(prefix)-events-error\">\(HTML.text(error))</p>" }
        for (index, event) in profile.events.enumerated() where kind == .http ? event.http : event.email {
            let id = "\(prefix)-event-\(index)"
            html += "<div class=\"checkbox\"><input type=\"checkbox\" id=\"\(id)\" name=\"events\""
                + " value=\"\(HTML.attribute(event.name))\"\(state.events.contains(event.name) ? " checked" : "")>"
                + "<label for=\"\(id)\">\(HTML.text(event.label))</label></div>"
        }
        return html + "</fieldset>\n"
    }

    func summary(_ refusals: [Refusal], ids: [String: String], labels: [String: String]) -> String {
        guard !refusals.isEmpty else { return "" }
        var html = "<div class=\"error-summary\" role=\"alert\" tabindex=\"-1\"><h2>There is a problem</h2><ul>"
        for refusal in refusals {
            if let key = refusal.key, let id = ids[key] {
                html += "<li><a href=\"#\(id)\">\(HTML.text(labels[key] ?? key)): \(HTML.text(refusal.reason))</a></li>"
            } else {
                html += "<li>\(HTML.text(refusal.message))</li>"
            }
        }
        return html + "</ul></div>\n"
    }

    // MARK: The main page

    static func when(_ unix: Int64?) -> String { unix.map { RFC3339.format($0) } ?? "" }

    func main(smtpState: FormState? = nil, status: Int = 200) -> Response {
        let configuration = daemon.currentConfiguration()
        let entries = daemon.recipientEntries(configuration)
        let (smtpStatus, statuses) = daemon.agent.pageStatus()
        func statusOf(_ entry: RecipientEntry) -> RecipientStatus? {
            statuses.first { $0.name == entry.name && $0.kind == entry.kind.rawValue }
        }
        var body = "<h1>Outbound Events</h1>\n"

        body += "<section aria-labelledby=\"http-heading\"><h2 id=\"http-heading\">HTTP recipients</h2>\n"
        body += "<p><a href=\"/recipients/http/new\" class=\"button\">Add new HTTP recipient</a></p>\n"
        let http = entries.filter { $0.kind == .http }
        if http.isEmpty {
            body += "<p class=\"empty\">No HTTP recipients.</p>\n"
        } else {
            body += "<table id=\"http-recipients\"><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">URL</th>"
                + "<th scope=\"col\">Enabled</th><th scope=\"col\">Status</th><th scope=\"col\">Queued</th>"
                + "<th scope=\"col\">Delivered</th><th scope=\"col\">Dropped</th><th scope=\"col\">Failing since</th>"
                + "<th scope=\"col\"><span class=\"visually-hidden\">Actions</span></th></tr></thead><tbody>\n"
            for entry in http {
                let row = statusOf(entry)
                body += "<tr><th scope=\"row\">\(HTML.text(entry.name))</th>"
                    + "<td class=\"url\">\(HTML.text(Secrets.shown("url", entry.value("url") ?? "")))</td>"
                body += "<td>\(row.map { $0.enabled ? "Yes" : "No" } ?? "")</td>"
                    + "<td>\(HTML.text(row?.status ?? ""))</td>"
                body += "<td class=\"number\">\(row?.queued ?? 0)</td><td class=\"number\">\(row?.delivered ?? 0)</td>"
                    + "<td class=\"number\">\(row?.dropped ?? 0)</td>"
                body += "<td>\(HTML.text(Self.when(row?.failingSince)))</td>"
                    + "<td class=\"actions\">\(actions(entry))</td></tr>\n"
            }
            body += "</tbody></table>\n"
        }
        body += "</section>\n"

        body += "<section aria-labelledby=\"email-heading\"><h2 id=\"email-heading\">Email recipients</h2>\n"
        body += "<p><a href=\"/recipients/email/new\" class=\"button\">Add new email recipient</a></p>\n"
        let email = entries.filter { $0.kind == .email }
        if email.isEmpty {
            body += "<p class=\"empty\">No email recipients.</p>\n"
        } else {
            body += "<table id=\"email-recipients\"><thead><tr><th scope=\"col\">Name</th>"
                + "<th scope=\"col\">Email address</th><th scope=\"col\">Enabled</th><th scope=\"col\">Status</th>"
                + "<th scope=\"col\">Queued</th><th scope=\"col\">Delivered</th><th scope=\"col\">Dropped</th>"
                + "<th scope=\"col\"><span class=\"visually-hidden\">Actions</span></th></tr></thead><tbody>\n"
            for entry in email {
                let row = statusOf(entry)
                body += "<tr><th scope=\"row\">\(HTML.text(entry.name))</th>"
                    + "<td>\(HTML.text(Values.list(entry.value("addresses") ?? "").joined(separator: ", ")))</td>"
                body += "<td>\(row.map { $0.enabled ? "Yes" : "No" } ?? "")</td>"
                    + "<td>\(HTML.text(row?.status ?? ""))</td>"
                body += "<td class=\"number\">\(row?.queued ?? 0)</td><td class=\"number\">\(row?.delivered ?? 0)</td>"
                    + "<td class=\"number\">\(row?.dropped ?? 0)</td>"
                body += "<td class=\"actions\">\(actions(entry))</td></tr>\n"
            }
            body += "</tbody></table>\n"
        }
        body += "<p class=\"relay-status\">Current status: "
            + "<strong id=\"smtp-status\">\(HTML.text(smtpStatus))</strong></p>\n</section>\n"

        body += smtpForm(configuration, smtpState ?? smtpFormState(configuration))
        return document("Outbound Events", body, status: status)
    }

    func actions(_ entry: RecipientEntry) -> String {
        let path = "/recipients/\(entry.kind.rawValue)/\(HTML.pathSegment(entry.name))"
        var html = ""
        if entry.kind == .http {
            html += "<form method=\"post\" action=\"\(HTML.attribute(path))/test\">\(hidden())"
                + "<button type=\"submit\" class=\"secondary\">Send test</button></form>"
        }
        guard entry.managed else {
            return html + "<span class=\"hint\">Set in \(HTML.text(entry.location))</span>"
        }
        html += "<form method=\"get\" action=\"\(HTML.attribute(path))\">"
            + "<button type=\"submit\" class=\"secondary\">Edit</button></form>"
        html += "<form method=\"get\" action=\"\(HTML.attribute(path))/delete\">"
            + "<button type=\"submit\" class=\"warning\">Delete</button></form>"
        return html
    }

    // MARK: Email configuration

    static let smtpFields: [(key: String, id: String, label: String)] = [
        ("smtp.host", "smtp-host", "SMTP relay"), ("smtp.port", "smtp-port", "Port"),
        ("smtp.encryption", "smtp-encryption", "Encryption"), ("smtp.username", "smtp-username", "Username"),
        ("smtp.password", "smtp-password", "Password"), ("smtp.from", "smtp-from", "From"),
        ("smtp.ca_certificate", "smtp-ca", "CA certificate"),
    ]

    func smtpFormState(_ configuration: Configuration) -> FormState {
        var state = FormState()
        for (key, _, _) in Self.smtpFields {
            guard let value = configuration.file.agent.last(where: { $0.key == key })?.value else { continue }
            if key == "smtp.password" {
                state.secretStored = !value.isEmpty
            } else {
                state.values[key] = value
            }
        }
        if state.values["smtp.encryption"] == nil { state.values["smtp.encryption"] = "starttls" }
        return state
    }

    func smtpForm(_ configuration: Configuration, _ state: FormState) -> String {
        func fixed(_ key: String) -> String? {
            configuration.file.agent.last { $0.key == key && !configuration.isManaged($0.line) }
                .map { configuration.location($0.line) }
        }
        var body = "<section aria-labelledby=\"smtp-heading\"><h2 id=\"smtp-heading\">Email configuration</h2>\n"
        body += summary(state.refusals, ids: Dictionary(uniqueKeysWithValues: Self.smtpFields.map { ($0.key, $0.id) }),
                        labels: Dictionary(uniqueKeysWithValues: Self.smtpFields.map { ($0.key, $0.label) }))
        body += "<form method=\"post\" action=\"/smtp\" enctype=\"multipart/form-data\" id=\"smtp-form\">\(hidden())\n"
        body += field("smtp-host", "SMTP relay", "smtp.host", state,
                      hint: "Host name or address of the relay every email goes through.", readOnly: fixed("smtp.host"))
        body += field("smtp-port", "Port", "smtp.port", state, hint: "Empty: 25, or 465 with TLS.",
                      readOnly: fixed("smtp.port"), extra: " inputmode=\"numeric\"")
        body += select("smtp-encryption", "Encryption", "smtp.encryption", state,
                       options: [("starttls", "STARTTLS (required)"), ("tls", "TLS from the start"), ("none", "None")],
                       readOnly: fixed("smtp.encryption"))
        body += field("smtp-username", "Username", "smtp.username", state,
                      readOnly: fixed("smtp.username"), extra: " autocomplete=\"off\"")
        if let location = fixed("smtp.password") {
            body += "<div class=\"field\"><label for=\"smtp-password\">Password</label>"
                + "<input type=\"password\" id=\"smtp-password\" value=\"\" readonly>"
                + "<p class=\"hint\">Set in \(HTML.text(location)) (read-only here).</p></div>\n"
        } else {
            var blank = state
            blank.values["smtp.password"] = ""
            body += field("smtp-password", "Password", "smtp.password", blank,
                          hint: state.secretStored
                              ? "A password is set. Leave this empty to keep it." : "Write-only: it is never shown.",
                          type: "password", extra: " autocomplete=\"new-password\"")
            if state.secretStored {
                body += checkbox("smtp-password-remove", "Remove the password", "smtp.password_remove", state,
                                 checked: false)
            }
        }
        body += field("smtp-from", "From", "smtp.from", state,
                      hint: "Empty: outbound-events@ the appliance's host name.", readOnly: fixed("smtp.from"))
        body += textarea("smtp-ca", "CA certificate", "smtp.ca_certificate", state,
                         hint: "PEM text of the CA that signed the relay's certificate."
                             + " Empty: the system's trusted CAs.",
                         readOnly: fixed("smtp.ca_certificate"))
        body += "<div class=\"field\"><label for=\"smtp-ca-file\">CA certificate file</label>"
            + "<input type=\"file\" id=\"smtp-ca-file\" name=\"smtp.ca_certificate_file\" accept=\".pem,.crt,.cer\">"
            + "</div>\n"
        body += "<button type=\"submit\">Save</button>\n</form>\n"
        body += "<form method=\"post\" action=\"/smtp/test\" class=\"inline-test\">\(hidden())\n"
        body += field("smtp-test-to", "Send a test email to", "to", FormState(), type: "email",
                      extra: " autocomplete=\"email\"")
        body += "<button type=\"submit\" class=\"secondary\">Send test email</button>\n</form>\n</section>\n"
        return body
    }

    // MARK: Recipient forms

    static let httpFields: [(key: String, id: String, label: String)] = [
        ("name", "http-name", "Name"), ("url", "http-url", "URL"), ("enabled", "http-enabled", "Enabled"),
        ("ca_certificate", "http-ca", "Use a CA certificate"),
        ("send_custom_fields", "http-custom", "Send custom fields"),
        ("events", "http-events", "Events to send"), ("retry_interval", "http-retry-interval", "Retry interval"),
        ("retry_duration", "http-retry-duration", "Retry duration"),
        ("email_contacts", "http-email-contact", "Email contact"),
        ("email_alert_after", "http-alert-after", "Send email alert after"),
        ("email_alert_resend", "http-alert-resend", "Resend email alerts"),
        ("body_format", "http-body-format", "Body format"), ("signing_secret", "http-secret", "Signing secret"),
    ]

    static let emailFields: [(key: String, id: String, label: String)] = [
        ("enabled", "email-enabled", "Enabled"), ("name", "email-name", "Name"),
        ("addresses", "email-addresses", "Email address"),
        ("require_external_key", "email-external-key", "Require external key"),
        ("events", "email-events", "Events to send"), ("subject", "email-subject", "Subject"),
        ("body", "email-body", "Body"), ("retry_duration", "email-retry-duration", "Retry duration"),
    ]

    /// A recipient's form state from its stored settings (or a new one's defaults).
    func formState(_ kind: SettingsFile.Recipient.Kind, _ entry: RecipientEntry?) -> FormState {
        var state = FormState()
        let profile = daemon.agent.profile
        for (key, value) in entry?.settings ?? [] {
            if key == "signing_secret" {
                state.secretStored = !value.isEmpty
            } else {
                state.values[key] = Secrets.shown(key, value)
            }
        }
        state.values["name"] = entry?.name ?? ""
        state.values["enabled"] = state.values["enabled"] ?? "true"
        if kind == .http, !(state.values["ca_certificate"] ?? "").isEmpty { state.values["ca_use"] = "true" }
        let selected = Values.list(state.values["events"] ?? "all")
        for event in profile.events where kind == .http ? event.http : event.email {
            if selected == ["all"] || selected.contains(event.name) { state.events.insert(event.name) }
        }
        if kind == .http && state.values["body_format"] == nil { state.values["body_format"] = "form" }
        return state
    }

    func recipientForm(_ kind: SettingsFile.Recipient.Kind, name: String?, _ state: FormState,
                       status: Int = 200) -> Response {
        let fields = kind == .http ? Self.httpFields : Self.emailFields
        let title = name.map { "Edit \(kind == .http ? "HTTP" : "email") recipient \($0)" }
            ?? "Add new \(kind == .http ? "HTTP" : "email") recipient"
        let action = name.map { "/recipients/\(kind.rawValue)/\(HTML.pathSegment($0))" }
            ?? "/recipients/\(kind.rawValue)/new"
        var body = "<h1>\(HTML.text(title))</h1>\n"
        body += summary(state.refusals, ids: Dictionary(uniqueKeysWithValues: fields.map { ($0.key, $0.id) }),
                        labels: Dictionary(uniqueKeysWithValues: fields.map { ($0.key, $0.label) }))
        body += "<form method=\"post\" action=\"\(HTML.attribute(action))\" enctype=\"multipart/form-data\""
            + " class=\"recipient\">\(hidden())\n"
        let nameExtra = name == nil ? " required maxlength=\"64\"" : " readonly"
        if kind == .http {
            body += field("http-name", "Name", "name", state,
                          hint: name == nil
                              ? "1 to 64 characters; it names the recipient in the journal and the status."
                              : "A recipient keeps its name; add a new one to use another.",
                          extra: nameExtra)
            body += field("http-url", "URL", "url", state,
                          hint: "http:// or https://. "
                              + "Credentials and the path after its first segment are never shown again.",
                          extra: " required")
            body += checkbox("http-enabled", "Enabled", "enabled", state, checked: state.value("enabled") == "true")
            body += "<fieldset class=\"ca\"><legend>CA certificate</legend>"
            body += checkbox("http-ca", "Use a CA certificate", "ca_use", state,
                             checked: state.value("ca_use") == "true")
            body += textarea("http-ca-pem", "CA certificate (PEM)", "ca_certificate", state,
                             hint: "Paste the PEM text, or upload its file below."
                                 + " Only this CA is trusted for the recipient.")
            body += "<div class=\"field\"><label for=\"http-ca-file\">CA certificate file</label>"
                + "<input type=\"file\" id=\"http-ca-file\" name=\"ca_certificate_file\" accept=\".pem,.crt,.cer\">"
                + "</div></fieldset>\n"
            body += checkbox("http-custom", "Send custom fields", "send_custom_fields", state,
                             checked: state.value("send_custom_fields") == "true")
            body += events("http", kind: .http, state)
            body += field("http-retry-interval", "Retry interval", "retry_interval", state,
                          hint: "Empty: 1m. For example 30s, 5m, 2h.")
            body += field("http-retry-duration", "Retry duration", "retry_duration", state,
                          hint: "Empty: 1d. An event still failing after this long is dropped.")
            body += field("http-email-contact", "Email contact", "email_contacts", state,
                          hint: "Addresses alerted when deliveries fail, up to ten, comma-separated.")
            body += field("http-alert-after", "Send email alert after", "email_alert_after", state, hint: "Empty: 1h.")
            body += field("http-alert-resend", "Resend email alerts", "email_alert_resend", state, hint: "Empty: 1d.")
            body += select("http-body-format", "Body format", "body_format", state,
                           options: [("form", "Form (application/x-www-form-urlencoded)"),
                                     ("json", "JSON (Standard Webhooks)")])
            var blank = state
            blank.values["signing_secret"] = ""
            body += field("http-secret", "Signing secret", "signing_secret", blank,
                          hint: state.secretStored
                              ? "A signing secret is set. Leave this empty to keep it."
                              : "Optional: whsec_<base64> or any text. Write-only: it is never shown.",
                          type: "password", extra: " autocomplete=\"new-password\"")
            if state.secretStored {
                body += checkbox("http-secret-remove", "Remove the signing secret", "signing_secret_remove", state,
                                 checked: false)
            }
        } else {
            body += checkbox("email-enabled", "Enabled", "enabled", state, checked: state.value("enabled") == "true")
            body += field("email-name", "Name", "name", state,
                          hint: name == nil
                              ? "1 to 64 characters." : "A recipient keeps its name; add a new one to use another.",
                          extra: nameExtra)
            body += field("email-addresses", "Email address", "addresses", state,
                          hint: "Up to ten addresses, comma-separated.", extra: " required")
            body += checkbox("email-external-key", "Require external key", "require_external_key", state,
                             checked: state.value("require_external_key") == "true")
            body += events("email", kind: .email, state)
            body += field("email-subject", "Subject", "subject", state,
                          hint: "Empty: \(EmailRecipientSettings.defaultSubject)")
            body += textarea("email-body", "Body", "body", state,
                             hint: "Empty: the event's label, its time and every variable, one per line. "
                                 + "<a href=\"/macros\">The macros you can use</a>.",
                             rows: 8)
            body += field("email-retry-duration", "Retry duration", "retry_duration", state, hint: "Empty: 1d.")
        }
        body += "<div class=\"buttons\"><button type=\"submit\">Save</button> <a href=\"/\">Cancel</a></div>\n</form>\n"
        return document(title, body, status: status)
    }

    func confirmDelete(_ kind: SettingsFile.Recipient.Kind, _ name: String) -> Response {
        let path = "/recipients/\(kind.rawValue)/\(HTML.pathSegment(name))/delete"
        let what = kind == .http ? "HTTP recipient" : "email recipient"
        let body = """
            <h1>Delete the \(what) \(HTML.text(name))?</h1>
            <p>Its queued events are discarded, and it gets no new ones.</p>
            <form method="post" action="\(HTML.attribute(path))">\(hidden())
            <div class="buttons"><button type="submit" class="warning">Delete</button> <a href="/">Cancel</a></div>
            </form>
            """
        return document("Delete \(name)", body)
    }

    func testResult(_ title: String, _ result: TestResult) -> Response {
        var body = "<h1>\(HTML.text(title))</h1>\n"
        if let refusal = result.refusal {
            body += "<div class=\"error-summary\" role=\"alert\"><p>\(HTML.text(refusal.message))</p></div>\n"
        } else {
            body += "<p class=\"\(result.delivered ? "ok" : "error")\" id=\"test-outcome\">"
                + "\(result.delivered ? "Delivered." : "Not delivered.")</p>\n"
            body += "<pre class=\"report\">\(HTML.text(result.lines.joined(separator: "\n")))</pre>\n"
        }
        body += "<p><a href=\"/\">Back to Outbound Events</a></p>"
        return document(title, body, status: result.refusal?.status ?? 200)
    }

    func macros() -> Response {
        let rows: [(String, String)] = [
            ("%EVENT_LABEL%", "the event's label in the catalog (“Support session ended”)"),
            ("%EVENT%", "the event's name (support_conference_end)"),
            ("%TIME%", "when the event occurred, RFC 3339 UTC"),
            ("%TIMESTAMP%", "when the event occurred, Unix seconds"),
            ("%APPLIANCE_ID%", "the appliance's id"),
            ("%LSID%", "the session's id"),
            ("%EXTERNAL_KEY%", "the session's external key"),
            ("%NAME%", "any variable of the event by its name, in any case; empty when the event has none"),
            ("%CUSTOM:NAME%", "the custom field NAME"),
            ("%%", "a percent sign"),
        ]
        var body = "<h1>Macros for Subject and Body</h1>\n<table id=\"macros\"><thead><tr>"
            + "<th scope=\"col\">Macro</th><th scope=\"col\">Stands for</th></tr></thead><tbody>\n"
        for (macro, meaning) in rows {
            body += "<tr><td><code>\(HTML.text(macro))</code></td><td>\(HTML.text(meaning))</td></tr>\n"
        }
        body += "</tbody></table>\n<p>Events of this appliance's firmware profile:</p>\n<ul class=\"catalog\">"
        for event in daemon.agent.profile.events {
            body += "<li><code>\(HTML.text(event.name))</code>: \(HTML.text(event.label))</li>"
        }
        body += "</ul>\n<p><a href=\"/\">Back to Outbound Events</a></p>"
        return document("Macros", body)
    }

    static let stylesheet = Response(status: 200, contentType: "text/css; charset=utf-8", body: Array(css.utf8))

    static let css = """
        :root { --ink: #1d2428; --muted: #5a6670; --line: #c9d1d6; --accent: #0b5cad; --bad: #b3261e; --good: #1e7a3a; }
        * { box-sizing: border-box; }
        body { margin: 0; \
        font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; \
        color: var(--ink); background: #f6f8f9; }
        header { display: flex; justify-content: space-between; align-items: center; padding: .6rem 2rem; \
        background: #22313a; color: #fff; }
        header a { color: #fff; }
        .crumbs { margin: 0; font-weight: 600; }
        main { max-width: 72rem; margin: 0 auto; padding: 1rem 2rem 3rem; }
        h1 { font-size: 1.6rem; margin: 1rem 0; }
        h2 { font-size: 1.25rem; margin: 2rem 0 .75rem; padding-bottom: .25rem; border-bottom: 1px solid var(--line); }
        section { margin-bottom: 1.5rem; }
        table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); }
        th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        thead th { background: #eef2f4; font-size: .9rem; }
        td.number { text-align: right; font-variant-numeric: tabular-nums; }
        td.url { min-width: 16rem; overflow-wrap: anywhere; font-family: ui-monospace, monospace; font-size: .9rem; }
        td.actions { white-space: nowrap; }
        td.actions form { display: inline; margin-right: .25rem; }
        td.actions .hint { display: block; white-space: normal; max-width: 14rem; overflow-wrap: anywhere; \
        margin-top: .25rem; }
        .field { margin: 0 0 1rem; }
        .field label, legend { display: block; font-weight: 600; margin-bottom: .2rem; }
        .field.checkbox label, .checkbox label { display: inline; font-weight: 400; margin-left: .4rem; }
        .checkbox { margin: .2rem 0; }
        fieldset { border: 1px solid var(--line); padding: .6rem 1rem; margin: 0 0 1rem; background: #fff; }
        input[type=text], input[type=password], input[type=email], input:not([type]), select, textarea { \
        width: 100%; max-width: 40rem; padding: .4rem .5rem; font: inherit; border: 1px solid #8a979f; \
        border-radius: 3px; background: #fff; }
        textarea { font-family: ui-monospace, monospace; font-size: .85rem; }
        input[readonly], textarea[readonly] { background: #eef2f4; }
        .hint { color: var(--muted); font-size: .9rem; margin: 0 0 .25rem; }
        .error { color: var(--bad); font-weight: 600; margin: 0 0 .25rem; }
        .has-error input, .has-error textarea, .has-error select { border: 2px solid var(--bad); }
        .has-error { border-left: 4px solid var(--bad); padding-left: .75rem; }
        .error-summary { border: 3px solid var(--bad); background: #fff; padding: .5rem 1rem; margin: 1rem 0; }
        .error-summary h2 { border: 0; margin: .25rem 0; color: var(--bad); }
        .error-summary a { color: var(--bad); }
        .ok { color: var(--good); font-weight: 600; }
        button, .button { display: inline-block; font: inherit; font-weight: 600; padding: .4rem .9rem; \
        border: 1px solid var(--accent); border-radius: 3px; background: var(--accent); color: #fff; \
        text-decoration: none; cursor: pointer; }
        button.secondary { background: #fff; color: var(--accent); }
        button.warning { background: #fff; color: var(--bad); border-color: var(--bad); }
        header button.secondary { padding: .2rem .6rem; }
        .buttons a { margin-left: .75rem; }
        form.narrow { max-width: 24rem; }
        .inline-test { margin-top: 1.5rem; padding-top: 1rem; border-top: 1px dashed var(--line); }
        pre.report { background: #fff; border: 1px solid var(--line); padding: .75rem; overflow-x: auto; \
        font-size: .85rem; }
        .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
        .empty { color: var(--muted); }

        """
}
