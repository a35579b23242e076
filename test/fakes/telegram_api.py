"""A fake of the Telegram Bot API's sendMessage, the one method the shop's notifications use:

  POST /bot<token>/sendMessage   chat_id, text (JSON, form-encoded or query string), parse_mode etc. ignored
      -> 200 {"ok": true, "result": {"message_id", "chat": {"id"}, "date", "text"}}
      -> 401 {"ok": false, "error_code": 401, "description": "Unauthorized"}       another token
      -> 400 {"ok": false, "error_code": 400, "description": "Bad Request: ..."}   no chat_id / text
      -> 404 {"ok": false, "error_code": 404, "description": "Not Found"}          another method
  fake.flood(n, retry_after)  the next n sends answer 429 with parameters.retry_after, as Telegram does

    tg = TelegramApi(token="123:abc")
    tg.url                    # TELEGRAM_API_URL for the server (the server appends /bot<token>/sendMessage)
    tg.delivered()            # the messages answered 200: [{"chat_id", "text"}], oldest first
    + the controls of fakehttp.FakeServer (down, fail, hang, calls, ...)

Run alone: python3 telegram_api.py [port] [token]
"""

import json
import sys
import threading
import time

from fakehttp import FakeServer


class TelegramApi(FakeServer):
    name = "telegram-api"

    def __init__(self, token="123456:test-token", port=0, calls_file=None):
        self.token = token
        self._message_id = 0
        self._flood_left, self._flood_after = 0, 1
        self._tlock = threading.Lock()
        super().__init__(port=port, calls_file=calls_file)

    def flood(self, count, retry_after=1):
        with self._tlock:
            self._flood_left, self._flood_after = int(count), int(retry_after)

    def delivered(self, chat_id=None):
        out = []
        for c in self.calls(r"/sendMessage$"):
            if c["status"] == 200:
                p = c["params"]
                if chat_id is None or str(p.get("chat_id")) == str(chat_id):
                    out.append({"chat_id": str(p.get("chat_id")), "text": p.get("text")})
        return out

    @staticmethod
    def _answer(status, doc):
        return status, "application/json", json.dumps(doc, ensure_ascii=False)

    def handle(self, call):
        path = call["path"]
        if not path.startswith("/bot") or "/" not in path[4:]:
            return self._answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        token, method = path[4:].split("/", 1)
        if token != self.token:
            return self._answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        if method != "sendMessage":
            return self._answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        p = call["params"]
        if p.get("chat_id") in (None, ""):
            return self._answer(400, {"ok": False, "error_code": 400, "description": "Bad Request: chat_id is empty"})
        if not p.get("text"):
            return self._answer(400, {"ok": False, "error_code": 400,
                                      "description": "Bad Request: message text is empty"})
        with self._tlock:
            if self._flood_left > 0:
                self._flood_left -= 1
                return self._answer(429, {"ok": False, "error_code": 429,
                                          "description": "Too Many Requests: retry after %d" % self._flood_after,
                                          "parameters": {"retry_after": self._flood_after}})
            self._message_id += 1
            mid = self._message_id
        chat = p["chat_id"]
        try:
            chat = int(chat)
        except (TypeError, ValueError):
            pass
        return self._answer(200, {"ok": True, "result": {"message_id": mid, "chat": {"id": chat},
                                                         "date": int(time.time()), "text": p["text"]}})


if __name__ == "__main__":
    args = sys.argv[1:]
    tg = TelegramApi(token=args[1] if len(args) > 1 else "123456:test-token", port=int(args[0]) if args else 0)
    print(tg.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        tg.stop()
