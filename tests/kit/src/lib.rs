//! What the engine's end-to-end tests, the `tests/` suites and the load
//! benchmark share: the real `wasmhook` binary started on a data directory
//! and a free port on 127.0.0.1, a client that speaks its API, a webhook
//! receiver ([`receiver`]), one that only counts for the load benchmark
//! ([`counting`]) and the hostile test component. Engines run on redb,
//! except in the `on_postgres` test binary, where each data directory has
//! a PostgreSQL database of its own ([`postgres`]). The console's tests
//! drive a real headless Chromium over WebDriver ([`browser`]).
//!
//! The binary is the one cargo built for the test or benchmark that runs:
//! cargo names it in `CARGO_BIN_EXE_wasmhook` when it builds and when it
//! runs the `wasmhook` package's tests and benchmarks, so this crate needs
//! no dependency on the engine's library (the engine's tests would link a
//! second copy of it).

pub mod browser;
pub mod counting;
pub mod files;
pub mod postgres;
pub mod receiver;
pub mod traffic;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

pub const ADMIN: &str = "test-admin-token";

/// A running engine; killed when dropped.
pub struct Engine {
    child: Child,
    pub url: String,
    pub data_dir: PathBuf,
    /// Its standard error, line by line, when collected.
    logs: Option<Arc<Mutex<Vec<String>>>>,
}

/// `wasmhook serve` on `data_dir`, with extra arguments; waits until it
/// listens.
pub fn start(data_dir: &Path, args: &[&str]) -> Engine {
    start_with(data_dir, args, &[], false)
}

/// As [`start`], with extra environment variables, and standard error
/// collected (see [`Engine::logs`]) when `collect_logs`.
pub fn start_with(data_dir: &Path, args: &[&str], envs: &[(&str, &str)], collect_logs: bool) -> Engine {
    let mut command = command(data_dir, args);
    command.envs(envs.iter().copied());
    launch(command, data_dir, collect_logs)
}

/// As [`start_with`] (standard error not collected), under a soft
/// open-files limit of `soft_limit`.
pub fn start_with_open_files(data_dir: &Path, args: &[&str], envs: &[(&str, &str)], soft_limit: u64) -> Engine {
    let mut command = command(data_dir, args);
    command.envs(envs.iter().copied());
    files::with_soft_limit(&mut command, soft_limit);
    launch(command, data_dir, false)
}

/// Spawns `command` (a `wasmhook serve`) and waits until it listens.
fn launch(mut command: Command, data_dir: &Path, collect_logs: bool) -> Engine {
    let stderr = if collect_logs { Stdio::piped() } else { Stdio::inherit() };
    let mut child = command.stdout(Stdio::piped()).stderr(stderr).spawn().expect("spawn");
    let logs = child.stderr.take().map(|stderr| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let collected = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                collected.lock().unwrap().push(line);
            }
        });
        logs
    });
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read the listening line");
    let url =
        line.trim().strip_prefix("wasmhook listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    Engine { child, url: url.to_owned(), data_dir: data_dir.to_owned(), logs }
}

/// The `wasmhook` binary with `args`, in an environment of only `envs`:
/// its output.
pub fn wasmhook(args: &[&str], envs: &[(&str, &str)]) -> Output {
    Command::new(binary()).args(args).env_clear().envs(envs.iter().copied()).output().expect("run wasmhook")
}

/// `wasmhook serve` expected to fail at start: its output.
pub fn start_failing(data_dir: &Path, args: &[&str]) -> Output {
    start_failing_with(data_dir, args, &[])
}

