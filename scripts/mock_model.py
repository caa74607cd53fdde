#!/usr/bin/env python3
"""A scripted, stateless mock model for driving real coding agents offline.

Serves, on 127.0.0.1 only:
  POST /v1/responses            OpenAI Responses API, SSE (Codex CLI)
  POST /v1/messages[?beta=true] Anthropic Messages API, SSE or JSON (Claude Code)
  POST /v1/messages/count_tokens
  GET  /v1/models, /health

The script is a list of shell commands. For every model call, step i is the number of tool
results that follow the last user text of the conversation; step i < len(commands) answers
with a tool call running command i, later steps answer with a final text. Nothing is kept
between calls, so an agent that retries or resumes gets the same answer again.

Every call is logged as one JSON line (--log): the endpoint, the step, the answer and the
tool results the model was shown, so a test can check what reached the model.

usage: mock_model.py [--port P] [--port-file F] [--pid-file F] [--log F]
                     (--script FILE.json | COMMAND...)
"""

import argparse
import json
import os
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FINAL_TEXT = "Done: every scripted command was attempted."

LOG_LOCK = threading.Lock()


def content_text(content):
    """Plain text of a message/tool-output content (string, list of blocks, or dict)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(content_text(part) for part in content)
    if isinstance(content, dict):
        for key in ("text", "output", "content"):
            if key in content:
                return content_text(content[key])
        return json.dumps(content, sort_keys=True)
    return str(content)


# ─── Codex: OpenAI Responses API ─────────────────────────────────────────────────────────────────────


def responses_step(body):
    """(step, tool results after the last user text) of a /v1/responses body."""
    items = body.get("input") or []
    if isinstance(items, str):
        return 0, []
    last_user = -1
    for index, item in enumerate(items):
        if isinstance(item, dict) and item.get("type", "message") == "message" and item.get("role") == "user":
            last_user = index
    results = []
    for item in items[last_user + 1 :]:
        if isinstance(item, dict) and item.get("type") in ("function_call_output", "custom_tool_call_output"):
            results.append({"call_id": item.get("call_id"), "output": content_text(item.get("output"))})
    return len(results), results


def responses_events(body, command):
    """SSE events answering a /v1/responses call with a tool call for `command`, or a final text."""
    response_id = "resp_" + uuid.uuid4().hex[:12]
    model = body.get("model", "mock-model")
    events = [("response.created", {"type": "response.created", "response": {"id": response_id, "model": model}})]
    if command is not None:
        item = {
            "type": "function_call",
            "id": "fc_" + uuid.uuid4().hex[:12],
            "call_id": "call_" + uuid.uuid4().hex[:12],
            "name": "exec_command",
            "arguments": json.dumps({"cmd": command}),
        }
    else:
        item = {
            "type": "message",
            "id": "msg_" + uuid.uuid4().hex[:12],
            "role": "assistant",
            "content": [{"type": "output_text", "text": FINAL_TEXT, "annotations": []}],
        }
    events.append(("response.output_item.added", {"type": "response.output_item.added", "output_index": 0, "item": item}))
    events.append(("response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": item}))
    usage = {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 15,
    }
    events.append(
        ("response.completed", {"type": "response.completed", "response": {"id": response_id, "model": model, "usage": usage}})
    )
    return events


# ─── Claude: Anthropic Messages API ──────────────────────────────────────────────────────────────────


def messages_step(body):
    """(step, tool results after the last user text) of a /v1/messages body. A user message that
    carries tool results is not "user text", even if Claude Code adds text blocks (reminders) to it."""
    messages = body.get("messages") or []
    last_user = -1
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        blocks = content if isinstance(content, list) else [{"type": "text", "text": content_text(content)}]
        if not any(isinstance(block, dict) and block.get("type") == "tool_result" for block in blocks):
            last_user = index
    results = []
    for message in messages[last_user + 1 :]:
        content = message.get("content") if isinstance(message, dict) else None
        if message.get("role") != "user" or not isinstance(content, list):
            continue
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                results.append(
                    {
                        "tool_use_id": block.get("tool_use_id"),
                        "is_error": bool(block.get("is_error")),
                        "output": content_text(block.get("content")),
                    }
                )
    return len(results), results


def messages_answer(body, command):
    """The assistant message (content blocks, stop_reason) for a /v1/messages call."""
    if command is not None:
        block = {
            "type": "tool_use",
            "id": "toolu_" + uuid.uuid4().hex[:20],
            "name": "Bash",
            "input": {"command": command, "description": "Run scripted step: " + command},
        }
        return [block], "tool_use"
    return [{"type": "text", "text": FINAL_TEXT}], "end_turn"


def messages_events(body, blocks, stop_reason):
    message_id = "msg_" + uuid.uuid4().hex[:20]
    usage = {"input_tokens": 10, "output_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    events = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": body.get("model", "mock-model"),
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": usage,
                },
            },
        )
    ]
    for index, block in enumerate(blocks):
        if block["type"] == "tool_use":
            start = dict(block, input={})
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        else:
            start = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block["text"]}
        events.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": start}))
        events.append(("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": 5},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events, message_id


# ─── HTTP ────────────────────────────────────────────────────────────────────────────────────────────


class Handler(BaseHTTPRequestHandler):
    server_version = "bosun-mock-model/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # quiet; everything useful goes to --log
        pass

    def log_call(self, record):
        if not self.server.log_path:
            return
        with LOG_LOCK, open(self.server.log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps(record, sort_keys=True) + "\n")

    def send_json(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_sse(self, events):
        data = "".join(f"event: {name}\ndata: {json.dumps(payload)}\n\n" for name, payload in events).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        self.log_call({"method": "GET", "path": self.path})
        if path in ("/health", "/healthz"):
            self.send_json(200, {"ok": True})
        elif path.endswith("/models"):
            self.send_json(200, {"object": "list", "data": [{"id": "mock-model", "object": "model"}], "models": []})
        else:
            self.send_json(404, {"error": {"type": "not_found", "message": "no such endpoint: " + path}})

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self.log_call({"method": "POST", "path": self.path, "error": "body is not JSON", "bytes": len(raw)})
            self.send_json(400, {"error": {"type": "invalid_request_error", "message": "body is not JSON"}})
            return
        commands = self.server.commands
        if path.endswith("/responses"):
            step, results = responses_step(body)
            command = commands[step] if step < len(commands) else None
            self.log_call(
                {"method": "POST", "path": self.path, "api": "responses", "step": step, "tool_results": results,
                 "answer": {"command": command} if command is not None else {"text": FINAL_TEXT}}
            )
            self.send_sse(responses_events(body, command))
        elif path.endswith("/messages/count_tokens"):
            self.log_call({"method": "POST", "path": self.path, "api": "count_tokens"})
            self.send_json(200, {"input_tokens": 10})
        elif path.endswith("/messages"):
            step, results = messages_step(body)
            # Side calls without tools (titles, summaries) get text, never a command.
            command = commands[step] if step < len(commands) and body.get("tools") else None
            blocks, stop_reason = messages_answer(body, command)
            self.log_call(
                {"method": "POST", "path": self.path, "api": "messages", "step": step, "tool_results": results,
                 "has_tools": bool(body.get("tools")), "stream": bool(body.get("stream")),
                 "answer": {"command": command} if command is not None else {"text": FINAL_TEXT}}
            )
            events, message_id = messages_events(body, blocks, stop_reason)
            if body.get("stream"):
                self.send_sse(events)
            else:
                self.send_json(
                    200,
                    {"id": message_id, "type": "message", "role": "assistant", "model": body.get("model", "mock-model"),
                     "content": blocks, "stop_reason": stop_reason, "stop_sequence": None,
                     "usage": {"input_tokens": 10, "output_tokens": 5}},
                )
        else:
            self.log_call({"method": "POST", "path": self.path, "error": "unknown endpoint"})
            self.send_json(404, {"error": {"type": "not_found", "message": "no such endpoint: " + path}})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--port-file", help="write the port here once listening")
    parser.add_argument("--pid-file", help="write this process's PID here")
    parser.add_argument("--log", help="append one JSON line per call here")
    parser.add_argument("--script", help="JSON file: a list of shell commands")
    parser.add_argument("commands", nargs="*", help="shell commands (when --script is not given)")
    args = parser.parse_args()
    if args.script:
        with open(args.script, encoding="utf-8") as handle:
            commands = json.load(handle)
        if isinstance(commands, dict):
            commands = commands.get("commands", [])
    else:
        commands = args.commands
    if not isinstance(commands, list) or not all(isinstance(c, str) for c in commands):
        parser.error("the script must be a list of command strings")

    if args.pid_file:
        with open(args.pid_file, "w", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()}\n")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.commands = commands
    server.log_path = args.log
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    print(f"mock model on 127.0.0.1:{port}, {len(commands)} scripted command(s)", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
