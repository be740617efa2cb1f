"""Drive Debian's Chromium headless through the DevTools protocol, for tests that load pages in a real browser.

Chromium started with ``--remote-debugging-pipe`` reads protocol commands from file
descriptor 3 and writes its replies and events to file descriptor 4, each message a
JSON object followed by a NUL byte. This module speaks that protocol with the standard
library only, so it needs no websocket client and no browser-automation package.

    with HeadlessChromium(tmp_path / "profile") as browser:
        page = browser.open(path.as_uri())
        assert not page.exceptions
        page.save_screenshot(tmp_path / "page.png")

Every read from the browser has a deadline, so a hung browser raises ``TimeoutError``
instead of hanging the test. A browser that exits, or that replies to a command with
an error, raises ``BrowserError``.
"""

from __future__ import annotations

import base64
import fcntl
import itertools
import json
import math
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

DEBIAN_CHROMIUM = "/usr/bin/chromium"
INSTALL_HINT = "install Chromium with `apt-get install chromium` (Debian's package)"

# Flags that keep Chromium off the network. Without them it contacts Google's hosts at
# start-up (component updates, field trials, sync), which fails slowly on a machine
# without a network. The host resolver rule makes every host name unresolvable, so a
# page that tries to load something from a host fails fast instead of waiting.
OFFLINE_FLAGS = [
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
    "--host-resolver-rules=MAP * ~NOTFOUND",
]

# Chromium reads the protocol from this descriptor and writes to the next one.
_BROWSER_READ_FD = 3
_BROWSER_WRITE_FD = 4

# How much of the browser's stderr an error message quotes.
_STDERR_TAIL_CHARS = 3000


class BrowserError(RuntimeError):
    """Chromium exited, closed its pipe, or replied to a command with an error."""


class JavaScriptError(BrowserError):
    """An expression given to ``Page.evaluate`` threw an exception."""


def find_chromium() -> str | None:
    """Return the path of Debian's Chromium, else of a ``chromium`` on PATH, else None."""
    if os.access(DEBIAN_CHROMIUM, os.X_OK):
        return DEBIAN_CHROMIUM
    return shutil.which("chromium")


@dataclass(frozen=True)
class ConsoleMessage:
    """A message that the page wrote to the browser console.

    ``source`` is ``"console-api"`` for calls such as ``console.error``, else the
    DevTools Log domain's source: ``"security"`` for Content-Security-Policy violations,
    ``"network"`` for failed loads, ``"javascript"``, ``"rendering"`` and others.
    ``level`` is one of ``"error"``, ``"warning"``, ``"info"``, ``"log"``, ``"debug"``
    and ``"verbose"``.
    """

    level: str
    source: str
    text: str
    url: str = ""

    def __str__(self) -> str:
        where = f" ({self.url})" if self.url else ""
        return f"[{self.level}] {self.source}: {self.text}{where}"


