"""Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
fd 3 in, fd 4 out, messages of JSON ended by a NUL byte), with the standard library only.

    with Chromium.start(tmp_path) as browser:
        page = browser.open("file:///.../report.html")
        page.evaluate("document.title")
        png = page.screenshot()

Debian's ``chromium`` package, run as root: ``--no-sandbox``; a fresh ``--user-data-dir``;
no background traffic (``--disable-background-networking`` ...). :func:`chromium_binary` is
None when it is not installed (tests skip, naming it; CI installs it).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio"]


def chromium_binary() -> str | None:
    return next((found for name in ("chromium", "chromium-browser", "google-chrome")
                 if (found := shutil.which(name))), None)


class DevToolsError(RuntimeError):
    pass


class Page:
    """One tab: JavaScript evaluated in it, screenshots of it."""

    def __init__(self, browser: "Chromium", session: str):
        self.browser, self.session = browser, session

    def call(self, method: str, **params) -> dict:
        return self.browser.call(method, session=self.session, **params)

    def evaluate(self, expression: str, timeout: float = 60):
        """The value of ``expression`` (a Promise is awaited), as JSON."""
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True,
                           returnByValue=True, timeout=int(timeout * 1000))
        if "exceptionDetails" in result:
            raise DevToolsError(json.dumps(result["exceptionDetails"])[:2000])
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                raise DevToolsError(f"timed out waiting for {expression}")
            time.sleep(0.1)

    def screenshot(self) -> bytes:
        return base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])


class Chromium:
    """A headless Chromium process and its DevTools pipe."""

    def __init__(self, process: subprocess.Popen, to_browser: int, from_browser: int):
        self.process, self.to_browser, self.from_browser = process, to_browser, from_browser
        self.next_id, self.buffer = 0, b""

    @classmethod
    def start(cls, profile: Path, binary: str | None = None) -> "Chromium":
        binary = binary or chromium_binary()
        commands_read, commands_write = os.pipe()
        events_read, events_write = os.pipe()
        # High numbers first, so that moving them to 3 and 4 in the child never overwrites one.
        keep = [os.dup2(fd, 100 + i) for i, fd in enumerate((commands_read, events_write))]
        for fd in (commands_read, events_write):
            os.close(fd)

        def child_fds():
            os.dup2(keep[0], 3)
            os.dup2(keep[1], 4)

        process = subprocess.Popen([binary, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={profile}",
                                    "--window-size=1400,1000", "about:blank"],
                                   preexec_fn=child_fds, close_fds=False, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for fd in keep:
            os.close(fd)
        return cls(process, commands_write, events_read)

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for fd in (self.to_browser, self.from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _message(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\0" not in self.buffer:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise DevToolsError("no answer from chromium (exited?)")
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                raise DevToolsError("chromium closed its DevTools pipe")
            self.buffer += chunk
        message, _, self.buffer = self.buffer.partition(b"\0")
        return json.loads(message)

    def call(self, method: str, session: str | None = None, timeout: float = 120, **params) -> dict:
        """Send one command and return its result (events in between are dropped)."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._message(timeout)
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise DevToolsError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def open(self, url: str, width: int = 1400, height: int = 1000) -> Page:
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        page = Page(self, session)
        page.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=False)
        page.call("Page.navigate", url=url)
        page.wait_for("document.readyState === 'complete'")
        return page
