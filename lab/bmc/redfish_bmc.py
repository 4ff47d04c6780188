#!/usr/bin/python3
"""A simulated Redfish BMC (DMTF DSP0266 / ComputerSystem schema), Python standard library only.

No Redfish emulator is packaged in Debian 12 (sushy-tools is not), so this one serves what a
fencer uses, faithfully to the schema:

  GET  /redfish, /redfish/v1                 service root (no authentication)
  GET  /redfish/v1/Systems                   ComputerSystemCollection
  GET  /redfish/v1/Systems/<id>              ComputerSystem: PowerState, Status, Boot, Actions
  POST /redfish/v1/Systems/<id>/Actions/ComputerSystem.Reset   {"ResetType": ...} -> 204
       On, ForceOn, ForceOff, GracefulShutdown, ForceRestart, GracefulRestart, PowerCycle,
       PushPowerButton, Nmi; a missing or unknown ResetType -> 400 with @Message.ExtendedInfo
       (Base ActionParameterMissing / ActionParameterValueNotInList)
  GET  /redfish/v1/SessionService, .../Sessions, .../Sessions/<id>
  POST /redfish/v1/SessionService/Sessions   {"UserName","Password"} -> 201, X-Auth-Token,
                                             Location
  DELETE /redfish/v1/SessionService/Sessions/<id>                   -> 204

Authentication: HTTP Basic or X-Auth-Token (a session); anything else gets 401 NoValidSession.
HTTP/1.1, one request per connection (Connection: close), optionally TLS.

State, in --dir (written by redfishsim.sh, readable and writable from a shell at any time):
  systems/<id>/power   On | Off
  mode                 normal | fail (500 on every authenticated request) | stuck (Reset is
                       accepted, a power-off never happens) | hang (requests wait until the mode
                       changes) | garbage (200 with a non-JSON body) | refuse-redundant (409 for a
                       Reset to the state the system is already in, as some BMCs do) | slow:N
  hook                 optional shell command run after every power change, as
                       `bash -c "$(cat hook)" redfish-hook on|off`, with BMC_NAME, BMC_DIR,
                       BMC_SYSTEM, BMC_POWER (on|off) and BMC_PREVIOUS_POWER set
  sessions             the number of open sessions (written on every change)
  log                  one line per request
The chosen port (--listen 127.0.0.1:0 picks a free one) is written to --port-file once serving.
The password is read from --password-file, never from the command line.
"""

import argparse
import base64
import http.server
import json
import os
import hashlib
import secrets
import signal
import ssl
import subprocess
import sys
import threading
import time

REGISTRY = "Base.1.13.0"
RESET_TYPES = ["On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart",
               "Nmi", "ForceOn", "PushPowerButton", "PowerCycle"]
OFF_TYPES = {"ForceOff", "GracefulShutdown"}
ON_TYPES = {"On", "ForceOn", "ForceRestart", "GracefulRestart", "PowerCycle"}


def message(message_id, text, args, severity, resolution):
    return {
        "@odata.type": "#Message.v1_1_1.Message",
        "MessageId": f"{REGISTRY}.{message_id}",
        "Message": text,
        "MessageArgs": args,
        "Severity": severity,
        "MessageSeverity": severity,
        "Resolution": resolution,
    }


def error_body(*messages):
    return {
        "error": {
            "code": messages[0]["MessageId"] if len(messages) == 1 else f"{REGISTRY}.GeneralError",
            "message": messages[0]["Message"] if len(messages) == 1 else
            "A general error has occurred.  See Resolution for information on how to resolve the "
            "error, or @Message.ExtendedInfo if Resolution is not provided.",
            "@Message.ExtendedInfo": list(messages),
        }
    }