/// As [`start_failing`], with extra environment variables.
pub fn start_failing_with(data_dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut child = command(data_dir, args)
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    for _ in 0..300 {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("wasmhook serve {args:?} did not stop within 30 s");
}

/// The `wasmhook` binary under test: the one cargo built for the running
/// test or benchmark of the `wasmhook` package.
pub fn binary() -> PathBuf {
    std::env::var_os("CARGO_BIN_EXE_wasmhook").map(PathBuf::from).expect(
        "CARGO_BIN_EXE_wasmhook is not set: run through `cargo test -p wasmhook` or `cargo bench -p wasmhook`, \
         or set it to a wasmhook binary",
    )
}

fn command(data_dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(binary());
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .env("WASMHOOK_ADMIN_TOKEN", ADMIN)
        // The receivers listen on 127.0.0.1, which targets are refused by
        // default; a test of that passes an empty value.
        .env("WASMHOOK_TARGETS_ALLOWED_NETWORKS", "127.0.0.0/8")
        // The disk-space guard off: the tests must not depend on the free
        // space of the machine they run on (the guard's test sets it).
        .env("WASMHOOK_STORAGE_MIN_FREE_PERCENT", "0")
        .env("RUST_LOG", "warn")
        // PostgreSQL in the `on_postgres` test binary (`postgres`).
        .envs(postgres::environment(data_dir));
    command
}

impl Engine {
    /// The engine's process id (the load benchmark reads its CPU time and
    /// peak RSS under /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`: no shutdown, no flush.
    pub fn kill9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    /// SIGTERM, then waits (up to 30 s) for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        // kill(2) itself rather than the `kill` command: a test may signal
        // the engine the moment it listens.
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid");
        // SAFETY: kill(2) on our own child, not reaped yet; no memory is shared.
        let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(sent, 0, "SIGTERM failed: {}", std::io::Error::last_os_error());
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("wasmhook did not exit within 30 s of SIGTERM");
    }

    /// The lines of standard error so far (the engine must have been
    /// started with [`start_with`] collecting them).
    pub fn logs(&self) -> Vec<String> {
        self.logs.as_ref().expect("logs are collected").lock().unwrap().clone()
    }

    /// The lines of standard error once one contains `needle` (or after
    /// 10 s, for the caller's assertion to show them): a thread reads
    /// them, so a line written before the listening line may not be
    /// collected yet when [`start_with`] returns.
    pub async fn logs_once(&self, needle: &str) -> Vec<String> {
        let mut lines = self.logs();
        for _ in 0..100 {
            if lines.iter().any(|line| line.contains(needle)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            lines = self.logs();
        }
        lines
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response: status and JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Engine {
    pub fn client(&self, token: &str) -> Client {
        Client { base: self.url.clone(), token: token.to_owned(), http: reqwest::Client::new() }
    }
}

pub struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Client {
    /// The token it sends.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The same credentials against another (restarted) engine.
    pub fn rebind(client: &Client, engine: &Engine) -> Client {
        engine.client(&client.token)
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.http.get(self.url(path))).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.http.delete(self.url(path))).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send(self.http.put(self.url(path)).json(body)).await
    }

    /// A POST whose transport may fail (the engine may be killed): the
    /// status, or `None`.
    pub async fn try_post(&self, path: &str, body: &Value) -> Option<u16> {
        self.authorized(self.http.post(self.url(path)).json(body)).send().await.ok().map(|r| r.status().as_u16())
    }

    /// GETs `path` until its body satisfies `done` (up to 5 s); the last body.
    /// Deliveries are recorded asynchronously: this waits for them.
    pub async fn poll(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let mut body = Value::Null;
        for _ in 0..100 {
            body = self.get(path).await.body;
            if done(&body) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        body
    }

    /// A PUT of raw bytes (a component upload).
    pub async fn put_bytes(&self, path: &str, bytes: Vec<u8>) -> Reply {
        self.send(self.http.put(self.url(path)).header("content-type", "application/wasm").body(bytes)).await
    }

    /// A request with a raw body and content type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: impl Into<reqwest::Body>) -> Reply {
        self.try_post_raw(path, content_type, body).await.expect("request")
    }

    /// As `post_raw`, `None` when the transport fails.
    pub async fn try_post_raw(&self, path: &str, content_type: &str, body: impl Into<reqwest::Body>) -> Option<Reply> {
        let request = self.http.post(self.url(path)).header("content-type", content_type).body(body);
        let response = self.authorized(request).send().await.ok()?;
        Some(Self::reply(response).await)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if self.token.is_empty() { request } else { request.header("Authorization", format!("Token {}", self.token)) }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        Self::reply(self.authorized(request).send().await.expect("request")).await
    }

    async fn reply(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        Reply { status, body }
    }
}

/// Creates a token with the admin client; returns the token.
pub async fn token(admin: &Client, body: Value) -> String {
    let reply = admin.post("/v1/admin/tokens", &body).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    reply.body["token"].as_str().expect("token").to_owned()
}

/// The clients most API tests act as: the superadmin, two academies and a
/// service (which posts for any academy).
pub struct Tenants {
    pub admin: Client,
    /// Academy `downtown-campus`.
    pub a: Client,
    /// Academy `uptown`.
    pub b: Client,
    pub service: Client,
}

impl Tenants {
    /// Creates the academy and service tokens on `engine`.
    pub async fn of(engine: &Engine) -> Tenants {
        let admin = engine.client(ADMIN);
        let a =
            engine.client(&token(&admin, json!({"name": "a", "role": "academy", "academy": "downtown-campus"})).await);
        let b = engine.client(&token(&admin, json!({"name": "b", "role": "academy", "academy": "uptown"})).await);
        let service = engine.client(&token(&admin, json!({"name": "app", "role": "service"})).await);
        Tenants { admin, a, b, service }
    }
}

/// The hostile test serializer (`tests/plugins/hostile`) as a component:
/// built once, by this crate's build script, and embedded in the test
/// binaries that use it (no test runs a build of its own).
pub fn hostile_wasm() -> Vec<u8> {
    include_bytes!(env!("WASMHOOK_TEST_HOSTILE_WASM")).to_vec()
}

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).expect("tests/kit/ is in the workspace").to_path_buf()
}
