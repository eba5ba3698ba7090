//! The browser harness itself (`wasmhook_testkit::browser`), on small pages
//! served from 127.0.0.1 by the test: typing, clicking, waiting, keyboard
//! focus, screenshots, the console log, and the accessibility check, which
//! must find what is wrong on a bad page and nothing on a good one.
//! Skipped with a notice without Chromium, unless
//! `WASMHOOK_TEST_REQUIRE_BROWSER=1`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

use serde_json::json;
use wasmhook_testkit::browser::{Browser, keys, screenshot_dir};

const FORM: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Form</title><link rel="icon" href="data:,"></head>
<body>
<form id="greet">
  <label for="name">Name</label> <input id="name" name="name">
  <label>City <input id="city" name="city"></label>
  <button id="go" type="submit">Greet</button>
</form>
<p id="out" aria-live="polite"></p>
<a id="later" href="/later">Later</a>
<script>
  document.getElementById('greet').addEventListener('submit', (e) => {
    e.preventDefault();
    const name = document.getElementById('name').value;
    const city = document.getElementById('city').value;
    // Answered late, as an API call would be: the harness must wait.
    setTimeout(() => {
      document.getElementById('out').textContent = 'Hello, ' + name + (city ? ' from ' + city : '');
    }, 300);
  });
</script>
</body></html>"#;

const LATER: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Later</title><link rel="icon" href="data:,"></head>
<body><h1>Later page</h1>
<script>setTimeout(() => { const p = document.createElement('p'); p.id = 'late'; p.textContent = 'arrived';
  document.body.append(p); }, 500);
console.error('something broke on purpose');</script>
</body></html>"#;

