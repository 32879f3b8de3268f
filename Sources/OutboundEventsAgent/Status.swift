import CSystem
import Locking
import OutboundEventsCore

/// The status document of SPEC section 3, for `oe_agent_status_json`, `status.path` and the
/// tool. Secrets (SMTP password, signing secrets, URL credentials and tokens) never appear in
/// it: URLs are in their redacted form.
///
/// The values are copied under the lock (`statusSnapshot`), and the JSON text is made after it
/// is released, so rendering never holds up an `oe_emit`.
struct StatusSnapshot {
    struct RecipientRow {
        var name: String
        var kind: String
        var enabled: Bool
        var url: String?
        var addresses: [String]?
        var refusedAddresses: UInt64?
        var status: String
        var queued: Int
        var delivered: UInt64
        var droppedExpired: UInt64
        var droppedOverflow: UInt64
        var discarded: UInt64
        var failingSince: Int64?
        var lastHTTPStatus: Int?
        var attempts: Int
        var events: String
    }

    var version: String
    /// "running" in the daemon's status (appliance mode), nil for an in-process agent.
    var daemon: String?
    var applianceID: String
    var deployment: String
    var profile: String
    var updated: Int64
    var proxy: String?
    var capacity: Int
    var usedBytes: Int
    var queuedEvents: Int
    var droppedOverflow: UInt64
    var intakeDropped: UInt64?
    var overflow: String
    var spool: String?
    var smtpStatus: String
    var relay: String?
    var pendingAlerts: Int
    var recipients: [RecipientRow]

    var json: String {
        var json = JSONWriter()
        json.object { json in
            json.field("version", version)
            if let daemon { json.field("daemon", daemon) }
            json.field("appliance_id", applianceID)
            json.field("deployment", deployment)
            json.field("firmware_profile", profile)
            json.field("pid", Int(getpid()))
            json.field("updated", updated)
            json.field("http_proxy", proxy)
            json.object("queue") { json in
                json.field("capacity_bytes", capacity)
                json.field("used_bytes", usedBytes)
                json.field("queued_events", queuedEvents)
                json.field("dropped_overflow", droppedOverflow)
                if let intakeDropped { json.field("intake_dropped", intakeDropped) }
                json.field("overflow", overflow)
                json.field("spool", spool)
            }
            json.object("smtp") { json in
                json.field("status", smtpStatus)
                json.field("relay", relay)
                json.field("pending_alerts", pendingAlerts)
            }
            json.array("recipients") { json in
                for row in recipients {
                    json.object { json in
                        json.field("name", row.name)
                        json.field("kind", row.kind)
                        json.field("enabled", row.enabled)
                        json.field("url", row.url)
                        if let addresses = row.addresses {
                            json.array("addresses") { json in
                                for address in addresses { json.element(address) }
                            }
                        }
                        if let refused = row.refusedAddresses { json.field("refused_addresses", refused) }
                        json.field("status", row.status)
                        json.field("queued_events", row.queued)
                        json.field("delivered", row.delivered)
                        json.field("dropped_expired", row.droppedExpired)
                        json.field("dropped_overflow", row.droppedOverflow)
                        json.field("discarded", row.discarded)
                        json.field("failing_since", row.failingSince)
                        json.field("last_http_status", row.lastHTTPStatus)
                        json.field("attempts", row.attempts)
                        json.field("events", row.events)
                    }
                }
            }
        }
        return json.text
    }
}

extension Agent {
    public func status() -> String {
        lock.withLock { statusSnapshot() }.json
    }

    /// Without the lock: writes the document to `status.path` (when set) and, in the daemon, to
    /// the intake for producers.
    func publish(_ status: StatusSnapshot, path: String) {
        let json = status.json
        if !path.isEmpty { Files.writeAtomically(path, json + "\n") }
        environment.publishStatus?(json)
    }

    /// With the lock held: the values of the status document.
    func statusSnapshot() -> StatusSnapshot {
        let rows: [StatusSnapshot.RecipientRow] = slots.indices.compactMap { slot in
            guard let recipient = slots[slot] else { return nil }
            let delivery = recipient.delivery
            let selected = recipient.http?.events ?? recipient.email?.events
            let events = selected.map { selected in
                selected.isAll ? "all" : profile.events.indices.filter(selected.contains)
                    .map { profile.events[$0].name }.joined(separator: ",")
            } ?? ""
            return StatusSnapshot.RecipientRow(
                name: recipient.name, kind: recipient.kind.rawValue, enabled: recipient.enabled,
                url: recipient.http?.url?.redacted, addresses: recipient.email?.addresses,
                refusedAddresses: recipient.email != nil ? delivery.counters.refusedAddresses : nil,
                status: recipient.statusText, queued: recipient.enabled ? queue.slot(slot).queued : 0,
                delivered: delivery.counters.delivered, droppedExpired: delivery.counters.droppedExpired,
                droppedOverflow: queue.slot(slot).droppedOverflow, discarded: recipient.discarded,
                failingSince: delivery.streak?.sinceUnix,
                lastHTTPStatus: recipient.http != nil ? delivery.lastStatus : nil,
                attempts: delivery.attempts, events: events)
        }
        return StatusSnapshot(
            version: environment.version, daemon: environment.publishStatus == nil ? nil : "running",
            applianceID: settings.applianceID, deployment: settings.deployment.rawValue,
            profile: profile.name, updated: clock.unixSeconds(), proxy: settings.proxy?.redacted,
            capacity: settings.queueCapacity, usedBytes: queue.usedBytes, queuedEvents: queue.count,
            droppedOverflow: queue.droppedOverflow, intakeDropped: environment.intakeDropped?(),
            overflow: settings.queueOverflow.rawValue,
            spool: settings.queueSpool.isEmpty ? nil : settings.queueSpool,
            smtpStatus: settings.smtp.isConfigured ? smtpStatus.text : "not configured",
            relay: settings.smtp.isConfigured ? relayAddress : nil, pendingAlerts: alerts.count, recipients: rows)
    }
}
