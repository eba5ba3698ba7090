//! The API client every remote command shares: where the engine is, who is
//! calling, and how answers are printed (human form by default, the API's
//! JSON with `--json`). Answers are read as the API's own wire types
//! (`wasmhook::api::types`), so the CLI and the server cannot drift apart.
//! An API error becomes one line carrying its detail.

use std::future::Future;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use wasmhook::api::types::Page;

/// Where the engine is and who is calling.
#[derive(clap::Args)]
pub struct Remote {
    /// The engine's base URL.
    #[arg(long, env = "WASMHOOK_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// An API token (most commands need a superadmin's).
    #[arg(long, env = "WASMHOOK_TOKEN", hide_env_values = true)]
    token: String,
    /// Print the API's JSON answer.
    #[arg(long)]
    pub json: bool,
}

/// A request body.
pub enum Payload {
    None,
    Json(Value),
    Wasm(Vec<u8>),
}

/// Runs one command's future: the CLI makes a few sequential calls, a
/// current-thread runtime is all it needs.
pub fn block_on<T>(future: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(future)
}

/// Pages followed at most by [`Remote::get_all`] (a page holds up to 1000).
const MAX_PAGES: usize = 1000;

impl Remote {
    /// One API call, its answer read as `T`; a non-2xx answer becomes an
    /// error carrying its detail.
    pub async fn send<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        payload: Payload,
    ) -> anyhow::Result<T> {
        self.call(method, &format!("{}{path}", self.url.trim_end_matches('/')), payload).await
    }

    /// Every result of a paginated list (`{count, next, previous,
    /// results}`), following its `next` links (relative to the engine's
    /// URL, unless the engine has a `public_url`).
    pub async fn get_all<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<Vec<T>> {
        let mut page: Page<T> = self.send(reqwest::Method::GET, path, Payload::None).await?;
        let mut results = Vec::new();
        for _ in 0..MAX_PAGES {
            results.append(&mut page.results);
            let Some(next) = page.next.as_deref() else { return Ok(results) };
            page = if next.starts_with('/') {
                self.send(reqwest::Method::GET, next, Payload::None).await?
            } else {
                self.call(reqwest::Method::GET, next, Payload::None).await?
            };
        }
        bail!("{path}: more than {MAX_PAGES} pages")
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        url: &str,
        payload: Payload,
    ) -> anyhow::Result<T> {
        let request =
            reqwest::Client::new().request(method, url).header("Authorization", format!("Token {}", self.token));
        let request = match payload {
            Payload::None => request,
            Payload::Json(value) => request.json(&value),
            Payload::Wasm(bytes) => request.header("content-type", "application/wasm").body(bytes),
        };
        let response = request.send().await.with_context(|| format!("cannot reach {url}"))?;
        let status = response.status();
        let raw = response.text().await.with_context(|| format!("cannot read the answer of {url}"))?;
        let body: Value =
            if raw.is_empty() { Value::Null } else { serde_json::from_str(&raw).unwrap_or(Value::String(raw)) };
        if !status.is_success() {
            match body["detail"].as_str() {
                Some(detail) => bail!("{detail} ({} {})", status.as_u16(), text(&body["slug"])),
                None => bail!("{url} answered {status}"),
            }
        }
        serde_json::from_value(body).with_context(|| format!("{url} answered something this wasmhook does not read"))
    }

    /// The JSON with `--json`, else the human form.
    pub fn print(&self, body: &impl Serialize, human: impl FnOnce() -> String) -> anyhow::Result<ExitCode> {
        print(self.json, body, human)
    }
}

/// `body` as JSON when `json`, else the human form.
pub fn print(json: bool, body: &impl Serialize, human: impl FnOnce() -> String) -> anyhow::Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(body)?);
    } else {
        println!("{}", human());
    }
    Ok(ExitCode::SUCCESS)
}

/// A value for a table cell, `-` when absent.
pub fn cell(value: Option<impl std::fmt::Display>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| value.to_string())
}

/// A JSON string without its quotes, `-` for null (anything else as JSON).
pub fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// A JSON file given on the command line.
pub fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}
