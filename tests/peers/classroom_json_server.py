"""Classroom file server, JSON request form.

A classroom-style server written from the exercise description, with the
typical mistakes kept on purpose (unchecked names, lenient base64,
whole-request buffering): a test subject for `fileproto check`.
Do not use it to serve files.

Requests look like {"command": "GET", "params": ["name"]}\\r\\n\\r\\n
"""

import argparse
import base64
import json
import os
import signal
import socket
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

TERMINATOR = b"\r\n\r\n"
ROOT = "./files"

stop_event = threading.Event()
clients = set()
clients_lock = threading.Lock()


def ok(**fields):
    resp = {"status": "OK"}
    resp.update(fields)
    return resp


def error(message):
    return {"status": "ERROR", "data": message}


def do_list(params):
    names = [f for f in os.listdir(ROOT) if os.path.isfile(os.path.join(ROOT, f))]
    return ok(data=sorted(names))


def do_get(params):
    name = params[0]
    path = os.path.join(ROOT, name)  # no check on name (kept on purpose)
    if not os.path.isfile(path):
        return error("file not found: " + name)
    with open(path, "rb") as f:
        content = f.read()
    return ok(data_namafile=name, data_file=base64.b64encode(content).decode())


def do_upload(params):
    name, data = params[0], params[1]
    content = base64.b64decode(data)  # lenient, no validate=True (kept on purpose)
    path = os.path.join(ROOT, name)
    with open(path, "wb") as f:
        f.write(content)
    return ok(data_namafile=name, data="file uploaded")


def do_delete(params):
    name = params[0]
    path = os.path.join(ROOT, name)
    if not os.path.isfile(path):
        return error("file not found: " + name)
    os.remove(path)
    return ok(data_namafile=name, data="file deleted")


COMMANDS = {"LIST": do_list, "GET": do_get, "UPLOAD": do_upload, "DELETE": do_delete}


def process(raw):
    try:
        request = json.loads(raw.decode("utf-8"))
    except Exception:
        return error("invalid request (not JSON)")
    try:
        command = str(request["command"]).upper()
        params = request.get("params", [])
        if command not in COMMANDS:
            return error("unknown command")
        return COMMANDS[command](params)
    except Exception as e:
        return error(str(e))


def handle(conn, addr):
    with clients_lock:
        clients.add(conn)
    try:
        conn.settimeout(60)
        buf = b""
        while True:
            # read until the terminator is somewhere in the whole buffer
            while TERMINATOR not in buf:
                data = conn.recv(4096)
                if not data:
                    return
                buf += data
            raw, buf = buf.split(TERMINATOR, 1)
            response = process(raw)
            conn.sendall(json.dumps(response).encode("utf-8") + TERMINATOR)
    except Exception as e:
        if not stop_event.is_set():
            print("connection error from %s: %s" % (addr, e), file=sys.stderr)
    finally:
        with clients_lock:
            clients.discard(conn)
        conn.close()


def on_signal(signum, frame):
    stop_event.set()


def main():
    global ROOT
    parser = argparse.ArgumentParser(description="classroom JSON file server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=45000)
    parser.add_argument("--root", default="./files")
    args = parser.parse_args()

    ROOT = args.root
    os.makedirs(ROOT, exist_ok=True)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((args.host, args.port))
    server.listen(5)
    server.settimeout(0.5)
    host, port = server.getsockname()[:2]
    print("listening on %s:%d" % (host, port), flush=True)

    executor = ThreadPoolExecutor(max_workers=5)
    try:
        while not stop_event.is_set():
            try:
                conn, addr = server.accept()
            except socket.timeout:
                continue
            except InterruptedError:
                continue
            conn.settimeout(None)
            executor.submit(handle, conn, addr)
    finally:
        server.close()
        with clients_lock:
            for c in list(clients):
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        executor.shutdown(wait=True, cancel_futures=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
