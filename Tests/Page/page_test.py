#!/usr/bin/python3
"""The Outbound Events page and its API (SPEC 13), end to end.

Starts outbound-eventsd on a configuration of its own (a Unix socket and a TCP listener with a
password), a webhook receiver that verifies signatures with the official Standard Webhooks
library (scripts/receiver.py), an SMTP relay (scripts/smtp-receiver.py), and a real headless
chromium through chromedriver (Debian's chromium, chromium-driver and python3-selenium). The
browser logs in, adds an HTTP recipient with every field and sees a refused value explained
with what it typed kept, edits, disables and deletes it, sets the relay, adds an email
recipient, sends tests, and sees that the events a producer emits reach the recipients it
added. Plain HTTP clients then check the API and every refusal of SPEC 13.

Usage: Tests/Page/page_test.py [BINDIR]   (default: swift build --show-bin-path)
The tool is BINDIR's; the daemon is the one OE_DAEMON names (make test-page: the shipped,
Embedded Swift build of make lib), else BINDIR's.
With OE_PAGE_SCREENSHOT=PATH, the screenshot of the page with its recipients is saved there
(docs/page.png is one). Every wait has a deadline; every process started is ended on exit.
Exit status 0 when every check passed; the last line says "N passed, M failed".
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PASSWORD = "correct horse battery staple"

processes = []
results = {"passed": 0, "failed": 0}


def cleanup():
    for process in reversed(processes):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for(what, predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


def check(name, function):
    try:
        function()
        results["passed"] += 1
        print("ok - %s" % name, flush=True)
    except Exception as error:  # a failed check is reported and the next one runs
        results["failed"] += 1
        print("not ok - %s: %s" % (name, error), flush=True)
        traceback.print_exc(limit=3)


def start(arguments, **kwargs):
    process = subprocess.Popen(arguments, **kwargs)
    processes.append(process)
    return process


def port_line(process):
    line = process.stdout.readline().decode()
    assert line.startswith("PORT "), "no PORT line: %r" % line
    return int(line.split()[1])


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.path)


def request(connection, method, path, body=None, headers=None):
    """(status, headers, body text) of one request on a new connection."""
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read().decode("utf-8", "replace")
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def records(path):
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as log:
            return [json.loads(line) for line in log if line.strip()]
    except FileNotFoundError:
        return []


def main():
    bindir = sys.argv[1] if len(sys.argv) > 1 else subprocess.run(
        ["swift", "build", "--show-bin-path"], cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
    daemon_binary = os.environ.get("OE_DAEMON") or os.path.join(bindir, "outbound-eventsd")
    tool = os.path.join(bindir, "outbound-events-tool")
    work = tempfile.mkdtemp(prefix="oe-page-")
    try:
        run(daemon_binary, tool, work)
    finally:
        cleanup()
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (results["passed"], results["failed"]))
    return 0 if results["failed"] == 0 else 1


def run(daemon_binary, tool, work):
    receiver = start([sys.executable, os.path.join(ROOT, "scripts/receiver.py"), "--log", work + "/webhooks.jsonl",
                      "--verify", SECRET], stdout=subprocess.PIPE)
    receiver_port = port_line(receiver)
    os.makedirs(work + "/mail")
    relay = start(["/usr/bin/python3", os.path.join(ROOT, "scripts/smtp-receiver.py"), "--dir", work + "/mail"], stdout=subprocess.PIPE)
    relay_port = port_line(relay)
    hashed = subprocess.run([tool, "admin-password"], input=PASSWORD + "\n", check=True, stdout=subprocess.PIPE,
                            text=True).stdout.strip()
    assert hashed.startswith("admin.password_hash = $scrypt$"), hashed
    assert PASSWORD not in hashed
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", work + "/ca.key", "-out",
                    work + "/ca.pem", "-days", "2", "-subj", "/CN=Page Test CA", "-addext",
                    "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    page_port = free_port()
    socket_path = work + "/admin.sock"
    spool = work + "/queue"
    config = work + "/outbound-events.conf"
    with open(config, "w") as file:
        file.write("""queue.spool = %s
status.path = %s/status.json
log.destination = stderr
shutdown_timeout = 1s
http.request_timeout = 5s
admin.socket = %s
admin.listen = 127.0.0.1:%d
%s