class Page:
    """A page that ``HeadlessChromium.open`` loaded, with what it logged and requested so far.

    The lists keep growing while the page is used, because events that arrive during
    ``evaluate`` or a screenshot are appended too.
    """

    def __init__(self, browser: HeadlessChromium, url: str, target_id: str, session_id: str):
        self.url = url
        self.target_id = target_id
        self.session_id = session_id
        self.console_messages: list[ConsoleMessage] = []
        self.exceptions: list[str] = []
        self.request_urls: list[str] = []
        self._browser = browser
        self._navigated_loader_id: str | None = None
        self._loaded_loader_ids: set[str] = set()

    def evaluate(self, expression: str, timeout: float | None = None) -> Any:
        """Evaluate a JavaScript expression in the page and return its value, converted through JSON.

        A promise is awaited. Raises ``JavaScriptError`` when the expression throws.
        """
        result = self._browser.send("Runtime.evaluate", {
            "expression": expression,
            "returnByValue": True,
            "awaitPromise": True,
        }, session_id=self.session_id, timeout=timeout)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            description = details.get("exception", {}).get("description") or details.get("text", "")
            raise JavaScriptError(f"JavaScript threw an exception: {description}\nexpression: {expression}")
        return result["result"].get("value")

    def screenshot_png(self, timeout: float | None = None) -> bytes:
        """Capture the whole page, beyond the viewport, as PNG bytes at one device pixel per CSS pixel.

        NOTE: Chromium 150 hides the page's scrollbars for the capture and leaves them
        hidden afterwards. Each box that scrolls horizontally then loses a scrollbar's
        height (15 px), so positions measured before the capture can lie lower than in
        the image.
        """
        metrics = self._browser.send("Page.getLayoutMetrics", session_id=self.session_id, timeout=timeout)
        content = metrics["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": math.ceil(content["width"]), "height": math.ceil(content["height"]),
                "scale": 1}
        result = self._browser.send("Page.captureScreenshot", {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": clip,
        }, session_id=self.session_id, timeout=timeout)
        return base64.b64decode(result["data"])

    def save_screenshot(self, path: Path, timeout: float | None = None) -> Path:
        """Write a full-page PNG screenshot to ``path``, creating its folder, and return the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.screenshot_png(timeout=timeout))
        return path

    def _handle_event(self, method: str, params: dict) -> None:
        if method == "Runtime.consoleAPICalled":
            self.console_messages.append(ConsoleMessage(
                level=_console_api_level(params["type"]),
                source="console-api",
                text=" ".join(_remote_object_text(argument) for argument in params.get("args", [])),
                url=_first_call_frame_url(params.get("stackTrace")),
            ))
        elif method == "Log.entryAdded":
            entry = params["entry"]
            self.console_messages.append(ConsoleMessage(
                level=entry["level"], source=entry["source"], text=entry["text"], url=entry.get("url", "")))
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            description = details.get("exception", {}).get("description") or details.get("text", "")
            self.exceptions.append(description)
        elif method == "Network.requestWillBeSent":
            self.request_urls.append(params["request"]["url"])
        elif method == "Page.frameNavigated" and "parentId" not in params["frame"]:
            self._navigated_loader_id = params["frame"]["loaderId"]
        elif method == "Page.loadEventFired" and self._navigated_loader_id is not None:
            self._loaded_loader_ids.add(self._navigated_loader_id)


class HeadlessChromium:
    """A headless Chromium process controlled over the DevTools pipe, as a context manager.

    ``user_data_dir`` must be a new empty folder, because Chromium keeps its profile
    there and would otherwise reuse another run's state. ``timeout`` is the default number of
    seconds that starting the browser, one command, or loading one page may take.
    """

    def __init__(self, user_data_dir: Path, *, executable: str | None = None,
                 window_size: tuple[int, int] = (1280, 1024), timeout: float = 30.0):
        self.user_data_dir = Path(user_data_dir)
        self.executable = executable or find_chromium()
        if self.executable is None:
            raise FileNotFoundError(f"Chromium not found at {DEBIAN_CHROMIUM} or on PATH: {INSTALL_HINT}")
        self.window_size = window_size
        self.timeout = timeout
        self._process: subprocess.Popen | None = None
        self._stderr: Any = None
        self._to_browser: int | None = None
        self._from_browser: int | None = None
        self._buffer = bytearray()
        self._message_ids = itertools.count(1)
        self._replies: dict[int, dict] = {}
        self._pages: dict[str, Page] = {}

    def __enter__(self) -> HeadlessChromium:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def command_line(self) -> list[str]:
        """Return the browser's command line: the executable and every flag."""
        width, height = self.window_size
        flags = [*OFFLINE_FLAGS, f"--window-size={width},{height}", f"--user-data-dir={self.user_data_dir}",
                 "--remote-debugging-pipe"]
        # Chromium does not start as root unless its sandbox is switched off. CI runs as root.
        if os.geteuid() == 0:
            flags.append("--no-sandbox")
        return [self.executable, *flags, "about:blank"]

    def start(self) -> None:
        """Start the browser and wait until it replies on the pipe."""
        self.user_data_dir.mkdir(parents=True, exist_ok=True)
        browser_reads, self._to_browser = os.pipe()
        self._from_browser, browser_writes = os.pipe()
        self._stderr = tempfile.TemporaryFile()

        def connect_pipes_to_fds_3_and_4() -> None:
            # Runs in the child between fork and exec. Both ends are first copied above 9,
            # so that neither dup2 overwrites the other when os.pipe returned 3 or 4.
            reading = fcntl.fcntl(browser_reads, fcntl.F_DUPFD, 10)
            writing = fcntl.fcntl(browser_writes, fcntl.F_DUPFD, 10)
            os.dup2(reading, _BROWSER_READ_FD)
            os.dup2(writing, _BROWSER_WRITE_FD)
            os.close(reading)
            os.close(writing)

        try:
            try:
                # close_fds=False because subprocess would otherwise close fds 3 and 4 after
                # the preexec function. Python creates descriptors non-inheritable (PEP 446), so
                # unless other code made one inheritable, the child inherits only stdin, stdout,
                # stderr and the two pipe ends.
                self._process = subprocess.Popen(
                    self.command_line(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=self._stderr, close_fds=False, preexec_fn=connect_pipes_to_fds_3_and_4)
            finally:
                os.close(browser_reads)
                os.close(browser_writes)
            self.send("Browser.getVersion")
        except BaseException:
            self.close()
            raise

    def open(self, url: str, timeout: float | None = None) -> Page:
        """Open ``url`` in a new tab, wait for its load event and one rendered frame, and return the page.

        Console messages, uncaught exceptions and requests are recorded from before the
        navigation starts. Raises ``BrowserError`` when the navigation fails (for example
        a missing file) and ``TimeoutError`` when the load event does not arrive in time.
        """
        timeout = self.timeout if timeout is None else timeout
        target_id = self.send("Target.createTarget", {"url": "about:blank"}, timeout=timeout)["targetId"]
        session_id = self.send("Target.attachToTarget", {"targetId": target_id, "flatten": True},
                               timeout=timeout)["sessionId"]
        page = Page(self, url, target_id, session_id)
        self._pages[session_id] = page
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session_id=session_id, timeout=timeout)

        navigation = self.send("Page.navigate", {"url": url}, session_id=session_id, timeout=timeout)
        if navigation.get("errorText"):
            raise BrowserError(f"navigation to {url} failed: {navigation['errorText']}")
        loader_id = navigation["loaderId"]
        self._read_until(lambda: loader_id in page._loaded_loader_ids, time.monotonic() + timeout,
                         f"the load event of {url}")

        # Wait for a rendered frame and then one more task, so that messages logged while
        # the page lays out and paints are recorded before the caller reads them.
        page.evaluate("new Promise(resolve => requestAnimationFrame(() => setTimeout(resolve, 0)))",
                      timeout=timeout)
        return page

    def send(self, method: str, params: dict | None = None, *, session_id: str | None = None,
             timeout: float | None = None) -> dict:
        """Send one DevTools protocol command and return its result, recording events that arrive meanwhile."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        message_id = next(self._message_ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session_id is not None:
            message["sessionId"] = session_id
        self._write(json.dumps(message).encode() + b"\0", deadline, method)
        self._read_until(lambda: message_id in self._replies, deadline, f"the reply to {method}")
        reply = self._replies.pop(message_id)
        if "error" in reply:
            error = reply["error"]
            raise BrowserError(f"{method} failed: {error.get('message')} (code {error.get('code')})"
                               f"{': ' + error['data'] if 'data' in error else ''}")
        return reply.get("result", {})

    def close(self) -> None:
        """Terminate the browser by its process id (SIGTERM, then SIGKILL after 10 s) and close the pipes."""
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait(timeout=10)
            self._process = None
        for fd in (self._to_browser, self._from_browser):
            if fd is not None:
                os.close(fd)
        self._to_browser = self._from_browser = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    # --- The pipe --------------------------------------------------------------------

    def _write(self, data: bytes, deadline: float, method: str) -> None:
        if self._to_browser is None:
            raise BrowserError("the browser is not running: use HeadlessChromium as a context manager or call start()")
        view = memoryview(data)
        while view:
            _, writable, _ = select.select([], [self._to_browser], [], self._remaining(deadline, f"sending {method}"))
            if not writable:
                continue
            try:
                written = os.write(self._to_browser, view)
            except BrokenPipeError:
                raise BrowserError(f"the browser closed its pipe while {method} was sent{self._exit_details()}") from None
            view = view[written:]

    def _read_until(self, condition: Callable[[], bool], deadline: float, awaited: str) -> None:
        """Read and dispatch messages until ``condition()`` holds, raising TimeoutError at ``deadline``."""
        while not condition():
            self._dispatch(self._read_message(deadline, awaited))

    def _read_message(self, deadline: float, awaited: str) -> dict:
        while b"\0" not in self._buffer:
            if self._from_browser is None:
                raise BrowserError("the browser is not running: use HeadlessChromium as a context manager or call start()")
            readable, _, _ = select.select([self._from_browser], [], [], self._remaining(deadline, f"waiting for {awaited}"))
            if not readable:
                continue
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise BrowserError(f"the browser closed its pipe while waiting for {awaited}{self._exit_details()}")
            self._buffer += chunk
        end = self._buffer.index(b"\0")
        message = json.loads(self._buffer[:end])
        del self._buffer[:end + 1]
        return message

    def _dispatch(self, message: dict) -> None:
        if "id" in message:
            self._replies[message["id"]] = message
            return
        page = self._pages.get(message.get("sessionId", ""))
        if page is not None:
            page._handle_event(message["method"], message.get("params", {}))

    def _remaining(self, deadline: float, activity: str) -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"timed out {activity} from the browser{self._exit_details()}")
        return remaining

    def _exit_details(self) -> str:
        """Describe the browser's exit status and the end of its stderr, for error messages."""
        details = ""
        if self._process is not None:
            try:
                # A browser that closed its pipe is usually exiting: give it a moment to finish.
                status = self._process.wait(timeout=0.5)
                details += f"; the browser exited with status {status}"
            except subprocess.TimeoutExpired:
                pass
        if self._stderr is not None:
            self._stderr.seek(0)
            tail = self._stderr.read().decode(errors="replace")[-_STDERR_TAIL_CHARS:].strip()
            if tail:
                details += f"\nend of the browser's stderr:\n{tail}"
        return details


def _console_api_level(call_type: str) -> str:
    """Map a ``console`` method name to a message level: ``console.assert`` failures count as errors."""
    if call_type in ("error", "assert"):
        return "error"
    if call_type == "warning":
        return "warning"
    return call_type


def _remote_object_text(remote_object: dict) -> str:
    if "value" in remote_object:
        return str(remote_object["value"])
    return remote_object.get("description") or remote_object.get("unserializableValue") or remote_object["type"]


def _first_call_frame_url(stack_trace: dict | None) -> str:
    frames = (stack_trace or {}).get("callFrames") or []
    return frames[0].get("url", "") if frames else ""
