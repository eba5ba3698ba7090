//! `wasmhook test-endpoint URL [--secret whsec_…]`: sends a signed Standard
//! Webhooks test request straight from the CLI (no engine involved), as a
//! delivery would be signed, and shows what the endpoint answered.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};
use wasmhook::auth::generate_secret;
use wasmhook::delivery::signing::sign;
use wasmhook::time::Time;

use crate::client::{block_on, print};

#[derive(clap::Args)]
pub struct Args {
    /// The endpoint to call.
    url: String,
    /// The signing secret the endpoint verifies with (default: a new one,
    /// shown).
    #[arg(long, env = "WASMHOOK_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Print the exchange as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let secret = args.secret.clone().unwrap_or_else(generate_secret);
    let webhook_id = format!("msg_test_{}", uuid::Uuid::now_v7().simple());
    let now = Time::now();
    let body = json!({
        "type": "wasmhook.test",
        "timestamp": now,
        "data": {"message": "Test webhook sent by wasmhook test-endpoint"},
    })
    .to_string();
    let signature = sign(&secret, &webhook_id, now.as_second(), &body).context("--secret is not a whsec_ key")?;
    let request_headers = [
        ("content-type", "application/json".to_owned()),
        ("webhook-id", webhook_id),
        ("webhook-timestamp", now.as_second().to_string()),
        ("webhook-signature", signature),
    ];

    let client = reqwest::Client::builder()
        .user_agent(concat!("Wasmhook/", env!("CARGO_PKG_VERSION")))
        .timeout(Duration::from_secs(args.timeout))
        .build()?;
    let mut request = client.post(&args.url).body(body.clone());
    for (name, value) in &request_headers {
        request = request.header(*name, value);
    }
    let started = Instant::now();
    let (status, headers, response_body) = block_on(async {
        let response = request.send().await.with_context(|| format!("cannot reach {}", args.url))?;
        let status = response.status();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let body = response.text().await.with_context(|| format!("cannot read the answer of {}", args.url))?;
        Ok((status, headers, body))
    })?;
    let duration_ms = started.elapsed().as_millis() as u64;

    let exchange = json!({
        "url": args.url,
        "secret": args.secret.is_none().then_some(&secret),
        "request": {"headers": headers_json(request_headers.iter().map(|(k, v)| (k.to_string(), v.clone()))), "body": body},
        "status": status.as_u16(),
        "headers": headers_json(headers.iter().cloned()),
        "body": response_body,
        "duration_ms": duration_ms,
    });
    print(args.json, &exchange, || {
        let mut lines = Vec::new();
        if args.secret.is_none() {
            lines.push(format!("signed with a new secret {secret} (pass --secret to use the endpoint's)"));
        }
        lines.push(format!("POST {} → {status} in {duration_ms} ms", args.url));
        lines.extend(headers.iter().map(|(name, value)| format!("  {name}: {value}")));
        lines.push(String::new());
        lines.push(response_body.clone());
        lines.join("\n")
    })?;
    Ok(if status.is_success() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn headers_json(headers: impl Iterator<Item = (String, String)>) -> Value {
    Value::Object(headers.map(|(name, value)| (name, Value::String(value))).collect())
}