class Bmc:
    """The simulated service's state. Thread-safe."""

    def __init__(self, directory, systems, user, password):
        self.dir = directory
        self.name = os.path.basename(os.path.abspath(directory))
        self.systems = systems
        self.user = user
        self.password = password
        self.lock = threading.Lock()
        self.sessions = {}  # token -> (id, user)
        self.next_session = 1
        self.stopping = threading.Event()
        for system in systems:
            os.makedirs(self.system_dir(system), exist_ok=True)
            if not os.path.exists(self.power_file(system)):
                self.write(self.power_file(system), "On")
        if not os.path.exists(os.path.join(directory, "mode")):
            self.write(os.path.join(directory, "mode"), "normal")
        self.write_sessions()

    def system_dir(self, system):
        return os.path.join(self.dir, "systems", system)

    def power_file(self, system):
        return os.path.join(self.system_dir(system), "power")

    @staticmethod
    def write(path, text):
        tmp = f"{path}.tmp.{threading.get_ident()}"
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.replace(tmp, path)

    @staticmethod
    def read(path, default):
        try:
            with open(path) as f:
                return f.read().strip() or default
        except OSError:
            return default

    def mode(self):
        return self.read(os.path.join(self.dir, "mode"), "normal")

    def power(self, system):
        return "Off" if self.read(self.power_file(system), "On") == "Off" else "On"

    def set_power(self, system, state):
        with self.lock:
            previous = self.power(system)
            self.write(self.power_file(system), state)
        hook = self.read(os.path.join(self.dir, "hook"), "")
        if hook:
            env = dict(os.environ, BMC_NAME=self.name, BMC_DIR=self.dir, BMC_SYSTEM=system,
                       BMC_POWER=state.lower(), BMC_PREVIOUS_POWER=previous.lower())
            with open(os.path.join(self.dir, "hook.log"), "a") as out:
                rc = subprocess.call(["bash", "-c", hook, "redfish-hook", state.lower()],
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env)
            self.log(f"hook {state.lower()} exited {rc}")

    def write_sessions(self):
        self.write(os.path.join(self.dir, "sessions"), str(len(self.sessions)))

    def open_session(self, user):
        with self.lock:
            token = secrets.token_hex(16)
            session_id = str(self.next_session)
            self.next_session += 1
            self.sessions[token] = (session_id, user)
            self.write_sessions()
            return token, session_id

    def close_session(self, session_id):
        with self.lock:
            for token, (sid, _) in list(self.sessions.items()):
                if sid == session_id:
                    del self.sessions[token]
                    self.write_sessions()
                    return True
            return False

    def log(self, line):
        with self.lock, open(os.path.join(self.dir, "log"), "a") as f:
            f.write(time.strftime("%Y-%m-%d %H:%M:%S ") + line + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fdr-redfish-bmc/1"
    bmc = None  # set in main()

    def log_message(self, fmt, *args):  # the access log is our own
        pass

    # --- plumbing -----------------------------------------------------------------------------

    def send(self, status, body=None, headers=None, raw=None):
        payload = raw if raw is not None else (
            b"" if body is None else json.dumps(body, indent=1).encode())
        self.send_response(status)
        if payload:
            self.send_header("Content-Type", "application/json; charset=utf-8" if raw is None
                             else "text/html")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("OData-Version", "4.0")
        self.send_header("Connection", "close")
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="Redfish"')
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)
        self.close_connection = True
        self.status = status

    def body_json(self):
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length > 0 else b""
        if not data:
            return None, True
        try:
            return json.loads(data), True
        except ValueError:
            return None, False

    def authenticated_user(self):
        token = self.headers.get("X-Auth-Token")
        if token:
            with self.bmc.lock:
                session = self.bmc.sessions.get(token)
            return session[1] if session else None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            if user == self.bmc.user and secrets.compare_digest(password, self.bmc.password):
                return user
        return None

    def no_valid_session(self):
        self.send(401, error_body(message(
            "NoValidSession",
            "There is no valid session established with the implementation.", [], "Critical",
            "Establish a session before attempting any operations.")))

    def not_found(self):
        self.send(404, error_body(message(
            "ResourceMissingAtURI", f"The resource at the URI {self.path} was not found.",
            [self.path], "Critical",
            "Place a valid resource at the URI or correct the URI and resubmit the request.")))

    def not_allowed(self):
        self.send(405, error_body(message(
            "OperationNotAllowed",
            "The HTTP method is not allowed on this resource.", [], "Critical",
            "None.")), headers={"Allow": "GET"})

    def wait_out_mode(self):
        """Applies hang and slow:N. Returns the mode to act on."""
        mode = self.bmc.mode()
        while mode == "hang" and not self.bmc.stopping.is_set():
            time.sleep(0.05)
            mode = self.bmc.mode()
        if mode.startswith("slow:"):
            try:
                time.sleep(float(mode[5:]))
            except ValueError:
                pass
            mode = "normal"
        return mode

    # --- dispatch -----------------------------------------------------------------------------

    def do_GET(self):
        self.handle_request("GET")

    def do_POST(self):
        self.handle_request("POST")

    def do_DELETE(self):
        self.handle_request("DELETE")

    def do_PATCH(self):
        self.handle_request("PATCH")

    def handle_request(self, method):
        self.status = 0
        self.note = ""
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        try:
            self.route(method, path)
        finally:
            self.bmc.log(f"{method} {path}{self.note} -> {self.status}")

    def route(self, method, path):
        mode = self.wait_out_mode()
        # Unauthenticated: the service root and log-in.
        if path == "/redfish" and method == "GET":
            return self.send(200, {"v1": "/redfish/v1/"})
        if path == "/redfish/v1" and method == "GET":
            return self.send(200, self.service_root())
        if path == "/redfish/v1/SessionService/Sessions" and method == "POST":
            return self.log_in()
        user = self.authenticated_user()
        if user is None:
            return self.no_valid_session()
        if mode == "fail":
            return self.send(500, error_body(message(
                "InternalError",
                "The request failed due to an internal service error.  The service is still "
                "operational.", [], "Critical",
                "Resubmit the request.  If the problem persists, consider resetting the "
                "service.")))
        if mode == "garbage":
            return self.send(200, raw=b"<html><body>502 Bad Gateway (not JSON)</body></html>")
        systems = "/redfish/v1/Systems"
        if path == systems:
            return self.send(200, self.collection()) if method == "GET" else self.not_allowed()
        if path.startswith(systems + "/"):
            rest = path[len(systems) + 1:].split("/")
            system = rest[0]
            if system not in self.bmc.systems:
                return self.not_found()
            if len(rest) == 1:
                return self.send(200, self.system(system)) if method == "GET" \
                    else self.not_allowed()
            if rest[1:] == ["Actions", "ComputerSystem.Reset"]:
                return self.reset(system, mode) if method == "POST" else self.not_allowed()
            return self.not_found()
        if path == "/redfish/v1/SessionService" and method == "GET":
            return self.send(200, {
                "@odata.id": "/redfish/v1/SessionService",
                "@odata.type": "#SessionService.v1_1_8.SessionService",
                "Id": "SessionService", "Name": "Session Service",
                "ServiceEnabled": True, "SessionTimeout": 1800,
                "Status": {"State": "Enabled", "Health": "OK"},
                "Sessions": {"@odata.id": "/redfish/v1/SessionService/Sessions"}})
        if path == "/redfish/v1/SessionService/Sessions" and method == "GET":
            with self.bmc.lock:
                ids = sorted(sid for sid, _ in self.bmc.sessions.values())
            return self.send(200, {
                "@odata.id": "/redfish/v1/SessionService/Sessions",
                "@odata.type": "#SessionCollection.SessionCollection",
                "Name": "Session Collection", "Members@odata.count": len(ids),
                "Members": [{"@odata.id": f"/redfish/v1/SessionService/Sessions/{i}"}
                            for i in ids]})
        if path.startswith("/redfish/v1/SessionService/Sessions/"):
            session_id = path.rsplit("/", 1)[1]
            if method == "DELETE":
                return self.send(204) if self.bmc.close_session(session_id) else self.not_found()
            return self.not_allowed()
        return self.not_found()

    # --- resources ----------------------------------------------------------------------------

    def service_root(self):
        return {
            "@odata.id": "/redfish/v1",
            "@odata.type": "#ServiceRoot.v1_5_0.ServiceRoot",
            "Id": "RootService", "Name": "Root Service", "RedfishVersion": "1.6.0",
            "UUID": "00000000-0000-4000-8000-" +
                    hashlib.sha256(self.bmc.name.encode()).hexdigest()[:12],
            "Systems": {"@odata.id": "/redfish/v1/Systems"},
            "SessionService": {"@odata.id": "/redfish/v1/SessionService"},
            "Links": {"Sessions": {"@odata.id": "/redfish/v1/SessionService/Sessions"}},
        }

    def collection(self):
        return {
            "@odata.id": "/redfish/v1/Systems",
            "@odata.type": "#ComputerSystemCollection.ComputerSystemCollection",
            "Name": "Computer System Collection",
            "Members@odata.count": len(self.bmc.systems),
            "Members": [{"@odata.id": f"/redfish/v1/Systems/{s}"} for s in self.bmc.systems],
        }

    def system(self, system):
        base = f"/redfish/v1/Systems/{system}"
        return {
            "@odata.id": base,
            "@odata.type": "#ComputerSystem.v1_13_0.ComputerSystem",
            "Id": system, "Name": f"{self.bmc.name} system {system}",
            "SystemType": "Physical", "Manufacturer": "freezer-dr lab",
            "Model": "Simulated BMC", "PowerState": self.bmc.power(system),
            "Status": {"State": "Enabled", "Health": "OK"},
            "Boot": {"BootSourceOverrideEnabled": "Disabled",
                     "BootSourceOverrideTarget": "None",
                     "BootSourceOverrideTarget@Redfish.AllowableValues":
                         ["None", "Pxe", "Hdd", "Cd"]},
            "Actions": {"#ComputerSystem.Reset": {
                "target": f"{base}/Actions/ComputerSystem.Reset",
                "ResetType@Redfish.AllowableValues": RESET_TYPES}},
        }

    def log_in(self):
        body, ok = self.body_json()
        if not ok or not isinstance(body, dict):
            return self.send(400, error_body(message(
                "MalformedJSON",
                "The request body submitted was malformed JSON and could not be parsed by the "
                "receiving service.", [], "Critical",
                "Ensure that the request body is valid JSON and resubmit the request.")))
        user, password = body.get("UserName"), body.get("Password")
        for name, value in (("UserName", user), ("Password", password)):
            if not isinstance(value, str):
                return self.send(400, error_body(message(
                    "PropertyMissing",
                    f"The property {name} is a required property and must be included in the "
                    "request.", [name], "Warning",
                    "Ensure that the property is in the request body and has a valid value and "
                    "resubmit the request if the operation failed.")))
        self.note = f" user {user}"
        if user != self.bmc.user or not secrets.compare_digest(password, self.bmc.password):
            return self.send(401, error_body(message(
                "ResourceAtUriUnauthorized",
                "While accessing the resource at /redfish/v1/SessionService/Sessions, the "
                "service received an authorization error unauthorized.",
                ["/redfish/v1/SessionService/Sessions", "unauthorized"], "Critical",
                "Ensure that the appropriate access is provided for the service in order for it "
                "to access the URI.")))
        token, session_id = self.bmc.open_session(user)
        location = f"/redfish/v1/SessionService/Sessions/{session_id}"
        self.send(201, {"@odata.id": location, "@odata.type": "#Session.v1_3_0.Session",
                        "Id": session_id, "Name": "User Session", "UserName": user},
                  headers={"X-Auth-Token": token, "Location": location})

    def reset(self, system, mode):
        action = "ComputerSystem.Reset"
        body, ok = self.body_json()
        if not ok or (body is not None and not isinstance(body, dict)):
            return self.send(400, error_body(message(
                "MalformedJSON",
                "The request body submitted was malformed JSON and could not be parsed by the "
                "receiving service.", [], "Critical",
                "Ensure that the request body is valid JSON and resubmit the request.")))
        reset_type = (body or {}).get("ResetType")
        self.note = f" ResetType {reset_type}"
        if reset_type is None:
            return self.send(400, error_body(message(
                "ActionParameterMissing",
                f"The action {action} requires the parameter ResetType to be present in the "
                "request body.", [action, "ResetType"], "Critical",
                "Supply the action with the required parameter in the request body when the "
                "request is resubmitted.")))
        if reset_type not in RESET_TYPES:
            shown = json.dumps(reset_type)
            return self.send(400, error_body(message(
                "ActionParameterValueNotInList",
                f"The value {shown} for the parameter ResetType in the action {action} is not "
                "in the list of acceptable values.", [shown, "ResetType", action], "Warning",
                "Choose a value from the enumeration list that the implementation can support "
                "and resubmit the request if the operation failed.")))
        current = self.bmc.power(system)
        if reset_type in OFF_TYPES:
            wanted = "Off"
        elif reset_type in ON_TYPES:
            wanted = "On"
        elif reset_type == "PushPowerButton":
            wanted = "Off" if current == "On" else "On"
        else:  # Nmi: no power change
            return self.send(204)
        if mode == "refuse-redundant" and wanted == current and reset_type not in (
                "ForceRestart", "GracefulRestart", "PowerCycle"):
            return self.send(409, error_body(message(
                "GeneralError", f"The system is already powered {current}.", [], "Critical",
                "None.")))
        if mode == "stuck" and wanted == "Off":
            return self.send(204)  # accepted, but the power stays on
        if wanted != current or reset_type in ("ForceRestart", "GracefulRestart", "PowerCycle"):
            self.bmc.set_power(system, wanted)
        self.send(204)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    tls = None  # ssl.SSLContext or None

    def finish_request(self, request, client_address):
        # The TLS handshake happens here, on the connection's own thread, bounded in time, so
        # that a client that connects and says nothing cannot block the others.
        request.settimeout(10)
        if self.tls is None:
            return super().finish_request(request, client_address)
        try:
            wrapped = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return None
        try:
            return super().finish_request(wrapped, client_address)
        finally:
            wrapped.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", default="127.0.0.1:0", help="ADDR:PORT (port 0: any)")
    parser.add_argument("--dir", required=True, help="state directory")
    parser.add_argument("--systems", default="1", help="comma-separated ComputerSystem ids")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password-file", required=True)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--port-file", help="where to write the port once serving")
    args = parser.parse_args()

    host, _, port = args.listen.rpartition(":")
    if not host.startswith("127."):
        sys.exit("redfish_bmc: listens on loopback addresses only")
    with open(args.password_file) as f:
        password = f.read().rstrip("\n")
    systems = [s for s in args.systems.split(",") if s]
    Handler.bmc = Bmc(args.dir, systems, args.user, password)
    server = Server((host, int(port)), Handler)
    if args.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
        server.tls = tls
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{server.server_address[1]}\n")
        os.replace(tmp, args.port_file)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        Handler.bmc.stopping.set()
        server.server_close()


def on_term(*_):
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_term)
    main()
