//! `/metrics` against the real binary after real traffic: events accepted,
//! failed and suppressed (no bundled serializer skips: `skipped` stays 0),
//! deliveries to a receiver on 127.0.0.1 (one failing),
//! serializer calls (one failing), API requests on templated routes. The
//! scrape is parsed as the Prometheus text format and every series the
//! engine documents is checked to be there with the counts sent.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value as Json, json};
use wasmhook::metrics::{Kind, SERIES};
use wasmhook_testkit::receiver::Receiver;
use wasmhook_testkit::{ADMIN, Engine, start, token};

/// One sample line.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A scrape, parsed. A small parser of the text format rather than a
/// crate: the one on crates.io (`prometheus-parse`) cuts label values at a
/// `}`, which every route template has, and skips lines it cannot read;
/// this one refuses them.
struct Metrics {
    /// `# TYPE` of each metric family.
    types: HashMap<String, String>,
    /// `# HELP` of each metric family.
    help: HashMap<String, String>,
    samples: Vec<Sample>,
}

impl Metrics {
    async fn scrape(engine: &Engine) -> Metrics {
        // No token: scraped as /healthz is probed.
        let response = reqwest::get(format!("{}/metrics", engine.url)).await.unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
        Metrics::parse(&response.text().await.unwrap())
    }

    fn parse(text: &str) -> Metrics {
        let mut metrics = Metrics { types: HashMap::new(), help: HashMap::new(), samples: Vec::new() };
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            if let Some(comment) = line.strip_prefix("# ") {
                let mut parts = comment.splitn(3, ' ');
                let (keyword, name, rest) = (parts.next(), parts.next(), parts.next().unwrap_or_default());
                let map = match keyword {
                    Some("TYPE") => &mut metrics.types,
                    Some("HELP") => &mut metrics.help,
                    _ => continue,
                };
                map.insert(name.unwrap_or_else(|| panic!("{line}")).to_owned(), rest.to_owned());
            } else {
                metrics.samples.push(sample(line).unwrap_or_else(|| panic!("not a sample line: {line:?}")));
            }
        }
        metrics
    }

    /// The samples named `name` whose labels include `labels`.
    fn samples<'a>(&'a self, name: &'a str, labels: &'a [(&str, &str)]) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| {
            s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }

    /// The value of the one sample `name` with `labels`, 0 when there is none.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<_> = self.samples(name, labels).collect();
        assert!(found.len() <= 1, "{name} {labels:?}: {found:?}");
        found.first().map_or(0.0, |s| s.value)
    }

    /// How many observations the histogram `name` with `labels` holds: its
    /// `_count`, which its buckets must agree with.
    fn observations(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        assert_eq!(self.types.get(name).map(String::as_str), Some("histogram"), "{name}");
        let buckets: Vec<f64> = self.samples(&format!("{name}_bucket"), labels).map(|s| s.value).collect();
        assert!(buckets.len() > 1, "{name} {labels:?}: buckets {buckets:?}");
        assert!(buckets.is_sorted(), "{name}: buckets are cumulative: {buckets:?}");
        let all = self.value(&format!("{name}_bucket"), &[labels, &[("le", "+Inf")]].concat());
        assert_eq!(all, self.value(&format!("{name}_count"), labels), "{name}: +Inf bucket and _count");
        all
    }

    /// The values of `label` on the samples named `name`.
    fn label_values(&self, name: &str, label: &str) -> Vec<String> {
        self.samples(name, &[]).filter_map(|s| s.labels.get(label).cloned()).collect()
    }
}

/// `name{k="v",…} value`, label values with `\\`, `\"` and `\n` escapes.
fn sample(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let (name, mut rest) = line.split_at(name_end);
    let mut labels = BTreeMap::new();
    if let Some(mut inside) = rest.strip_prefix('{') {
        loop {
            if let Some(after) = inside.strip_prefix('}') {
                rest = after;
                break;
            }
            let (key, after_key) = inside.split_once("=\"")?;
            key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_').then_some(())?;
            let mut value = String::new();
            let mut chars = after_key.char_indices();
            let end = loop {
                match chars.next()? {
                    (_, '\\') => value.push(match chars.next()?.1 {
                        'n' => '\n',
                        other => other,
                    }),
                    (i, '"') => break i,
                    (_, c) => value.push(c),
                }
            };
            labels.insert(key.to_owned(), value);
            inside = &after_key[end + 1..];
            inside = inside.strip_prefix(',').unwrap_or(inside);
        }
    }
    let value = match rest.strip_prefix(' ')?.split(' ').next()? {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        value => value.parse().ok()?,
    };
    Some(Sample { name: name.to_owned(), labels, value })
}