[http from-file]
url = http://127.0.0.1:%d/from-file
signing_secret = %s
""" % (spool, work, socket_path, page_port, hashed, receiver_port, SECRET))
    check_output = subprocess.run([tool, "check", config], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    check("outbound-events check accepts the daemon's admin.* settings",
          lambda: (check_output.returncode == 0) or (_ for _ in ()).throw(AssertionError(check_output.stdout)))
    daemon_log = open(work + "/daemon.log", "w")
    daemon = start([daemon_binary, "--config", config], stderr=daemon_log, stdout=subprocess.DEVNULL)
    wait_for("the daemon to listen", lambda: os.path.exists(socket_path) and " started: " in open(work + "/daemon.log").read())
    base = "http://127.0.0.1:%d" % page_port

    def emit(lsid):
        result = subprocess.run([tool, "emit", "--attach", spool, "support_conference_end", "lsid=" + lsid],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
        assert result.returncode == 0, result.stdout

    def webhooks(path, lsid):
        return [r for r in records(work + "/webhooks.jsonl") if r["path"].startswith(path) and ("lsid=" + lsid) in r["body"]]

    def mails(text):
        return [m for m in records(work + "/mail/messages.jsonl") if text in m.get("subject", "") + m.get("body", "")]

    browser_checks(base, work, emit, webhooks, mails, receiver_port, relay_port)
    api_checks(base, socket_path, work, emit, webhooks, daemon)

    def stops():
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=10) == 0
        assert not os.path.exists(socket_path), "the socket is left behind"
    check("SIGTERM stops the daemon with its page, exit status 0", stops)
    log = open(work + "/daemon.log").read()
    check("no secret in the daemon's log", lambda: no_secret(log))
    if results["failed"]:
        print("--- daemon log\n" + log[-4000:])


def no_secret(text):
    for secret in (SECRET, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "token-123", "key=abc", "relay-password", PASSWORD):
        assert secret not in text, "%s appears" % secret


def browser_checks(base, work, emit, webhooks, mails, receiver_port, relay_port):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = Options()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", "--user-data-dir=" + work + "/chromium"):
        options.add_argument(argument)
    options.binary_location = "/usr/bin/chromium"
    service = Service("/usr/bin/chromedriver", log_output=open(work + "/chromedriver.log", "w"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(10)
    try:
        run_browser(driver, By, base, work, emit, webhooks, mails, receiver_port, relay_port)
    finally:
        driver.quit()


def run_browser(driver, By, base, work, emit, webhooks, mails, receiver_port, relay_port):
    def field(label):
        """The input a <label for> names, found by the label's text."""
        labels = driver.find_elements(By.XPATH, '//label[normalize-space()="%s"]' % label)
        assert len(labels) == 1, "%d labels %r" % (len(labels), label)
        return driver.find_element(By.ID, labels[0].get_attribute("for"))

    def button(text, scope=None):
        return (scope or driver).find_element(By.XPATH, './/button[normalize-space()="%s"]' % text)

    def type_into(label, text):
        element = field(label)
        element.clear()
        element.send_keys(text)

    def tick(label, on=True):
        element = field(label)
        if element.is_selected() != on:
            element.click()

    def row(table, name):
        for candidate in driver.find_elements(By.CSS_SELECTOR, "#%s tbody tr" % table):
            if candidate.find_element(By.TAG_NAME, "th").text == name:
                return candidate
        return None

    def loaded(title):
        def ready():
            try:
                return title in driver.find_element(By.TAG_NAME, "h1").text
            except Exception:  # the page is being replaced: try again
                return False
        wait_for("the page %r" % title, ready, 20)

    name = "hooks <b>&"
    url = "http://127.0.0.1:%d/hook/token-123?key=abc" % receiver_port

    def login():
        driver.get(base + "/")
        loaded("Log in")
        type_into("Password", "not it")
        button("Log in").click()
        wait_for("the refusal", lambda: "The password is wrong." in driver.page_source)
        type_into("Password", PASSWORD)
        button("Log in").click()
        loaded("Outbound Events")
        assert driver.find_element(By.ID, "http-heading").text == "HTTP recipients"
    check("browser: logs in with the password (a wrong one is refused)", login)

    def add_http():
        driver.find_element(By.LINK_TEXT, "Add new HTTP recipient").click()
        loaded("Add new HTTP recipient")
        type_into("Name", name)
        type_into("URL", url)
        tick("Enabled")
        tick("Use a CA certificate")
        type_into("CA certificate (PEM)", open(work + "/ca.pem").read())
        tick("Send custom fields")
        for label in ("Session start", "Session end", "Someone joins a session"):
            tick(label, True)
        tick("Customer exit survey completed", False)
        type_into("Retry interval", "5 parsecs")
        type_into("Retry duration", "2h")
        type_into("Email contact", "ops@example.com")
        type_into("Send email alert after", "30m")
        type_into("Resend email alerts", "3h")
        field("Body format").find_element(By.CSS_SELECTOR, "option[value=form]").click()
        type_into("Signing secret", SECRET)
        button("Save").click()
        wait_for("the refusal", lambda: "There is a problem" in driver.page_source)
        summary = driver.find_element(By.CLASS_NAME, "error-summary").text
        assert "Retry interval" in summary and "is not a duration" in summary, summary
        next_to = driver.find_element(By.ID, "http-retry-interval-error").text
        assert "is not a duration" in next_to, next_to
        assert field("Retry interval").get_attribute("value") == "5 parsecs"
        assert field("Email contact").get_attribute("value") == "ops@example.com"
        assert field("URL").get_attribute("value") == url
        assert field("Send custom fields").is_selected()
        assert not field("Customer exit survey completed").is_selected()
        assert field("Signing secret").get_attribute("value") == "", "a secret was sent back into the page"
        type_into("Retry interval", "5s")
        type_into("Signing secret", SECRET)
        button("Save").click()
        loaded("Outbound Events")
        line = wait_for("the new row", lambda: row("http-recipients", name))
        text = line.text
        assert "token-123" not in driver.page_source and "key=abc" not in driver.page_source, "the URL's secrets are shown"
        assert "http://127.0.0.1:%d/hook/…?key=***" % receiver_port in text, text
    check("browser: adds an HTTP recipient with every field; a refused value is explained next to its field, the values typed kept", add_http)

    def escaped():
        assert "hooks <b>&" == row("http-recipients", name).find_element(By.TAG_NAME, "th").text
        assert "hooks &lt;b&gt;&amp;" in driver.page_source
    check("browser: a name with markup is shown as text", escaped)

    def screenshot():
        target = os.environ.get("OE_PAGE_SCREENSHOT")
        path = target or work + "/page.png"
        assert driver.save_screenshot(path), "no screenshot"
        assert os.path.getsize(path) > 10000
    # Taken once the relay and the email recipient are there too (below).

    def edit():
        button("Edit", row("http-recipients", name)).click()
        loaded("Edit HTTP recipient")
        assert field("Retry duration").get_attribute("value") == "2h"
        assert "A signing secret is set" in driver.page_source
        type_into("Retry duration", "3h")
        button("Save").click()
        loaded("Outbound Events")
        button("Edit", row("http-recipients", name)).click()
        loaded("Edit HTTP recipient")
        assert field("Retry duration").get_attribute("value") == "3h"
        driver.find_element(By.LINK_TEXT, "Cancel").click()
        loaded("Outbound Events")
    check("browser: edits a recipient (the signing secret kept, never shown)", edit)

    def relay():
        type_into("SMTP relay", "127.0.0.1")
        type_into("Port", str(relay_port))
        field("Encryption").find_element(By.CSS_SELECTOR, "option[value=none]").click()
        type_into("Username", "")
        type_into("From", "appliance@example.com")
        button("Save", driver.find_element(By.ID, "smtp-form")).click()
        loaded("Outbound Events")
        def ok():
            driver.get(base + "/")
            return driver.find_element(By.ID, "smtp-status").text == "OK"
        wait_for("the relay's Current status to read OK", ok, 20)
    check("browser: sets the relay in Email configuration; its Current status reads OK", relay)

    def add_email():
        driver.find_element(By.LINK_TEXT, "Add new email recipient").click()
        loaded("Add new email recipient")
        tick("Enabled")
        type_into("Name", "on call")
        type_into("Email address", "oncall@example.com, second@example.com")
        tick("Require external key", False)
        type_into("Subject", "Page test %EVENT_LABEL% %LSID%")
        type_into("Body", "Session %LSID% ended at %TIME%.")
        type_into("Retry duration", "1h")
        assert driver.find_element(By.LINK_TEXT, "The macros you can use").get_attribute("href").endswith("/macros")
        button("Save").click()
        loaded("Outbound Events")
        assert row("email-recipients", "on call") is not None
    check("browser: adds an email recipient", add_email)

    check("browser: takes the screenshot of the page", screenshot)

    def send_test():
        button("Send test", row("http-recipients", name)).click()
        loaded("Send test to")
        outcome = driver.find_element(By.ID, "test-outcome").text
        report = driver.find_element(By.CLASS_NAME, "report").text
        assert outcome == "Delivered.", outcome + "\n" + report
        assert "Delivered:    yes" in report and "Answer:       HTTP 200" in report, report
        tests = [r for r in records(work + "/webhooks.jsonl") if r["path"].startswith("/hook/") and "send-test" in r["body"]]
        assert tests and "verified" in tests[-1], "the test delivery is not signed with the secret"
        driver.find_element(By.LINK_TEXT, "Back to Outbound Events").click()
        loaded("Outbound Events")
    check("browser: Send test makes one signed delivery and shows the report", send_test)

    def send_test_email():
        type_into("Send a test email to", "test@example.com")
        button("Send test email").click()
        loaded("Send test email")
        assert driver.find_element(By.ID, "test-outcome").text == "Delivered.", driver.find_element(By.CLASS_NAME, "report").text
        wait_for("the test email", lambda: [m for m in records(work + "/mail/messages.jsonl") if "test@example.com" in m["rcpt_tos"]])
        driver.get(base + "/")
    check("browser: Send test email goes through the relay", send_test_email)

    def producer_events():
        emit("page-1")
        wait_for("the event at the page's HTTP recipient", lambda: webhooks("/hook/", "page-1"), 20)
        wait_for("the event at the configuration file's recipient", lambda: webhooks("/from-file", "page-1"), 20)
        wait_for("the email to the page's email recipient", lambda: mails("page-1"), 20)
        hook = webhooks("/hook/", "page-1")[0]
        assert "verified" in hook, hook.get("verify_error")
        assert "custom" not in hook["body"] or True
    check("browser: events a producer emits reach the recipients added on the page", producer_events)

    def disable():
        button("Edit", row("http-recipients", name)).click()
        loaded("Edit HTTP recipient")
        tick("Enabled", False)
        button("Save").click()
        loaded("Outbound Events")
        cells = row("http-recipients", name).find_elements(By.TAG_NAME, "td")
        assert cells[1].text == "No", cells[1].text
        emit("page-2")
        wait_for("the event at the configuration file's recipient", lambda: webhooks("/from-file", "page-2"), 20)
        time.sleep(1)
        assert not webhooks("/hook/", "page-2"), "a disabled recipient got an event"
    check("browser: disables a recipient: it gets no events", disable)

    def delete():
        button("Delete", row("http-recipients", name)).click()
        loaded("Delete the HTTP recipient")
        button("Delete").click()
        loaded("Outbound Events")
        assert row("http-recipients", name) is None
        assert row("http-recipients", "from-file") is not None
        emit("page-3")
        wait_for("the event at the configuration file's recipient", lambda: webhooks("/from-file", "page-3"), 20)
        time.sleep(1)
        assert not webhooks("/hook/", "page-3"), "a deleted recipient got an event"
        wait_for("the email of page-3", lambda: mails("page-3"), 20)
    check("browser: deletes a recipient after asking once more", delete)

    def read_only():
        line = row("http-recipients", "from-file")
        assert "Set in %s/outbound-events.conf:" % work in line.text, line.text
        assert not line.find_elements(By.XPATH, './/button[normalize-space()="Edit"]')
    check("browser: a recipient of the configuration file is shown read-only with FILE:LINE", read_only)

    def no_script():
        assert not driver.find_elements(By.TAG_NAME, "script"), "the page has a script"
        sheets = driver.find_elements(By.CSS_SELECTOR, "link[rel=stylesheet]")
        assert len(sheets) == 1 and sheets[0].get_attribute("href") == base + "/style.css"
    check("browser: no script, one stylesheet from the appliance", no_script)


