import ArgumentParser
import Glibc
import OutboundEventsCore
import TLSMaterial

struct AdminPassword: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin-password",
        abstract: "Hash the Outbound Events page's login password for admin.password_hash.",
        discussion: """
            Reads the password from standard input (its first line; nothing is echoed when it is \
            typed at a terminal) and prints the line to put in outbound-eventsd's configuration \
            file: admin.password_hash = $scrypt$... The hash is scrypt (OpenSSL's EVP_PBE_scrypt, \
            N=2^15, r=8, p=1) with a random salt; the password itself is never stored. Exit status \
            0 when a hash was printed, 1 otherwise.
            """
    )

    func run() throws {
        let terminal = isatty(0) == 1
        var saved = termios()
        if terminal {
            complain("Password for the Outbound Events page (not shown):")
            tcgetattr(0, &saved)
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(0, TCSANOW, &quiet)
        }
        let line = readLine(strippingNewline: true)
        if terminal {
            tcsetattr(0, TCSANOW, &saved)
            complain("")
        }
        guard let password = line, !password.isEmpty else {
            complain("admin-password: give the password on standard input (one line, not empty)")
            throw ExitCode(1)
        }
        guard let hash = PasswordHash.make(password) else {
            complain("admin-password: OpenSSL could not make the hash")
            throw ExitCode(1)
        }
        print("admin.password_hash = \(hash)")
    }
}
