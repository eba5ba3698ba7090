//! The web console in a real headless Chromium (over WebDriver, see
//! `tests/kit/src/browser.rs`) against the real binary: an operator signs
//! in, creates a hook, sees a delivery with its payload, replays a failed
//! one, uploads a plugin version, dry-runs it, activates it and rolls it
//! back; an academy sees its own hooks only; signing out forgets the token.
//! Every main page is checked for accessibility basics and screenshotted
//! under `target/console-screenshots/`.
//!
//! Skipped with a notice without Chromium, unless
//! `WASMHOOK_TEST_REQUIRE_BROWSER=1` (CI).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;
use wasmhook_testkit::browser::{Browser, keys};
use wasmhook_testkit::receiver::Receiver;
use wasmhook_testkit::{ADMIN, Engine, hostile_wasm, start, token};

/// A runtime catalogue event without a serializer: the data is the payload.
const EVENT: &str = "console.tested";

async fn add_event(engine: &Engine) {
    let admin = engine.client(ADMIN);
    let spec = json!({"name": EVENT, "action": "console.Test.tested", "description": "An event for the console's tests",
        "sample": {"sample": true}});
    let added = admin.post("/v1/catalog/events", &spec).await;
    assert_eq!(added.status, 201, "{added:?}");
}

async fn sign_in(browser: &Browser, engine: &Engine, token: &str) {
    browser.goto(&format!("{}/console/", engine.url)).await;
    browser.find("input[name=token]").await.send_keys(token).await;
    browser.find("form.signin button[type=submit]").await.click().await;
    browser.wait_until("the sign-in to finish", "return !document.querySelector('form.signin')").await;
}

/// Opens `hash` (`#/hooks`) and waits for its heading.
async fn open(browser: &Browser, engine: &Engine, hash: &str, heading: &str) {
    browser.goto(&format!("{}/console/{hash}", engine.url)).await;
    browser.wait_for_text("h1", heading).await;
}

/// The checks every main page gets: no script or policy error, the
/// accessibility basics, a screenshot of the whole page (the window made
/// as tall as the page, up to 3,000 px, then put back).
async fn check_page(browser: &Browser, name: &str) {
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "{name}: the page logged errors: {errors:?}");
    browser.assert_accessible(name).await;
    let size = browser
        .execute("return [window.outerWidth, window.outerHeight, document.documentElement.scrollHeight]", vec![])
        .await;
    let [width, height, page] = [0, 1, 2].map(|i| size[i].as_u64().unwrap() as u32);
    browser.set_window_size(width, page.clamp(height, 3000)).await;
    browser.execute("window.scrollTo(0, 0)", vec![]).await;
    browser.screenshot(name).await;
    browser.set_window_size(width, height).await;
}

async fn notice(browser: &Browser, text: &str) {
    browser.wait_for_text("#notice p", text).await;
}

