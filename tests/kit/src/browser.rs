//! A real headless Chromium for the console's tests, driven over the W3C
//! WebDriver protocol (JSON over HTTP to `chromedriver`): a small client of
//! the few commands the tests use, on the kit's `reqwest`.
//!
//! [`Browser::start`] launches `chromedriver` on a free port of 127.0.0.1
//! and opens a session on a headless Chromium with a throwaway profile;
//! dropping the [`Browser`] ends the session and kills the driver's
//! process group (the browser with it). The browser is
//! `WASMHOOK_TEST_CHROMIUM` (default `/usr/bin/chromium`), the driver
//! `WASMHOOK_TEST_CHROMEDRIVER` (default `chromedriver` on `PATH`). When
//! either is missing the test is skipped with a notice ([`Browser::start`]
//! answers `None`), unless `WASMHOOK_TEST_REQUIRE_BROWSER=1` (CI), which
//! fails it.
//!
//! The calls are async, as the kit's API client is: a test's in-process
//! receiver keeps answering while the test waits on the page. Waits are
//! bounded ([`Browser::set_wait`], 10 s by default) and panic naming what
//! was awaited, the page's URL and its text.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

pub const CHROMIUM: &str = "WASMHOOK_TEST_CHROMIUM";
pub const CHROMEDRIVER: &str = "WASMHOOK_TEST_CHROMEDRIVER";
const REQUIRE: &str = "WASMHOOK_TEST_REQUIRE_BROWSER";
const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";
const DEFAULT_CHROMEDRIVER: &str = "chromedriver";

/// The key of an element reference in the protocol's JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The accessibility check run in the page (see [`Browser::accessibility_violations`]).
const ACCESSIBILITY_JS: &str = include_str!("accessibility.js");

/// Keys for [`Browser::press`] and [`Element::send_keys`] (the protocol's
/// code points).
pub mod keys {
    pub const TAB: &str = "\u{E004}";
    pub const ENTER: &str = "\u{E007}";
    pub const ESCAPE: &str = "\u{E00C}";
    pub const SHIFT: &str = "\u{E008}";
    pub const CONTROL: &str = "\u{E009}";
    pub const BACKSPACE: &str = "\u{E003}";
    pub const SPACE: &str = "\u{E00D}";
    pub const ARROW_DOWN: &str = "\u{E015}";
    pub const ARROW_UP: &str = "\u{E013}";
}

/// A headless Chromium session; closed, and its driver killed, when dropped.
pub struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:<port>`.
    driver_url: String,
    session: String,
    driver: Child,
    profile: PathBuf,
    driver_log: Arc<Mutex<Vec<String>>>,
    wait: Duration,
}

/// An element of the current page.
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

/// An error the driver answered (`error` is the protocol's code, e.g.
/// `no such element`).
#[derive(Debug)]
struct DriverError {
    error: String,
    message: String,
}

/// One failure of the accessibility check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// `lang`, `title`, `label`, `button-name`, `link-name`, `image-alt`,
    /// `contrast` or `tabindex`.
    pub rule: String,
    /// The element, as `tag#id.class[name=…]`.
    pub target: String,
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} {}", self.rule, self.target, self.detail)
    }
}

/// Why no browser can run here (a missing binary), or `None`.
fn missing(chromium: &Path, driver: &str) -> Option<String> {
    if !is_executable(chromium) {
        return Some(format!("no Chromium at {} (set {CHROMIUM})", chromium.display()));
    }
    if find_program(driver).is_none() {
        return Some(format!("no chromedriver: {driver:?} is not an executable file nor on PATH (set {CHROMEDRIVER})"));
    }
    None
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `program` itself when it names a path, else the first executable of that
/// name on `PATH`.
fn find_program(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return is_executable(Path::new(program)).then(|| PathBuf::from(program));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|candidate| is_executable(candidate))
}

/// Where the screenshots go: `<target>/console-screenshots`, `<target>`
/// being `CARGO_TARGET_DIR` (relative to the workspace when relative), else
/// the cargo target directory the test binary was built in, else the
/// workspace's `target/`.
pub fn screenshot_dir() -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => crate::workspace_root().join(dir),
        None => std::env::current_exe()
            .ok()
            .and_then(|exe| exe.ancestors().find(|dir| dir.join("CACHEDIR.TAG").is_file()).map(Path::to_path_buf))
            .unwrap_or_else(|| crate::workspace_root().join("target")),
    };
    target.join("console-screenshots")
}