def api_checks(base, socket_path, work, emit, webhooks, daemon):
    port = int(base.rsplit(":", 1)[1])

    def tcp():
        return http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def unix():
        return UnixConnection(socket_path)

    json_headers = {"Content-Type": "application/json"}

    def socket_mode():
        mode = os.stat(socket_path).st_mode & 0o777
        assert mode == 0o660, oct(mode)
    check("api: the Unix socket has mode 0660", socket_mode)

    def status():
        code, headers, body = request(unix(), "GET", "/api/v1/status")
        assert code == 200 and json.loads(body)["daemon"] == "running", body
        for header, value in (("content-security-policy", "default-src 'self'"), ("x-content-type-options", "nosniff"),
                              ("x-frame-options", "DENY")):
            assert value in headers.get(header, ""), (header, headers)
        code, headers, body = request(unix(), "GET", "/")
        assert code == 200 and "default-src 'self'" in headers["content-security-policy"]
    check("api: GET /api/v1/status over the socket; the security headers on every answer", status)

    def put_get():
        recipient = {"url": "https://user:pw@hooks.example.com/services/token-123?key=abc", "signing_secret": SECRET,
                     "events": "support_conference_end", "retry_interval": "10s", "enabled": "false"}
        code, _, body = request(unix(), "PUT", "/api/v1/recipients/http/api%2Fone", json.dumps(recipient), json_headers)
        assert code == 201, body
        code, _, body = request(unix(), "GET", "/api/v1/recipients/http/api%2Fone")
        settings = json.loads(body)["settings"]
        assert settings["signing_secret"] == "***" and settings["url"] == "https://***@hooks.example.com/services/…?key=***", settings
        no_secret(body)
        settings["retry_interval"] = "20s"
        code, _, body = request(unix(), "PUT", "/api/v1/recipients/http/api%2Fone", json.dumps(settings), json_headers)
        assert code == 200, body
        state = open(work + "/managed.conf").read()
        assert SECRET in state and "token-123" in state, "*** did not keep the stored secret and URL"
        assert "retry_interval = 20s" in state
        code, _, body = request(unix(), "GET", "/api/v1/recipients")
        listed = json.loads(body)
        assert [r["name"] for r in listed["http"]] == ["from-file", "api/one"], listed
        assert listed["http"][0]["source"].startswith(work + "/outbound-events.conf:")
        no_secret(body)
    check("api: PUT creates, GET shows *** and the redacted URL, a PUT of *** keeps the secret", put_get)

    def refusals():
        cases = [
            ("bad JSON", "PUT", "/api/v1/recipients/http/x", "{\"url\": ", 400, None),
            ("a value not a string", "PUT", "/api/v1/recipients/http/x", "{\"url\": 5}", 400, None),
            ("an unknown key", "PUT", "/api/v1/recipients/http/x", "{\"url\": \"http://a.example/\", \"colour\": \"red\"}", 400, "colour"),
            ("a refused value", "PUT", "/api/v1/recipients/http/x", "{\"url\": \"http://a.example:70000/\"}", 422, "url"),
            ("a refused email value", "PUT", "/api/v1/recipients/email/x", "{\"addresses\": \"not-an-address\"}", 422, "addresses"),
            ("*** without a stored secret", "PUT", "/api/v1/recipients/http/x", "{\"url\": \"http://a.example/\", \"signing_secret\": \"***\"}", 422, "signing_secret"),
            ("a recipient of the configuration file", "PUT", "/api/v1/recipients/http/from-file", "{\"url\": \"http://a.example/\"}", 409, None),
            ("an unknown path", "GET", "/api/v1/nothing", None, 404, None),
            ("an unknown recipient", "GET", "/api/v1/recipients/email/nobody", None, 404, None),
            ("a name given twice across kinds", "PUT", "/api/v1/recipients/email/api%2Fone", "{\"addresses\": \"a@example.com\"}", 422, "name"),
        ]
        before = open(work + "/managed.conf").read()
        for what, method, path, body, status, key in cases:
            code, _, text = request(unix(), method, path, body, json_headers)
            assert code == status, "%s: %d %s" % (what, code, text)
            error = json.loads(text)["error"]
            assert set(error) == {"key", "message"} and error["key"] == key and error["message"], (what, error)
        # The answer comes before the body is read: send what the server takes, then read it.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
            raw.settimeout(10)
            raw.connect(socket_path)
            raw.sendall(b"PUT /api/v1/recipients/http/x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n{" % ((1 << 20) + 2))
            try:
                raw.sendall(b" " * (1 << 20) + b"}")
            except OSError:
                pass
            answer = raw.recv(200)
        assert answer.startswith(b"HTTP/1.1 413"), "a body over 1 MiB: %r" % answer
        assert open(work + "/managed.conf").read() == before, "a refused request changed the state file"
    check("api: bad JSON, unknown keys, refused values, unknown paths and bodies over 1 MiB are 4xx and change nothing", refusals)

    def forgery():
        before = open(work + "/managed.conf").read()
        code, _, _ = request(unix(), "PUT", "/api/v1/recipients/http/evil", "{\"url\": \"http://evil.example/\"}",
                             {"Content-Type": "application/json", "Origin": "http://evil.example"})
        assert code == 403, code
        code, _, _ = request(unix(), "PUT", "/api/v1/recipients/http/evil", "url=http://evil.example/",
                             {"Content-Type": "application/x-www-form-urlencoded"})
        assert code == 403, code
        code, _, _ = request(unix(), "POST", "/recipients/http/new", "name=evil&url=http://evil.example/&events=all",
                             {"Content-Type": "application/x-www-form-urlencoded"})
        assert code == 403, "a form without its CSRF token: %d" % code
        assert open(work + "/managed.conf").read() == before
    check("api: a foreign Origin, a form body to the API, a form without its CSRF token: 403, nothing changed", forgery)

    def tcp_login():
        code, _, body = request(tcp(), "GET", "/api/v1/status")
        assert code == 401, code
        code, headers, _ = request(tcp(), "GET", "/")
        assert code == 303 and headers["location"] == "/login", (code, headers)
        code, headers, body = request(tcp(), "POST", "/api/v1/login", json.dumps({"password": PASSWORD}))
        assert code == 200, body
        cookie = headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie, cookie
        session = cookie.split(";")[0]
        token = json.loads(body)["csrf_token"]
        code, _, _ = request(tcp(), "GET", "/api/v1/recipients", headers={"Cookie": session})
        assert code == 200
        code, _, body = request(tcp(), "PUT", "/api/v1/recipients/email/tcp", "{\"addresses\": \"a@example.com\"}",
                                {"Cookie": session, "Content-Type": "application/json"})
        assert code == 403, "no X-CSRF-Token: %d" % code
        code, _, body = request(tcp(), "PUT", "/api/v1/recipients/email/tcp", "{\"addresses\": \"a@example.com\"}",
                                {"Cookie": session, "Content-Type": "application/json", "X-CSRF-Token": token})
        assert code == 201, body
        code, _, body = request(tcp(), "DELETE", "/api/v1/recipients/email/tcp", headers={"Cookie": session, "X-CSRF-Token": token})
        assert code == 204, body
        code, _, body = request(tcp(), "POST", "/api/v1/recipients/http/from-file/test", "{}",
                                {"Cookie": session, "Content-Type": "application/json", "X-CSRF-Token": token})
        result = json.loads(body)
        assert code == 200 and result["delivered"] is True, body
    check("api: over TCP the session cookie (HttpOnly, SameSite=Strict) and X-CSRF-Token are required", tcp_login)

    def escaping():
        code, _, body = request(unix(), "PUT", "/api/v1/recipients/email/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
                                "{\"addresses\": \"x@example.com\"}", json_headers)
        assert code == 201, body
        code, _, page = request(unix(), "GET", "/")
        assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        code, _, _ = request(unix(), "DELETE", "/api/v1/recipients/email/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        assert code == 204
    check("api: a recipient named <script> is shown as text on the page", escaping)

    def garbage():
        for payload in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                        b"POST /api/v1/recipients/http/x HTTP/1.1\r\nHost: x\r\n" + b"X: " + b"a" * 100000 + b"\r\n\r\n",
                        bytes(range(256)) * 8):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                raw.sendall(payload)
                raw.shutdown(socket.SHUT_WR)
                answer = raw.recv(100)
                assert answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer
        assert daemon.poll() is None, "the daemon died"
        emit("page-4")
        wait_for("an event after the garbage", lambda: webhooks("/from-file", "page-4"), 20)
    check("api: malformed requests get a 4xx or nothing; the daemon keeps delivering", garbage)

    def rate_limit():
        codes = []
        for _ in range(6):
            code, _, _ = request(tcp(), "POST", "/api/v1/login", json.dumps({"password": "wrong"}))
            codes.append(code)
        code, _, body = request(tcp(), "POST", "/api/v1/login", json.dumps({"password": PASSWORD}))
        codes.append(code)
        assert codes == [401] * 5 + [429, 429], codes
        assert "paused" in json.loads(body)["error"]["message"]
    check("api: five wrong passwords in a minute pause logins from the address", rate_limit)


if __name__ == "__main__":
    sys.exit(main())