#[tokio::test]
async fn an_operator_delivers_replays_and_manages_plugins_from_the_console() {
    let Some(browser) = Browser::start().await else { return };
    let failing = Arc::new(AtomicBool::new(false));
    let receiver = {
        let failing = failing.clone();
        Receiver::scripted(Arc::new(move |_, _| {
            let status = if failing.load(Ordering::SeqCst) { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
            (status, Duration::ZERO)
        }))
        .await
    };
    let dir = tempfile::tempdir().unwrap();
    let engine = start(dir.path(), &[]);
    add_event(&engine).await;
    let admin = engine.client(ADMIN);
    let service = engine.client(&token(&admin, json!({"name": "app", "role": "service"})).await);

    sign_in(&browser, &engine, ADMIN).await;
    browser.wait_for_text("h1", "Overview").await;
    browser.wait_for_text(".stat", "queued deliveries").await;

    // A hook, created in the form; its secret is shown once.
    open(&browser, &engine, "#/hooks/new", "New hook").await;
    browser.find(&format!("select[name=event] option[value='{EVENT}']")).await.click().await;
    browser.find("input[name=target]").await.send_keys(&format!("{}/console-hook", receiver.url)).await;
    browser.find("input[name=max_retries]").await.send_keys("0").await;
    browser.find("input[name=academy]").await.send_keys("downtown").await;
    check_page(&browser, "hook-form").await;
    browser.find("form button[type=submit]").await.click().await;
    let created = browser.wait_for_text("h2", "created").await.text().await;
    let id: u64 = created.trim_start_matches("Hook #").split(' ').next().unwrap().parse().unwrap();
    let secret = browser.find("code.reveal").await.text().await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let hook = admin.get(&format!("/v1/notify/hook/subscribe/{id}")).await;
    assert_eq!(
        (hook.body["academy"].as_str(), hook.body["max_retries"].as_u64()),
        (Some("downtown"), Some(0)),
        "{hook:?}"
    );

    // An event is delivered; the console shows the delivery with its payload.
    let event = |marker: &str| json!({"event": EVENT, "academy": "downtown", "data": {"marker": marker}});
    assert_eq!(service.post("/v1/events", &event("first-event")).await.status, 202);
    receiver.wait_for("/console-hook", 1).await;
    browser.find("a.button.primary").await.click().await;
    browser.wait_for_text("h1", &format!("Hook #{id}")).await;
    browser.find("details.delivery .dot.succeeded").await;
    browser.find("details.delivery summary").await.click().await;
    browser.wait_for_text("details.delivery pre.json", "first-event").await;
    check_page(&browser, "hook").await;

    // The receiver fails: the failed delivery shows, and a replay from the
    // console delivers it again under the same webhook-id.
    failing.store(true, Ordering::SeqCst);
    assert_eq!(service.post("/v1/events", &event("second-event")).await.status, 202);
    receiver.wait_for("/console-hook", 2).await;
    failing.store(false, Ordering::SeqCst);
    let page = format!("#/hooks/{id}");
    let mut shown = false;
    for _ in 0..50 {
        browser.wait_for_text("button", "Refresh the log").await.click().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        if browser.exists("details.delivery .dot.failed").await {
            shown = true;
            break;
        }
    }
    assert!(shown, "the failed delivery is not shown");
    let failed = browser.find("details.delivery:has(.dot.failed)").await;
    failed.find("summary").await.click().await;
    failed.find("button").await.click().await;
    notice(&browser, "queued again").await;
    let delivered = receiver.wait_for("/console-hook", 3).await;
    assert_eq!(delivered[2].json()["marker"], "second-event");
    assert_eq!(delivered[2].header("webhook-id"), delivered[1].header("webhook-id"), "a replay keeps the webhook-id");

    // The failure again, replayed with the other failures of the last hour.
    failing.store(true, Ordering::SeqCst);
    assert_eq!(service.post("/v1/events", &event("third-event")).await.status, 202);
    receiver.wait_for("/console-hook", 4).await;
    failing.store(false, Ordering::SeqCst);
    let hour_ago =
        "return new Date(Date.now() - 3600e3 - new Date().getTimezoneOffset() * 60e3).toISOString().slice(0, 16)";
    let since = browser.execute(hour_ago, vec![]).await;
    let mut replayed = false;
    for _ in 0..50 {
        let input = browser.find("input[name=since]").await;
        browser.execute("arguments[0].value = arguments[1]", vec![input.as_arg(), since.clone()]).await;
        browser.wait_for_text("button", "Replay failed deliveries").await.click().await;
        let said = browser.find("#notice p").await.text().await;
        if said.starts_with("1 failed deliveries queued again") {
            replayed = true;
            break;
        }
        assert!(said.starts_with("0 failed"), "{said}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(replayed, "the failed delivery was not replayed");
    assert_eq!(receiver.wait_for("/console-hook", 5).await[4].json()["marker"], "third-event");

    // The counters, reset from the console.
    assert_eq!(admin.get(&format!("/v1/notify/hook/subscribe/{id}")).await.body["total_calls"], 5);
    browser.wait_for_text("button", "Reset counters").await.click().await;
    browser.accept_dialog().await;
    notice(&browser, "Counters reset").await;
    assert_eq!(admin.get(&format!("/v1/notify/hook/subscribe/{id}")).await.body["total_calls"], 0);

    // Send a test event from the console.
    open(&browser, &engine, &page, &format!("Hook #{id}")).await;
    browser.wait_for_text("button", "Send test event").await.click().await;
    browser.wait_for_text(".result", "Answered 200").await;
    assert_eq!(receiver.wait_for("/console-hook", 6).await[5].json()["type"], "wasmhook.test");

    // A plugin version: uploaded, dry-run, activated, rolled back.
    let wasm = dir.path().join("echo.wasm");
    std::fs::write(&wasm, hostile_wasm()).unwrap();
    open(&browser, &engine, "#/plugins/marketing", "Plugin marketing").await;
    browser.find("input[type=file]").await.send_keys(wasm.to_str().unwrap()).await;
    browser.wait_for_text("button", "Upload").await.click().await;
    notice(&browser, "Uploaded marketing version 1").await;
    browser.find("select[name=version] option[value='1']").await.click().await;
    let data = browser.find(".dry-run textarea").await;
    data.clear().await;
    data.send_keys(r#"{"dry": "run-marker"}"#).await;
    browser.wait_for_text(".dry-run button", "Run").await.click().await;
    browser.wait_for_text(".report .decision", "deliver").await;
    browser.wait_for_text(".report pre.json", "run-marker").await;
    check_page(&browser, "plugin").await;
    browser.wait_for_text("button", "Activate version 1").await.click().await;
    notice(&browser, "Version 1 is now active").await;
    assert_eq!(admin.get("/v1/plugins/marketing").await.body["active_version"], 1);
    browser.wait_for_text("button", "Roll back to version 0").await.click().await;
    notice(&browser, "Version 0 is now active").await;
    assert_eq!(admin.get("/v1/plugins/marketing").await.body["active_version"], 0);

    // The other main pages render, pass the checks, and are keyboard-reachable.
    open(&browser, &engine, "#/", "Overview").await;
    browser.wait_for_text(".legend", "Delivery attempts: 5").await;
    check_page(&browser, "overview").await;
    open(&browser, &engine, "#/hooks", "Hooks").await;
    browser.wait_for_text("td a", &format!("#{id}")).await;
    check_page(&browser, "hooks").await;
    open(&browser, &engine, "#/catalog", "Catalogue").await;
    check_page(&browser, "catalog").await;
    open(&browser, &engine, "#/errors", "Errors").await;
    check_page(&browser, "errors").await;
    open(&browser, &engine, "#/plugins", "Plugins").await;
    check_page(&browser, "plugins").await;
    open(&browser, &engine, "#/tokens", "Tokens").await;
    check_page(&browser, "tokens").await;
    // A fresh load (the console keeps the tab's sign-in), then the keyboard.
    browser.goto(&format!("{}/console/?fresh#/hooks", engine.url)).await;
    browser.wait_for_text("h1", "Hooks").await;
    browser.press(&[keys::TAB]).await;
    assert_eq!(browser.active_element().await.text().await, "Skip to content");
    browser.press(&[keys::TAB]).await;
    browser.press(&[keys::TAB]).await;
    assert_eq!(browser.active_element().await.text().await, "Overview", "the navigation follows in tab order");
    browser.press(&[keys::ENTER]).await;
    browser.wait_for_text("h1", "Overview").await;

    // Signing out forgets the token: the tab holds nothing, a reload asks again.
    browser.find("#sign-out").await.click().await;
    browser.find("form.signin").await;
    assert_eq!(browser.execute("return sessionStorage.length", vec![]).await, json!(0));
    browser.goto(&format!("{}/console/#/hooks", engine.url)).await;
    browser.find("form.signin").await;
    check_page(&browser, "sign-in").await;
}

#[tokio::test]
async fn an_academy_sees_its_own_hooks_only() {
    let Some(browser) = Browser::start().await else { return };
    let receiver = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = start(dir.path(), &[]);
    add_event(&engine).await;
    let admin = engine.client(ADMIN);
    let hook_of =
        |academy: &str| json!({"event": EVENT, "target": format!("{}/{academy}", receiver.url), "academy": academy});
    let ours = admin.post("/v1/notify/hook/subscribe", &hook_of("downtown")).await.body["id"].as_u64().unwrap();
    let theirs = admin.post("/v1/notify/hook/subscribe", &hook_of("uptown")).await.body["id"].as_u64().unwrap();
    let downtown = token(&admin, json!({"name": "d", "role": "academy", "academy": "downtown"})).await;

    // A service token cannot sign in; a wrong token says why.
    let service = token(&admin, json!({"name": "s", "role": "service"})).await;
    sign_in_refused(&browser, &engine, &service, "service token").await;
    sign_in_refused(&browser, &engine, "not-a-token", "Invalid token").await;

    sign_in(&browser, &engine, &downtown).await;
    browser.wait_for_text("h1", "Hooks").await;
    browser.wait_for_text("td a", &format!("#{ours}")).await;
    let text = browser.page_text().await;
    assert!(text.contains("/downtown") && !text.contains("/uptown"), "{text}");
    assert!(!browser.exists("#nav a[href='#/plugins']").await, "no operator sections for an academy");
    check_page(&browser, "academy-hooks").await;

    // Another academy's hook answers as a missing one.
    browser.goto(&format!("{}/console/#/hooks/{theirs}", engine.url)).await;
    browser.wait_for_text("main .error", "not found").await;
    let _ = browser.console_errors().await; // the 404 it was answered
    // The operator's pages are not offered: the console goes to the hooks.
    browser.goto(&format!("{}/console/#/tokens", engine.url)).await;
    browser.wait_for_text("h1", "Hooks").await;

    // The integrator edits its hook in the form.
    open(&browser, &engine, &format!("#/hooks/{ours}/edit"), &format!("Edit hook #{ours}")).await;
    browser.find("input[name=service_id]").await.send_keys("billing").await;
    browser.find("form button[type=submit]").await.click().await;
    browser.wait_for_text("h1", &format!("Hook #{ours}")).await;
    browser.wait_for_text(".props dd", "billing").await;
    assert_eq!(admin.get(&format!("/v1/notify/hook/subscribe/{ours}")).await.body["service_id"], "billing");

    // The integrator attaches a transformer to its hook and dry-runs it.
    let slack = dir.path().join("slack.wasm");
    std::fs::write(&slack, wasmhook::bundled::find("slack-transformer").unwrap().wasm).unwrap();
    open(&browser, &engine, &format!("#/hooks/{ours}"), &format!("Hook #{ours}")).await;
    browser.find("input[type=file]").await.send_keys(slack.to_str().unwrap()).await;
    browser.wait_for_text("button", "Upload and attach").await.click().await;
    notice(&browser, "Transformer attached").await;
    let payload = browser.find(".dry-run textarea").await;
    payload.clear().await;
    payload.send_keys(r#"{"id": 5, "status": "PUBLISHED"}"#).await;
    browser.wait_for_text(".dry-run button", "Dry run").await.click().await;
    browser.wait_for_text(".report .decision", "send").await;
    browser.wait_for_text(".report pre.json", "status: PUBLISHED").await;
    check_page(&browser, "academy-transformer").await;

    // At a phone's width the hook page still works.
    browser.set_window_size(390, 844).await;
    open(&browser, &engine, &format!("#/hooks/{ours}"), &format!("Hook #{ours}")).await;
    browser.wait_for_text("button", "Reveal secret").await.click().await;
    browser.wait_for_text("code.reveal", "whsec_").await;
    check_page(&browser, "academy-hook-phone").await;
}

/// The console's files come with the strict policy; `console = false`
/// leaves the engine serving the API alone.
#[tokio::test]
async fn the_console_is_served_under_a_strict_policy_and_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let engine = start(dir.path(), &[]);
    let page = reqwest::get(format!("{}/console/", engine.url)).await.unwrap();
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(page.text().await.unwrap().contains(r#"<script type="module" src="app.js">"#));
    drop(engine);

    let off = tempfile::tempdir().unwrap();
    let engine = wasmhook_testkit::start_with(off.path(), &[], &[("WASMHOOK_CONSOLE", "false")], false);
    let page = reqwest::get(format!("{}/console/", engine.url)).await.unwrap();
    assert_eq!(page.status(), 404);
    assert_eq!(engine.client(ADMIN).get("/v1/me").await.body["role"], "superadmin", "the API is served");
}

async fn sign_in_refused(browser: &Browser, engine: &Engine, token: &str, why: &str) {
    browser.goto(&format!("{}/console/", engine.url)).await;
    browser.find("input[name=token]").await.send_keys(token).await;
    browser.find("form.signin button[type=submit]").await.click().await;
    notice(browser, why).await;
    assert_eq!(browser.execute("return sessionStorage.length", vec![]).await, json!(0));
    let _ = browser.console_errors().await;
}