impl Browser {
    /// A new session on a headless Chromium, 1280×900; `None`, with a
    /// notice, when Chromium or its driver is missing and
    /// `WASMHOOK_TEST_REQUIRE_BROWSER=1` is not set (with it, a panic).
    pub async fn start() -> Option<Browser> {
        let chromium = std::env::var_os(CHROMIUM).map_or_else(|| PathBuf::from(DEFAULT_CHROMIUM), PathBuf::from);
        let driver =
            std::env::var(CHROMEDRIVER).ok().filter(|d| !d.is_empty()).unwrap_or_else(|| DEFAULT_CHROMEDRIVER.into());
        if let Some(why) = missing(&chromium, &driver) {
            if std::env::var(REQUIRE).is_ok_and(|v| v == "1") {
                panic!("{REQUIRE}=1 but {why}: install Debian's chromium and chromium-driver");
            }
            eprintln!("skipped: {why} (Debian's chromium and chromium-driver packages)");
            return None;
        }
        let driver = find_program(&driver).expect("checked above");
        Some(Self::launch(&chromium, &driver).await)
    }

    async fn launch(chromium: &Path, driver: &Path) -> Browser {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let profile = std::env::temp_dir().join(format!(
            "wasmhook-chromium-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).expect("create the browser profile directory");
        // The driver is on 127.0.0.1: no proxy of the environment applies.
        let http =
            reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(120)).build().expect("an HTTP client");

        // The port is free when asked; another process may take it before
        // the driver does, so a driver that exits is started again.
        let mut attempt = 0;
        let (driver, driver_url, driver_log) = loop {
            attempt += 1;
            let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
            let mut child = Command::new(driver)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                // A group of its own, the browser in it: Drop kills the group.
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("start {}: {e}", driver.display()));
            let log = Arc::new(Mutex::new(Vec::new()));
            for stream in [
                Box::new(child.stdout.take().expect("piped")) as Box<dyn Read + Send>,
                Box::new(child.stderr.take().expect("piped")),
            ] {
                let log = log.clone();
                std::thread::spawn(move || {
                    for line in BufReader::new(stream).lines().map_while(Result::ok) {
                        log.lock().unwrap().push(line);
                    }
                });
            }
            let url = format!("http://127.0.0.1:{port}");
            match wait_ready(&http, &url, &mut child).await {
                Ok(()) => break (child, url, log),
                Err(why) => {
                    kill_group(&mut child);
                    if attempt >= 3 {
                        let _ = std::fs::remove_dir_all(&profile);
                        panic!("chromedriver did not start: {why}; its output:\n{}", log.lock().unwrap().join("\n"));
                    }
                }
            }
        };

        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,900", format!("--user-data-dir={}", profile.display()),
                    "--no-first-run", "--no-default-browser-check", "--lang=en-US",
                ],
            },
        }}});
        let mut browser = Browser {
            http,
            driver_url,
            session: String::new(),
            driver,
            profile,
            driver_log,
            wait: Duration::from_secs(10),
        };
        match browser.raw(reqwest::Method::POST, "/session", Some(capabilities)).await {
            Ok(value) => browser.session = value["sessionId"].as_str().expect("a session id").to_owned(),
            Err(e) => panic!(
                "chromedriver could not start {}: {e:?}; its output:\n{}",
                chromium.display(),
                browser.driver_log.lock().unwrap().join("\n")
            ),
        }
        browser
    }

    /// How long [`find`](Self::find) and the other waits wait (10 s by default).
    pub fn set_wait(&mut self, wait: Duration) {
        self.wait = wait;
    }

    /// Navigates to `url` and waits for its load event.
    pub async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", json!({"url": url})).await;
    }

    /// The current page's URL.
    pub async fn url(&self) -> String {
        self.get("/url").await.as_str().unwrap_or_default().to_owned()
    }

    /// The current page's title.
    pub async fn title(&self) -> String {
        self.get("/title").await.as_str().unwrap_or_default().to_owned()
    }

    /// The text of the page's body as rendered (`innerText`).
    pub async fn page_text(&self) -> String {
        self.execute("return document.body ? document.body.innerText : '';", vec![])
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The first element matching the CSS selector `css`, once there is one
    /// (waits up to the wait; then panics naming the selector, the URL and
    /// the page's text).
    pub async fn find(&self, css: &str) -> Element<'_> {
        let deadline = Instant::now() + self.wait;
        loop {
            match self.raw_session(reqwest::Method::POST, "/element", Some(locator(css))).await {
                Ok(value) => return self.element(&value),
                Err(e) if e.error == "no such element" && Instant::now() < deadline => {}
                Err(e) if e.error == "no such element" => {
                    panic!("{}", self.failure(&format!("no element matches `{css}` after {:?}", self.wait)).await)
                }
                Err(e) => panic!("{}", self.failure(&format!("find `{css}`: {e:?}")).await),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every element matching `css` now (no wait).
    pub async fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        let found = self.command(reqwest::Method::POST, "/elements", locator(css)).await;
        found.as_array().map(|all| all.iter().map(|e| self.element(e)).collect()).unwrap_or_default()
    }

    /// Whether an element matches `css` now (no wait).
    pub async fn exists(&self, css: &str) -> bool {
        !self.find_all(css).await.is_empty()
    }

    /// The first element matching `css` whose rendered text contains `text`,
    /// once there is one (waits as [`find`](Self::find) does).
    pub async fn wait_for_text(&self, css: &str, text: &str) -> Element<'_> {
        let script = "return [...document.querySelectorAll(arguments[0])]\
                      .find(e => (e.innerText ?? e.textContent).includes(arguments[1])) ?? null;";
        let deadline = Instant::now() + self.wait;
        loop {
            let found = self.execute(script, vec![json!(css), json!(text)]).await;
            if !found.is_null() {
                return self.element(&found);
            }
            if Instant::now() >= deadline {
                panic!(
                    "{}",
                    self.failure(&format!("no element matching `{css}` contains {text:?} after {:?}", self.wait)).await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the script `condition` (a function body, e.g.
    /// `return location.hash === '#/hooks'`) returns a truthy value;
    /// panics with `what` after the wait.
    pub async fn wait_until(&self, what: &str, condition: &str) {
        let deadline = Instant::now() + self.wait;
        loop {
            let value = self.execute(condition, vec![]).await;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return;
            }
            if Instant::now() >= deadline {
                panic!("{}", self.failure(&format!("waited {:?} for {what}", self.wait)).await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs `script` (a function body; its arguments in `arguments`, an
    /// element passed as [`Element::as_arg`]) in the page and returns what
    /// it returns.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.command(reqwest::Method::POST, "/execute/sync", json!({"script": script, "args": args})).await
    }

    /// Resizes the window (e.g. 390×844 for a phone width).
    pub async fn set_window_size(&self, width: u32, height: u32) {
        self.command(reqwest::Method::POST, "/window/rect", json!({"width": width, "height": height})).await;
    }

    /// The element that has the focus.
    pub async fn active_element(&self) -> Element<'_> {
        let value = self.get("/element/active").await;
        self.element(&value)
    }

    /// Presses `keys` together, as a user would (the first held down while
    /// the next are pressed: `press(&[keys::SHIFT, keys::TAB])`), to the
    /// focused element.
    pub async fn press(&self, keys: &[&str]) {
        let mut actions: Vec<Value> = keys.iter().map(|k| json!({"type": "keyDown", "value": k})).collect();
        actions.extend(keys.iter().rev().map(|k| json!({"type": "keyUp", "value": k})));
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        self.command(reqwest::Method::POST, "/actions", body).await;
        self.command(reqwest::Method::DELETE, "/actions", Value::Null).await;
    }

    /// Accepts the page's open `confirm()` (or `alert()`), once it is open.
    pub async fn accept_dialog(&self) {
        let deadline = Instant::now() + self.wait;
        loop {
            match self.raw_session(reqwest::Method::POST, "/alert/accept", Some(json!({}))).await {
                Ok(_) => return,
                Err(e) if e.error == "no such alert" && Instant::now() < deadline => {}
                Err(e) => panic!("{}", self.failure(&format!("accept a dialog: {e:?}")).await),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A PNG of the viewport, written to
    /// `<target>/console-screenshots/<name>.png` (see [`screenshot_dir`]);
    /// its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let encoded = self.get("/screenshot").await;
        let png = STANDARD.decode(encoded.as_str().expect("a base64 screenshot")).expect("base64");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// The messages the page logged at level SEVERE (`console.error`,
    /// uncaught exceptions, failed loads, CSP refusals) since the last call.
    pub async fn console_errors(&self) -> Vec<String> {
        // Chromedriver's own command (not W3C): the log since the last read.
        let log = self.command(reqwest::Method::POST, "/se/log", json!({"type": "browser"})).await;
        log.as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The accessibility check (`accessibility.js`) on the current page:
    /// every visible form control, button and link has an accessible name,
    /// every image an `alt`, visible text a contrast of at least 4.5:1 (3:1
    /// for large text) with its background, the document a `lang` and a
    /// title, and no element a positive `tabindex`.
    pub async fn accessibility_violations(&self) -> Vec<Violation> {
        let found = self.execute(ACCESSIBILITY_JS, vec![]).await;
        found
            .as_array()
            .expect("the check returns a list")
            .iter()
            .map(|v| Violation {
                rule: v["rule"].as_str().unwrap_or_default().to_owned(),
                target: v["target"].as_str().unwrap_or_default().to_owned(),
                detail: v["detail"].as_str().unwrap_or_default().to_owned(),
            })
            .collect()
    }

    /// Panics listing the accessibility violations of the current page
    /// (`page_name` names it in the message), if any.
    pub async fn assert_accessible(&self, page_name: &str) {
        let violations = self.accessibility_violations().await;
        if !violations.is_empty() {
            let list: Vec<String> = violations.iter().map(|v| format!("  {v}")).collect();
            panic!(
                "{page_name} ({}): {} accessibility violation(s):\n{}",
                self.url().await,
                violations.len(),
                list.join("\n")
            );
        }
    }

    /// A panic message: `what`, the current URL and the page's text.
    async fn failure(&self, what: &str) -> String {
        let url = self.url().await;
        let mut text = self.page_text().await;
        if text.len() > 2000 {
            let cut = (0..=2000).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
            text.truncate(cut);
            text.push('…');
        }
        format!("{what}; on {url}, whose text is:\n{text}")
    }

    fn element(&self, value: &Value) -> Element<'_> {
        let id = value[ELEMENT].as_str().unwrap_or_else(|| panic!("not an element reference: {value}"));
        Element { browser: self, id: id.to_owned() }
    }

    async fn get(&self, path: &str) -> Value {
        self.command(reqwest::Method::GET, path, Value::Null).await
    }

    /// A command on the session; panics on an error.
    async fn command(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let body = (method != reqwest::Method::GET && method != reqwest::Method::DELETE).then_some(body);
        self.raw_session(method.clone(), path, body)
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {}: {}", e.error, e.message))
    }

    async fn raw_session(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, DriverError> {
        self.raw(method, &format!("/session/{}{path}", self.session), body).await
    }

    async fn raw(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, DriverError> {
        let mut request = self.http.request(method, format!("{}{path}", self.driver_url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response =
            request.send().await.map_err(|e| DriverError { error: "transport".into(), message: e.to_string() })?;
        let ok = response.status().is_success();
        let text =
            response.text().await.map_err(|e| DriverError { error: "transport".into(), message: e.to_string() })?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| DriverError { error: "not JSON".into(), message: format!("{e}: {text}") })?;
        let value = value.get("value").cloned().unwrap_or(Value::Null);
        if ok {
            Ok(value)
        } else {
            let error = value["error"].as_str().unwrap_or("unknown error").to_owned();
            let message = value["message"].as_str().unwrap_or_default();
            // The driver appends a native stack trace after the message's first line.
            Err(DriverError { error, message: message.lines().next().unwrap_or_default().to_owned() })
        }
    }
}

fn locator(css: &str) -> Value {
    json!({"using": "css selector", "value": css})
}

/// Waits (up to 20 s) for the driver at `url` to say it is ready.
async fn wait_ready(http: &reqwest::Client, url: &str, child: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("it exited ({status})"));
        }
        let status = http.get(format!("{url}/status")).timeout(Duration::from_secs(2)).send().await;
        if let Ok(response) = status
            && let Ok(body) = response.json::<Value>().await
            && body["value"]["ready"] == true
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err("no ready /status within 20 s".into())
}

/// SIGKILL to the child's process group (the driver and the browser it
/// started), then reaps the child.
fn kill_group(child: &mut Child) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) on the group our unreaped child leads; no memory is shared.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Drop cannot await: the session is ended over a plain blocking
        // connection, so the browser quits and flushes its profile before
        // the group is killed.
        if !self.session.is_empty() {
            let _ = delete_session(&self.driver_url, &self.session);
        }
        kill_group(&mut self.driver);
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn delete_session(driver_url: &str, session: &str) -> std::io::Result<()> {
    let host = driver_url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "DELETE /session/{session} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )?;
    // The driver answers once the browser quit, and may keep the
    // connection open after: its status line is enough.
    let mut status = String::new();
    BufReader::new(stream).read_line(&mut status)?;
    Ok(())
}

impl<'a> Element<'a> {
    /// Clicks it (retried while it is not yet interactable, up to the wait).
    pub async fn click(&self) {
        let deadline = Instant::now() + self.browser.wait;
        loop {
            match self.browser.raw_session(reqwest::Method::POST, &self.path("/click"), Some(json!({}))).await {
                Ok(_) => return,
                Err(e)
                    if (e.error == "element not interactable" || e.error == "element click intercepted")
                        && Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(e) => {
                    let what = format!("click {}: {}: {}", self.describe().await, e.error, e.message);
                    panic!("{}", self.browser.failure(&what).await)
                }
            }
        }
    }

    /// Types `text` into it (focusing it first); [`keys`] may be part of it.
    pub async fn send_keys(&self, text: &str) {
        self.browser.command(reqwest::Method::POST, &self.path("/value"), json!({"text": text})).await;
    }

    /// Empties an input or textarea.
    pub async fn clear(&self) {
        self.browser.command(reqwest::Method::POST, &self.path("/clear"), json!({})).await;
    }

    /// Its rendered text.
    pub async fn text(&self) -> String {
        self.browser.get(&self.path("/text")).await.as_str().unwrap_or_default().to_owned()
    }

    /// Its attribute `name`, `None` when absent.
    pub async fn attribute(&self, name: &str) -> Option<String> {
        self.browser.get(&self.path(&format!("/attribute/{name}"))).await.as_str().map(str::to_owned)
    }

    /// Its DOM property `name` (e.g. `value`, `checked`).
    pub async fn property(&self, name: &str) -> Value {
        self.browser.get(&self.path(&format!("/property/{name}"))).await
    }

    /// Whether it is rendered visibly.
    pub async fn is_displayed(&self) -> bool {
        self.browser.get(&self.path("/displayed")).await == true
    }

    /// The first element under it matching `css` (waits as [`Browser::find`]).
    pub async fn find(&self, css: &str) -> Element<'a> {
        let deadline = Instant::now() + self.browser.wait;
        loop {
            match self.browser.raw_session(reqwest::Method::POST, &self.path("/element"), Some(locator(css))).await {
                Ok(value) => return self.browser.element(&value),
                Err(e) if e.error == "no such element" && Instant::now() < deadline => {}
                Err(e) => {
                    let what = format!("no element under {} matches `{css}`: {}", self.describe().await, e.error);
                    panic!("{}", self.browser.failure(&what).await)
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// It as an argument of [`Browser::execute`].
    pub fn as_arg(&self) -> Value {
        json!({ELEMENT: self.id})
    }

    /// Whether it and `other` are the same element.
    pub async fn is(&self, other: &Element<'_>) -> bool {
        self.browser.execute("return arguments[0] === arguments[1];", vec![self.as_arg(), other.as_arg()]).await == true
    }

    /// `tag#id.class` of it, for messages.
    pub async fn describe(&self) -> String {
        let script = "const e = arguments[0]; return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + \
                      [...e.classList].map(c => '.' + c).join('');";
        match self
            .browser
            .raw_session(
                reqwest::Method::POST,
                "/execute/sync",
                Some(json!({"script": script, "args": [self.as_arg()]})),
            )
            .await
        {
            Ok(Value::String(s)) => s,
            _ => format!("element {}", self.id),
        }
    }

    fn path(&self, command: &str) -> String {
        format!("/element/{}{command}", self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_browser_or_driver_is_named() {
        let why = missing(Path::new("/nonexistent/chromium"), "chromedriver").expect("missing");
        assert!(why.contains("/nonexistent/chromium") && why.contains(CHROMIUM), "{why}");
        let why = missing(Path::new("/bin/sh"), "no-such-chromedriver-here").expect("missing");
        assert!(why.contains("no-such-chromedriver-here") && why.contains(CHROMEDRIVER), "{why}");
        let why = missing(Path::new("/bin/sh"), "/nonexistent/chromedriver").expect("missing");
        assert!(why.contains("/nonexistent/chromedriver"), "{why}");
        assert_eq!(missing(Path::new("/bin/sh"), "sh"), None);
    }

    #[test]
    fn programs_are_found_on_the_path() {
        assert!(find_program("sh").is_some());
        assert_eq!(find_program("/bin/sh"), Some(PathBuf::from("/bin/sh")));
        assert_eq!(find_program("no-such-program-anywhere"), None);
    }
}
