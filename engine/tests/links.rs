//! Links in the API's answers (issue 10, item 11): a list's `next` and
//! `previous` are relative, or start with the configured `public_url`,
//! whatever `Host` (or absolute request line) the request came with; the
//! CLI follows relative links.

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wasmhook_testkit::{ADMIN, Engine, start, start_with, token, wasmhook};

/// `GET target` with `Host: evil.example`: the raw answer and its JSON body.
async fn get_from_evil(engine: &Engine, target: &str, token: &str) -> (String, Value) {
    let mut stream = TcpStream::connect(engine.url.strip_prefix("http://").unwrap()).await.unwrap();
    let request = format!(
        "GET {target} HTTP/1.1\r\nhost: evil.example\r\nauthorization: Token {token}\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    let body = answer.split_once("\r\n\r\n").map(|(_, body)| serde_json::from_str(body).unwrap()).unwrap();
    (answer, body)
}

/// An academy with `hooks` hooks on `engine`: its token.
async fn academy_with_hooks(engine: &Engine, hooks: usize) -> String {
    let admin = engine.client(ADMIN);
    let academy = token(&admin, json!({"name": "a", "role": "academy", "academy": "downtown-campus"})).await;
    let client = engine.client(&academy);
    for n in 0..hooks {
        let hook = json!({"event": "asset.asset_status_updated", "target": format!("https://example.com/hooks/{n}")});
        assert_eq!(client.post("/v1/notify/hook/subscribe", &hook).await.status, 201);
    }
    academy
}

#[tokio::test]
async fn links_are_relative_whatever_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let engine = start(dir.path(), &[]);
    let academy = academy_with_hooks(&engine, 101).await;

    let (answer, page) =
        get_from_evil(&engine, "/v1/notify/hook/subscribe?like=example&limit=1&offset=1", &academy).await;
    assert!(!answer.contains("evil.example"), "{answer}");
    assert_eq!(page["next"], "/v1/notify/hook/subscribe?like=example&limit=1&offset=2");
    assert_eq!(page["previous"], "/v1/notify/hook/subscribe?like=example&limit=1&offset=0");
    // A request line may name a host too.
    let (answer, page) = get_from_evil(&engine, "http://evil.example/v1/notify/hook/subscribe?limit=1", &academy).await;
    assert!(!answer.contains("evil.example"), "{answer}");
    assert_eq!(page["next"], "/v1/notify/hook/subscribe?limit=1&offset=1");

    // The CLI follows them: 101 hooks are two pages of 100.
    let list = wasmhook(&["hooks", "list", "--json", "--url", &engine.url], &[("WASMHOOK_TOKEN", academy.as_str())]);
    assert!(list.status.success(), "{}", String::from_utf8_lossy(&list.stderr));
    let hooks: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(hooks.as_array().unwrap().len(), 101);
}

#[tokio::test]
async fn links_start_with_the_public_url() {
    let dir = tempfile::tempdir().unwrap();
    let public = [("WASMHOOK_PUBLIC_URL", "https://hooks.example.com/wasmhook/")];
    let engine = start_with(dir.path(), &[], &public, false);
    let academy = academy_with_hooks(&engine, 2).await;

    let (answer, page) = get_from_evil(&engine, "/v1/notify/hook/subscribe?limit=1", &academy).await;
    assert!(!answer.contains("evil.example"), "{answer}");
    assert_eq!(page["next"], "https://hooks.example.com/wasmhook/v1/notify/hook/subscribe?limit=1&offset=1");
    assert_eq!(page["previous"], Value::Null);

    let shown = wasmhook(&["config", "show", "--json"], &public);
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["public_url"], "https://hooks.example.com/wasmhook");
    let refused = wasmhook(&["config", "show"], &[("WASMHOOK_PUBLIC_URL", "hooks.example.com")]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.starts_with("wasmhook: configuration: environment variable WASMHOOK_PUBLIC_URL: public_url: \"hooks.example.com\" is not an absolute URL"),
        "{stderr}"
    );
}