/// Every rule of the check met, some of them narrowly.
const GOOD: &str = r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Good</title><link rel="icon" href="data:,">
<style>
  body { color: #222; background: #fff; font: 16px sans-serif; }
  .dark { background: #1a1a2e; color: #f0f0f0; padding: 8px; }
  .dark a { color: #9ecbff; }                             /* the default #0000ee would be 1.82:1 */
  .large { font-size: 24px; color: #949494; }            /* 3.03:1: enough for large text */
  .tint { background: rgba(0, 0, 128, 0.9); color: #fff; }
  .sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  button[disabled] { color: #bbb; }                       /* disabled: exempt */
  .muted { color: oklch(45% 0 0); }                        /* another colour syntax */
</style></head>
<body>
<header class="dark"><a href="/form">Home</a> <span>Signed in</span></header>
<main>
  <h1 class="large">Hooks</h1>
  <p class="muted">Five hooks, one failing.</p>
  <label for="search">Search</label> <input id="search" type="search" placeholder="academy">
  <label>Health <select id="health"><option>all</option><option>critical</option></select></label>
  <span id="notes-label">Notes</span> <textarea aria-labelledby="notes-label"></textarea>
  <input type="checkbox" aria-label="Only active">
  <input type="hidden" name="csrf" value="x">
  <input type="submit" value="Apply">
  <button type="button" aria-label="Close"><svg width="10" height="10" aria-hidden="true"></svg></button>
  <button type="button" disabled>Unavailable</button>
  <a href="/docs"><img src="data:image/gif;base64,R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==" alt="Documentation"></a>
  <img src="data:image/gif;base64,R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==" alt="">
  <p class="tint">On a translucent navy</p>
  <span class="sr-only">Only for screen readers</span>
  <div hidden><input id="hidden-unlabelled"></div>
  <div tabindex="0">Focusable panel</div> <div tabindex="-1">Programmatic focus</div>
</main>
</body></html>"##;

/// One or more breaches of each rule.
const BAD: &str = r##"<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<style>
  body { color: #222; background: #fff; font: 16px sans-serif; }
  #faint { color: #aaa; }                                  /* 2.32:1 */
  #big-faint { color: #bbb; font-size: 28px; }             /* 1.92:1: too little even for large text */
  .panel { background: #333; }
  #dark-on-dark { color: #555; }                           /* on #333 */
</style></head>
<body>
  <input id="email" placeholder="Email">
  <select id="plugin"><option>a</option></select>
  <button id="icon"><svg width="10" height="10"></svg></button>
  <a id="empty-link" href="/x"></a>
  <img id="logo" src="data:image/gif;base64,R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==">
  <p id="faint">Last attempt failed</p>
  <p id="big-faint">Critical</p>
  <div class="panel"><p id="dark-on-dark">Queue depth</p></div>
  <div id="jump" tabindex="3">First</div>
</body></html>"##;

/// Serves `pages` (path, HTML) on a free port of 127.0.0.1: its base URL.
fn serve(pages: &'static [(&'static str, &'static str)]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    return;
                }
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 0) && header != "\r\n" {
                    header.clear();
                }
                let path = request_line.split(' ').nth(1).unwrap_or("/");
                let (status, body) = pages
                    .iter()
                    .find(|(p, _)| *p == path)
                    .map_or(("404 Not Found", "not found"), |(_, html)| ("200 OK", *html));
                let _ = write!(
                    &stream,
                    "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    url
}

fn site() -> String {
    serve(&[("/form", FORM), ("/later", LATER), ("/good", GOOD), ("/bad", BAD)])
}

#[tokio::test]
async fn types_clicks_and_waits_for_text() {
    let Some(browser) = Browser::start().await else { return };
    let site = site();
    browser.goto(&format!("{site}/form")).await;
    assert_eq!(browser.title().await, "Form");
    assert_eq!(browser.url().await, format!("{site}/form"));

    let name = browser.find("#name").await;
    name.send_keys("Ada").await;
    assert_eq!(name.property("value").await, json!("Ada"));
    assert_eq!(name.attribute("name").await.as_deref(), Some("name"));
    assert_eq!(name.attribute("placeholder").await, None);
    browser.find("#go").await.click().await;
    // The answer comes 300 ms later.
    let out = browser.wait_for_text("#out", "Hello, Ada").await;
    assert_eq!(out.text().await, "Hello, Ada");

    name.clear().await;
    name.send_keys("Grace").await;
    browser.find("#city").await.send_keys("Arlington").await;
    browser.find("button[type=submit]").await.click().await;
    browser.wait_for_text("p", "Hello, Grace from Arlington").await;
    assert_eq!(browser.find_all("input").await.len(), 2);
    assert!(!browser.exists("#nothing").await);
    assert_eq!(browser.execute("return arguments[0] + arguments[1];", vec![json!(2), json!(3)]).await, json!(5));
    let go = browser.find("#go").await;
    assert_eq!(browser.execute("return arguments[0].textContent;", vec![go.as_arg()]).await, json!("Greet"));

    // A link to a page whose element appears 500 ms after it loaded.
    browser.find("#later").await.click().await;
    assert_eq!(browser.find("#late").await.text().await, "arrived");
    assert_eq!(browser.url().await, format!("{site}/later"));
    let errors = browser.console_errors().await;
    assert!(errors.iter().any(|e| e.contains("something broke on purpose")), "{errors:?}");
}

#[tokio::test]
async fn the_keyboard_moves_the_focus_in_order_and_submits() {
    let Some(browser) = Browser::start().await else { return };
    browser.goto(&format!("{}/form", site())).await;
    browser.find("#name").await.click().await;
    let focused = || async { browser.execute("return document.activeElement.id;", vec![]).await };
    assert_eq!(focused().await, json!("name"));
    browser.press(&[keys::TAB]).await;
    assert_eq!(focused().await, json!("city"));
    browser.press(&[keys::TAB]).await;
    assert_eq!(focused().await, json!("go"));
    assert!(browser.active_element().await.is(&browser.find("#go").await).await);
    browser.press(&[keys::TAB]).await;
    assert_eq!(focused().await, json!("later"));
    browser.press(&[keys::SHIFT, keys::TAB]).await;
    assert_eq!(focused().await, json!("go"));

    // Enter in a field submits its form.
    let name = browser.find("#name").await;
    name.send_keys("Lin").await;
    browser.press(&[keys::ENTER]).await;
    browser.wait_for_text("#out", "Hello, Lin").await;
    // The keys of send_keys too.
    name.clear().await;
    name.send_keys(&format!("Kay{}", keys::ENTER)).await;
    browser.wait_for_text("#out", "Hello, Kay").await;
}

#[tokio::test]
async fn screenshots_are_pngs_under_target_and_the_window_resizes() {
    let Some(browser) = Browser::start().await else { return };
    browser.goto(&format!("{}/good", site())).await;
    assert_eq!(browser.execute("return window.innerWidth;", vec![]).await, json!(1280));
    let path = browser.screenshot("harness-self-test-wide").await;
    assert_eq!(path, screenshot_dir().join("harness-self-test-wide.png"));
    assert!(path.starts_with(wasmhook_testkit::workspace_root()) || std::env::var_os("CARGO_TARGET_DIR").is_some());
    let png = std::fs::read(&path).expect("the screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
    // The IHDR chunk's width: the viewport's.
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 1280);

    browser.set_window_size(390, 844).await;
    let width = browser.execute("return window.innerWidth;", vec![]).await.as_u64().expect("a width");
    assert!(width <= 390, "{width}");
    let png = std::fs::read(browser.screenshot("harness-self-test-phone").await).expect("the screenshot");
    assert_eq!(u64::from(u32::from_be_bytes(png[16..20].try_into().unwrap())), width);
}

#[tokio::test]
async fn the_accessibility_check_finds_what_is_wrong_and_only_that() {
    let Some(browser) = Browser::start().await else { return };
    let site = site();
    browser.goto(&format!("{site}/good")).await;
    assert_eq!(browser.accessibility_violations().await, vec![]);
    browser.assert_accessible("the good page").await;

    browser.goto(&format!("{site}/bad")).await;
    let violations = browser.accessibility_violations().await;
    let found: Vec<(String, String)> =
        violations.iter().map(|v| (v.rule.clone(), v.target.split('[').next().unwrap().to_owned())).collect();
    let expected = [
        ("lang", "html"),
        ("title", "html"),
        ("label", "input#email"),
        ("label", "select#plugin"),
        ("button-name", "button#icon"),
        ("link-name", "a#empty-link"),
        ("image-alt", "img#logo"),
        ("tabindex", "div#jump"),
        ("contrast", "p#faint"),
        ("contrast", "p#big-faint"),
        ("contrast", "p#dark-on-dark"),
    ];
    for (rule, target) in expected {
        assert!(found.contains(&(rule.into(), target.into())), "no {rule} on {target} in {violations:#?}");
    }
    assert_eq!(violations.len(), expected.len(), "{violations:#?}");
    let faint = violations.iter().find(|v| v.target.starts_with("p#faint")).unwrap();
    assert!(faint.detail.contains("2.32:1") && faint.detail.contains("#aaaaaa on #ffffff"), "{faint}");

    // The assertion names the page, its URL and each violation.
    let run = tokio::spawn(async move { browser.assert_accessible("the bad page").await });
    let panic = run.await.expect_err("assert_accessible must fail on the bad page").into_panic();
    let message = panic.downcast_ref::<String>().expect("a formatted message");
    assert!(message.starts_with(&format!("the bad page ({site}/bad): 11 accessibility violation(s)")), "{message}");
    assert!(message.contains("label: input#email") && message.contains("contrast: p#faint"), "{message}");
}

#[tokio::test]
async fn a_wait_that_times_out_names_the_selector_and_the_page() {
    let Some(mut browser) = Browser::start().await else { return };
    let site = site();
    browser.set_wait(Duration::from_millis(500));
    browser.goto(&format!("{site}/form")).await;
    let run = tokio::spawn(async move {
        browser.find(".no-such-thing").await;
    });
    let panic = run.await.expect_err("find must fail").into_panic();
    let message = panic.downcast_ref::<String>().expect("a formatted message");
    assert!(message.contains("`.no-such-thing`"), "{message}");
    assert!(message.contains(&format!("{site}/form")), "{message}");
    assert!(message.contains("Greet"), "the page's text: {message}");
}
