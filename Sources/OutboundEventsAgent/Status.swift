import Glibc
import OutboundEventsCore

/// The status document of SPEC section 3, for `oe_agent_status_json`, `status.path` and the
/// tool. Secrets (SMTP password, signing secrets, URL passwords) never appear in it.
extension Agent {
    public func status() -> String {
        lock.withLock { statusJSON() }
    }

    /// With the lock held.
    func statusJSON() -> String {
        var json = JSONWriter()
        json.object { json in
            json.field("version", environment.version)
            json.field("appliance_id", settings.applianceID)
            json.field("deployment", settings.deployment.rawValue)
            json.field("firmware_profile", profile.name)
            json.field("pid", Int(getpid()))
            json.field("updated", clock.unixSeconds())
            json.field("http_proxy", settings.proxy?.redacted)
            json.object("queue") { json in
                json.field("capacity_bytes", settings.queueCapacity)
                json.field("used_bytes", queue.usedBytes)
                json.field("queued_events", queue.count)
                json.field("dropped_overflow", queue.droppedOverflow)
                json.field("overflow", settings.queueOverflow.rawValue)
                json.field("spool", settings.queueSpool.isEmpty ? nil : settings.queueSpool)
            }
            json.object("smtp") { json in
                json.field("status", settings.smtp.isConfigured ? smtpStatus.text : "not configured")
                json.field("relay", settings.smtp.isConfigured ? relayAddress : nil)
                json.field("pending_alerts", alerts.count)
            }
            json.array("recipients") { json in
                for (slot, recipient) in slots.enumerated() {
                    guard let recipient else { continue }
                    json.object { json in recipientStatus(recipient, slot: slot, into: &json) }
                }
            }
        }
        return json.text
    }

    func recipientStatus(_ recipient: Recipient, slot: Int, into json: inout JSONWriter) {
        json.field("name", recipient.name)
        json.field("kind", recipient.kind.rawValue)
        json.field("enabled", recipient.enabled)
        json.field("url", recipient.http?.url?.redacted)
        if let email = recipient.email {
            json.array("addresses") { json in
                for address in email.addresses { json.element(address) }
            }
            json.field("refused_addresses", recipient.refusedAddresses)
        }
        json.field("status", recipient.lastError ?? "OK")
        json.field("queued_events", recipient.enabled ? queue.slots[slot].queued : 0)
        json.field("delivered", recipient.delivered)
        json.field("dropped_expired", recipient.droppedExpired)
        json.field("dropped_overflow", queue.slots[slot].droppedOverflow)
        json.field("discarded", recipient.discarded)
        json.field("failing_since", recipient.failingSince)
        json.field("last_http_status", recipient.lastHTTPStatus)
        json.field("attempts", recipient.attempts)
        let selected = recipient.http?.events ?? recipient.email?.events
        if let selected {
            if selected.isAll {
                json.field("events", "all")
            } else {
                json.field("events", profile.events.indices.filter(selected.contains).map { profile.events[$0].name }.joined(separator: ","))
            }
        }
    }

}
