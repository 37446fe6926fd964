"""lmms-eval's OpenAI-compatible backend (the protocol vLLM and SGLang serve) against a loopback server.

The server stands in for `vllm serve`: it reads the chat request as a real server would
and answers with the first option of the prompt, so the chat path of the tasks (messages
with an image and the prompt) is exercised end to end, with no GPU.
"""

import http.server
import json
import os
import subprocess
import sys
import threading

import pytest

from finebench.harness.responders import formatted, options_in_prompt
from finebench.harness.runs import read_run
from finebench.harness.taskgen import tasks_dir


class ChatCompletions(http.server.BaseHTTPRequestHandler):
    requests_seen: list = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        content = body["messages"][-1]["content"]
        parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
        text = " ".join(part.get("text", "") for part in parts if part.get("type") == "text")
        images = [part for part in parts if part.get("type") == "image_url"]
        ChatCompletions.requests_seen.append({"text": text, "images": len(images), "model": body.get("model"),
                                              "image_url": images[0]["image_url"]["url"][:30] if images else None})
        answer = formatted((options_in_prompt(text) or ["no idea"])[0])
        payload = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": body.get("model"),
                              "choices": [{"index": 0, "finish_reason": "stop",
                                           "message": {"role": "assistant", "content": answer}}],
                              "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ChatCompletions)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


@pytest.mark.slow(seconds=12)
def test_openai_compatible_server_end_to_end(server, small_archives, manifest_dir, home, tmp_path):
    from finebench.data.prepare import prepare

    prepare(small_archives, manifest_dir, ["pet"], allow_missing=True, progress=False)
    output = tmp_path / "run"
    command = [sys.executable, "-m", "lmms_eval", "--model", "openai", "--model_args",
               f"model_version=Qwen/Qwen2.5-VL-7B-Instruct,base_url={server},api_key=EMPTY",
               "--tasks", "finegrained-official_pet_seen_closed", "--include_path", str(tasks_dir()),
               "--log_samples", "--output_path", str(output), "--verbosity", "DEBUG"]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OPENAI_API_KEY": "EMPTY"})
    run = read_run(output)
    assert run.results["results"]["finegrained-official_pet_seen_closed"]["official_accuracy,none"] == 100.0, \
        result.stderr[-3000:]
    seen = ChatCompletions.requests_seen
    assert len(seen) == 12 and all(request["images"] == 1 for request in seen)
    assert seen[0]["image_url"].startswith("data:image/")
    assert seen[0]["text"].startswith("Given the question: ")
    assert seen[0]["model"] == "Qwen/Qwen2.5-VL-7B-Instruct"
