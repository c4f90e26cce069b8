"""Runs inside the workstation as the user: starts the Chat tab's MCP server entry exactly as Claude Desktop would
(command, args and env read from claude_desktop_config.json), speaks MCP on its stdin/stdout and prints the
tools/list answer as one JSON line. Usage: python3 - <claude_desktop_config.json> <server name>
"""

import json
import os
import select
import signal
import subprocess
import sys
import time

LIMIT = 90  # seconds for the whole exchange; mcp-remote answers within a few


def main():
    config_path, server = sys.argv[1], sys.argv[2]
    with open(config_path, encoding="utf-8") as handle:
        entry = json.load(handle)["mcpServers"][server]
    env = {"PATH": os.environ["PATH"], "HOME": os.environ["HOME"]}
    env.update(entry.get("env") or {})
    proc = subprocess.Popen([entry["command"]] + list(entry.get("args") or []), env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + LIMIT
    buffered = b""

    def send(message):
        proc.stdin.write((json.dumps(message) + "\n").encode())
        proc.stdin.flush()

    def answer(wanted_id):
        nonlocal buffered
        while time.monotonic() < deadline:
            while b"\n" in buffered:
                line, buffered = buffered.split(b"\n", 1)
                if not line.strip():
                    continue
                message = json.loads(line)
                if message.get("id") == wanted_id:
                    return message
            ready = select.select([proc.stdout], [], [], 1)[0]
            if ready:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                buffered += chunk
        raise SystemExit("no answer to request %s; stderr:\n%s" % (wanted_id, stop(proc)))

    try:
        send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                         "clientInfo": {"name": "aigateway-e2e", "version": "1.0"}}})
        initialized = answer(1)
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        send({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
        tools = answer(2)
        print(json.dumps({"initialize": initialized, "tools_list": tools}))
    finally:
        stop(proc)


def stop(proc):
    """Ends the whole process group: npx runs mcp-remote as its own child, which would keep the pipes open."""
    try:
        proc.stdin.close()  # a stdio MCP server ends when its client goes away
        proc.wait(timeout=3)
    except (OSError, subprocess.TimeoutExpired):
        pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=10)
            break
        except subprocess.TimeoutExpired:
            continue
    ready = select.select([proc.stderr], [], [], 5)[0]
    return os.read(proc.stderr.fileno(), 1 << 20).decode(errors="replace")[-3000:] if ready else ""


if __name__ == "__main__":
    main()