#[tokio::test]
async fn metrics_count_the_traffic_by_outcome_route_and_plugin() {
    let dir = tempfile::tempdir().unwrap();
    // The default retry schedule: the failed delivery's retry (in a
    // minute) is still queued, and not yet due, when scraped.
    let engine = start(dir.path(), &[]);
    let admin = engine.client(ADMIN);
    let academy =
        engine.client(&token(&admin, json!({"name": "a", "role": "academy", "academy": "downtown-campus"})).await);
    let service = engine.client(&token(&admin, json!({"name": "app", "role": "service"})).await);
    let receiver = Receiver::scripted(Arc::new(|path, _| {
        (if path == "/fail" { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK }, Duration::ZERO)
    }))
    .await;

    // Before any traffic, the series described at start are there.
    let first = Metrics::scrape(&engine).await;
    assert!(first.help.contains_key("wasmhook_events_ingested_total"), "{:?}", first.help);
    assert_eq!(first.value("wasmhook_events_ingested_total", &[("outcome", "accepted")]), 0.0);
    assert_eq!(first.value("wasmhook_queue_depth", &[]), 0.0);

    let subscribe = |body: Json| {
        let academy = &academy;
        async move {
            let reply = academy.post("/v1/notify/hook/subscribe", &body).await;
            assert_eq!(reply.status, 201, "{reply:?}");
            reply.body
        }
    };
    let ok_hook = subscribe(json!({"event": "form_entry.won_or_lost", "target": format!("{}/ok", receiver.url)})).await;
    subscribe(json!({"event": "asset.asset_status_updated", "target": format!("{}/fail", receiver.url)})).await;
    // A templated route: the label must be the template, not this id.
    let id = ok_hook["id"].as_u64().unwrap();
    assert_eq!(academy.get(&format!("/v1/notify/hook/subscribe/{id}")).await.status, 200);
    assert_eq!(academy.get("/no/such/route").await.status, 404);

    let fixture_path =
        wasmhook_testkit::workspace_root().join("plugins/marketing/fixtures/form_entry.won_or_lost.json");
    let fixture: Json = serde_json::from_str(&std::fs::read_to_string(fixture_path).unwrap()).unwrap();
    let events = [
        // accepted, through the marketing serializer, delivered to /ok
        json!({"event": "form_entry.won_or_lost", "academy": "downtown-campus", "data": fixture["source"], "id": "won-1"}),
        json!({"event": "form_entry.won_or_lost", "academy": "downtown-campus", "data": fixture["source"], "id": "won-2"}),
        // failed: the serializer refuses the data
        json!({"event": "form_entry.won_or_lost", "academy": "downtown-campus", "data": {"id": "not a number"}}),
        // accepted, no serializer, delivered to /fail (500)
        json!({"event": "asset.asset_status_updated", "academy": "downtown-campus", "data": {"id": 1}}),
        // suppressed
        json!({"event": "asset.asset_status_updated", "academy": "downtown-campus", "data": {"id": 2}, "disable_webhooks": true}),
    ];
    let mut statuses = Vec::new();
    for event in &events {
        let reply = service.post("/v1/events", event).await;
        assert_eq!(reply.status, 202, "{reply:?}");
        statuses.push(reply.body["status"].as_str().unwrap().to_owned());
    }
    assert_eq!(statuses, ["accepted", "accepted", "failed", "accepted", "suppressed"]);
    receiver.wait_for("/ok", 2).await;
    receiver.wait_for("/fail", 1).await;

    // Attempts are recorded after the receiver answered: scrape until
    // all three are counted (bounded).
    let mut metrics = Metrics::scrape(&engine).await;
    for _ in 0..100 {
        if metrics.samples("wasmhook_deliveries_total", &[]).map(|s| s.value).sum::<f64>() >= 3.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        metrics = Metrics::scrape(&engine).await;
    }

    // Every documented series is exported, described, as its documented
    // type.
    for series in &SERIES {
        assert_eq!(metrics.help.get(series.name).map(String::as_str), Some(series.help), "{}", series.name);
        let (kind, sample) = match series.kind {
            Kind::Counter => ("counter", series.name.to_owned()),
            Kind::Gauge => ("gauge", series.name.to_owned()),
            Kind::Histogram(_) => ("histogram", format!("{}_count", series.name)),
        };
        assert_eq!(metrics.types.get(series.name).map(String::as_str), Some(kind), "{}", series.name);
        assert!(metrics.samples(&sample, &[]).count() > 0, "{} has no sample", series.name);
    }

    // Ingest: what was sent, by outcome.
    let ingested = |outcome| metrics.value("wasmhook_events_ingested_total", &[("outcome", outcome)]);
    assert_eq!(
        [ingested("accepted"), ingested("failed"), ingested("suppressed"), ingested("skipped")],
        [3.0, 1.0, 1.0, 0.0]
    );

    // Deliveries: two 2xx successes, one 5xx failure to be retried, which
    // waits in the queue, not due yet.
    let deliveries =
        |result, class| metrics.value("wasmhook_deliveries_total", &[("result", result), ("status_class", class)]);
    assert_eq!([deliveries("succeeded", "2xx"), deliveries("failed", "5xx")], [2.0, 1.0]);
    assert_eq!(metrics.value("wasmhook_delivery_retries_total", &[]), 1.0);
    assert_eq!(metrics.observations("wasmhook_delivery_duration_seconds", &[]), 3.0);
    assert_eq!(metrics.value("wasmhook_queue_depth", &[]), 1.0);
    assert_eq!(metrics.value("wasmhook_queue_oldest_age_seconds", &[]), 0.0);

    // Plugins: three marketing calls (bundled: version 0), one failed.
    let marketing = [("plugin", "marketing"), ("version", "0")];
    assert_eq!(metrics.value("wasmhook_plugin_calls_total", &marketing), 3.0);
    assert_eq!(metrics.value("wasmhook_plugin_errors_total", &marketing), 1.0);
    assert_eq!(metrics.observations("wasmhook_plugin_duration_seconds", &[("plugin", "marketing")]), 3.0);
    // The same calls as the plugin API counts.
    let plugin = admin.get("/v1/plugins/marketing").await.body;
    let bundled = plugin["versions"].as_array().unwrap().iter().find(|v| v["version"] == 0).unwrap();
    assert_eq!((bundled["calls"].clone(), bundled["errors"].clone()), (json!(3), json!(1)), "{plugin}");

    // HTTP: by route template, method and status.
    let events_route = [("route", "/v1/events"), ("method", "POST"), ("status", "202")];
    assert_eq!(metrics.value("wasmhook_http_requests_total", &events_route), 5.0);
    assert_eq!(metrics.observations("wasmhook_http_request_duration_seconds", &[("route", "/v1/events")]), 5.0);
    let by_id = [("route", "/v1/notify/hook/subscribe/{id}"), ("method", "GET"), ("status", "200")];
    assert_eq!(metrics.value("wasmhook_http_requests_total", &by_id), 1.0);
    let unmatched = [("route", "unmatched"), ("method", "GET"), ("status", "404")];
    assert_eq!(metrics.value("wasmhook_http_requests_total", &unmatched), 1.0);
    let routes = metrics.label_values("wasmhook_http_requests_total", "route");
    assert!(routes.iter().any(|r| r == "/metrics"), "{routes:?}");
    for route in &routes {
        assert!(route == "unmatched" || route.starts_with('/'), "{route}");
        assert!(!route.split('/').any(|segment| segment == id.to_string()), "a raw URI as a route label: {route}");
        assert!(!route.contains("/no/such"), "a raw URI as a route label: {route}");
    }
}

#[test]
fn the_parser_reads_braces_escapes_and_refuses_garbage() {
    let s = sample(r#"http{route="/a/{id}",note="say \"hi\"\n\\"} 2.5"#).unwrap();
    assert_eq!((s.name.as_str(), s.value), ("http", 2.5));
    assert_eq!(s.labels["route"], "/a/{id}");
    assert_eq!(s.labels["note"], "say \"hi\"\n\\");
    assert_eq!(sample("up +Inf").unwrap().value, f64::INFINITY);
    for garbage in ["up", "up{a=\"1\" 1", "up{a=1} 1", "up x"] {
        assert!(sample(garbage).is_none(), "{garbage}");
    }
}
