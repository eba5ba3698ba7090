//! Slow and idle clients against the real binary (issue 10, item 4):
//! 1,100 connections that stall (silent, a trickled head, a trickled
//! body, kept alive and idle) are held open while a normal client's new
//! connections still get `/readyz` and an ingest answered in < 100 ms (the
//! issue's check); the engine, started under a soft open-files limit of
//! 1024, closes each stalled connection once its timeout has passed. And
//! beyond the connection cap, a new connection waits for a free slot.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wasmhook_testkit::{ADMIN, Engine, files, start_with, start_with_open_files, token};

/// The test's timeouts: short, and long enough for 1,100 connections
/// to be opened and the API measured before the first one passes.
const HEADER: Duration = Duration::from_secs(6);
const IDLE: Duration = Duration::from_secs(7);
const BODY: Duration = Duration::from_secs(6);

/// Stalled connections of each kind: 1,100 in all, the issue's figure,
/// more than a soft open-files limit of 1024 allows.
const EACH: usize = 275;

/// A trickling client sends a byte this often (the issue's clients sent
/// one every 5 s): the bytes alone must not keep a connection open.
const TRICKLE: Duration = Duration::from_millis(500);

/// How a connection stalls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stall {
    /// Connects and sends nothing.
    Silent,
    /// Sends a request head one byte at a time, never ending it.
    Head,
    /// Sends a whole head, then the body one byte at a time.
    Body,
    /// Gets an answer, then keeps the connection open and sends nothing.
    KeptAlive,
}

const STALLS: [Stall; 4] = [Stall::Silent, Stall::Head, Stall::Body, Stall::KeptAlive];

/// What a stalled client saw.
#[derive(Debug)]
struct Cut {
    stall: Stall,
    /// From the connect (kept alive: from its request, sent whole; the
    /// engine's idle timer starts later, at its answer, which the client
    /// reads later still) to the engine's close; `None`: still open when
    /// the client gave up.
    after: Option<Duration>,
    /// Everything the engine sent.
    answer: String,
}

/// Stalls on `stream`, connected at `opened`, as `stall` says until the
/// engine closes it (or 30 s past the timeouts).
async fn stall(mut stream: TcpStream, opened: Instant, stall: Stall, token: String) -> Cut {
    let start = match stall {
        Stall::Silent => String::new(),
        Stall::Head => "POST /v1/events HTTP/1.1\r\nhost: test\r\nx-slow: ".to_owned(),
        Stall::Body => format!(
            "POST /v1/events HTTP/1.1\r\nhost: test\r\nauthorization: Token {token}\r\ncontent-type: application/json\r\ncontent-length: 64\r\n\r\n{{"
        ),
        Stall::KeptAlive => "GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n".to_owned(),
    };
    stream.write_all(start.as_bytes()).await.expect("send the start");
    let sent = Instant::now();
    let mut dripping = matches!(stall, Stall::Head | Stall::Body);
    let mut drip = tokio::time::interval_at(tokio::time::Instant::now() + TRICKLE, TRICKLE);
    let give_up = tokio::time::sleep(HEADER.max(IDLE).max(BODY) + Duration::from_secs(30));
    tokio::pin!(give_up);
    let mut answer = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        tokio::select! {
            read = stream.read(&mut buffer) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            },
            _ = drip.tick(), if dripping => dripping = stream.write_all(b" ").await.is_ok(),
            () = &mut give_up => return Cut { stall, after: None, answer: String::from_utf8_lossy(&answer).into() },
        }
    }
    let since = if stall == Stall::KeptAlive { sent } else { opened };
    Cut { stall, after: Some(since.elapsed()), answer: String::from_utf8_lossy(&answer).into() }
}

