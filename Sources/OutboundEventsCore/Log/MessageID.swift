/// The MESSAGE_ID of each kind of trouble, made once with `systemd-id128 new` and never
/// changed: field engineers and monitoring filter on them, and the catalog
/// (packaging/outbound-events.catalog) explains each with `journalctl -x`.
public enum MessageID: String, CaseIterable, Sendable {
    case recipientFailing = "3be05f24e14848368b0e00acc0225f0c"
    case recipientStillFailing = "dc163be18c584046bcc43790ced47a95"
    case recipientRecovered = "0601f27477e04b3ba9555b083c2923cd"
    case eventExpired = "a6c3f0bee49c47059bbaad544b70010c"
    case queueOverflow = "9f2592a63f2a4971832fe8ae69970c2c"
    case tlsVerificationFailed = "fb2152f2b0a24dcb905b92e66926668b"
    case caCertificateRejected = "5f7cbde0d11a42f7a41340654b551452"
    case smtpFailing = "0fe36946193b4cd7b317e7a5a9defe3f"
    case smtpRecovered = "0d4930a8ebe44aeb8051f87b8a99f036"
    case alertSent = "637176d64fa142ceb20213f23c17ac5c"
    case eventsLostAtShutdown = "6af43e869e524fe0b98e41ef31e844ca"
    case spoolRecovered = "2f371e11cd2b4977b5ffa831b69e6684"
    case spoolDamaged = "642b9c851e9a4630869bb1407e986473"
    case settingsRefused = "9797f855268b4d0d9087092baf93941e"
    case eventsDiscarded = "d10625f63c68417882f429284e8a2cf3"
    case emailDropped = "12c284dece204afdb0bbea955f93b0f5"
    case addressRefused = "3adf6f2e7ee845ff80258e2ec5b15e6f"
    case eventRefused = "ddd657ca010043b4b4c7c8278b6b379d"
    // Power cuts (SPEC 11).
    case uncleanStop = "cacc2c5b93c44a138e11c42c17b5ccc4"
    case syncFailed = "4f991fac0b694661907bdcc74079d68f"
    // Appliance mode (SPEC 9): the daemon.
    case daemonStarted = "1bef42368adc410c94322abfb189a070"
    case reloadApplied = "e77baefbd60545a2b72efbc8b98c4c49"
    case reloadRefused = "ca96b84926e84ab3a5b54914bc659c13"
    case intakeProblem = "d8ee74c4ea9e4dc3a841ff04866a211b"
    case writerAbandoned = "c0d789acb853465f850e8871605e1dab"
    // The Outbound Events page (SPEC 13).
    case loginsPaused = "a30c81e77f92422eb59cce81772ab8a2"
}