/// The value of one series (name and labels exactly as scraped), if any.
async fn metric(engine: &Engine, series: &str) -> Option<f64> {
    let text = reqwest::get(format!("{}/metrics", engine.url)).await.ok()?.text().await.ok()?;
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stalled_connections_beyond_1024_are_cut_while_the_api_keeps_answering() {
    // The test holds 1,100 sockets, and the engine as many.
    if let Err(hard) = files::raise_own_limit(4096) {
        eprintln!("skipped: the open-files hard limit ({hard}) is below 4096");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let seconds = |d: Duration| format!("{}s", d.as_secs());
    let envs = [
        ("WASMHOOK_HTTP_HEADER_TIMEOUT", seconds(HEADER)),
        ("WASMHOOK_HTTP_KEEPALIVE_TIMEOUT", seconds(IDLE)),
        ("WASMHOOK_HTTP_BODY_TIMEOUT", seconds(BODY)),
    ];
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // As under a shell's `ulimit -Sn 1024`: the engine raises it itself.
    let engine = start_with_open_files(dir.path(), &[], &envs, 1024);
    let admin = engine.client(ADMIN);
    let service = token(&admin, json!({"name": "app", "role": "service"})).await;
    // Its kept-alive connection would be cut too, and counted.
    drop(admin);
    // A new connection per request, as a load balancer's probes and
    // a busy application's clients open them.
    let normal = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let event = |n: usize| json!({"event": "asset.asset_status_updated", "academy": "downtown", "id": format!("n{n}"), "data": {"id": n}});
    let ingest = |n: usize| {
        normal
            .post(format!("{}/v1/events", engine.url))
            .header("authorization", format!("Token {service}"))
            .json(&event(n))
    };
    assert_eq!(ingest(0).send().await.unwrap().status(), 202, "warm-up");

    let address = engine.url.strip_prefix("http://").unwrap().to_owned();
    let mut stalled = Vec::new();
    for n in 0..EACH * STALLS.len() {
        // Taken before the connect: the engine's deadline starts at its
        // accept, later.
        let opened = Instant::now();
        let stream = TcpStream::connect(&address).await.expect("connect");
        stalled.push(tokio::spawn(stall(stream, opened, STALLS[n % STALLS.len()], service.clone())));
    }
    // Until the engine has accepted them all (bounded; checked below).
    let mut open = None;
    for _ in 0..50 {
        open = metric(&engine, "wasmhook_http_connections_open").await;
        if open.is_some_and(|open| open >= (EACH * STALLS.len()) as f64) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut took = Vec::new();
    for n in 1..=10 {
        let sent = Instant::now();
        let ready = normal.get(format!("{}/readyz", engine.url)).send().await.map(|r| r.status().as_u16());
        took.push(("readyz", ready.ok(), sent.elapsed()));
        let sent = Instant::now();
        let ingested = ingest(n).send().await.map(|r| r.status().as_u16());
        took.push(("ingest", ingested.ok(), sent.elapsed()));
    }
    // Out of descriptors, an engine never answers (or only after seconds).
    // An ingest waits for its commit's fsync, which a busy 2-core machine
    // can hold up past 100 ms once in a while: one such answer of the 20
    // is allowed, none over a second.
    let over = |limit: u64| {
        took.iter()
            .filter(|(_, status, took)| status.is_none() || *took >= Duration::from_millis(limit))
            .collect::<Vec<_>>()
    };
    assert!(over(1000).is_empty(), "answers over 1 s (or none) beside 1,100 stalled connections: {took:?}");
    assert!(over(100).len() <= 1, "answers over 100 ms beside 1,100 stalled connections: {took:?}");
    let expected = [("readyz", Some(200)), ("ingest", Some(202))];
    assert!(took.iter().all(|(what, status, _)| expected.contains(&(*what, *status))), "{took:?}");
    assert!(
        stalled.iter().all(|task| !task.is_finished()),
        "every stalled connection was open while the API was timed"
    );
    assert!(open >= Some((EACH * STALLS.len()) as f64), "the engine held the stalled connections at once: {open:?}");

    let mut cuts = Vec::new();
    for task in stalled {
        cuts.push(task.await.unwrap());
    }
    for cut in &cuts {
        let after = cut.after.unwrap_or_else(|| panic!("the engine never closed a connection: {cut:?}"));
        let (timeout, answer) = match cut.stall {
            Stall::Silent | Stall::Head => (HEADER, None),
            Stall::Body => (BODY, Some("HTTP/1.1 408 Request Timeout\r\n")),
            Stall::KeptAlive => (IDLE, Some("HTTP/1.1 200 OK\r\n")),
        };
        assert!(after >= timeout, "closed before its timeout ({timeout:?}): {cut:?}");
        match answer {
            None => assert_eq!(cut.answer, "", "closed without an answer: {cut:?}"),
            Some(status) => assert!(cut.answer.starts_with(status), "{cut:?}"),
        }
        if cut.stall == Stall::Body {
            assert!(cut.answer.contains(r#""slug":"request-timeout""#), "{cut:?}");
            assert!(cut.answer.to_ascii_lowercase().contains("connection: close"), "{cut:?}");
        }
    }
    let engine = &engine;
    let timeouts = |kind: &str| {
        let series = format!("wasmhook_http_timeouts_total{{kind=\"{kind}\"}}");
        async move { metric(engine, &series).await }
    };
    assert!(timeouts("header").await >= Some((2 * EACH) as f64), "silent connections and trickled heads");
    assert!(timeouts("body").await >= Some(EACH as f64));
    assert!(timeouts("idle").await >= Some(EACH as f64));
}

/// An answer to `GET path` on a new connection that the engine closes
/// after answering.
async fn get_once(address: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_cap_a_new_connection_waits_for_a_free_slot() {
    let dir = tempfile::tempdir().unwrap();
    let engine = start_with(dir.path(), &[], &[("WASMHOOK_HTTP_MAX_CONNECTIONS", "8")], false);
    let address = engine.url.strip_prefix("http://").unwrap().to_owned();
    // Eight kept-alive connections, each answered once: all eight hold a slot.
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n").await.unwrap();
        let mut answer = [0; 1024];
        let n = stream.read(&mut answer).await.unwrap();
        assert!(answer[..n].starts_with(b"HTTP/1.1 200 OK\r\n"), "{}", String::from_utf8_lossy(&answer[..n]));
        held.push(stream);
    }
    let ninth = tokio::spawn({
        let address = address.clone();
        async move { get_once(&address, "/readyz").await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!ninth.is_finished(), "a ninth connection is not served while eight are open");
    drop(held.pop());
    let answer =
        tokio::time::timeout(Duration::from_secs(10), ninth).await.expect("served once a slot is free").unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");

    let scrape = get_once(&address, "/metrics").await;
    let value = |series: &str| {
        scrape.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse::<f64>().ok())
    };
    assert_eq!(value("wasmhook_http_connections_max"), Some(8.0), "{scrape}");
    assert!(value("wasmhook_http_connections_at_cap_total") >= Some(1.0), "{scrape}");
    assert_eq!(value("wasmhook_http_connections_open"), Some(8.0), "seven held and the scrape's own: {scrape}");
}
