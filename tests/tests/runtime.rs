//! The plugin runtime with real components: the bundled serializers against
//! the seed's documented payloads, and a hostile plugin against the sandbox.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};
use wasmhook::bundled::{self, BUNDLED};
use wasmhook::model::LimitOverrides;
use wasmhook::runtime::{
    BreakerConfig, Call, Decision, Delivery, Event, LoadError, PluginError, Request, Runtime, RuntimeConfig,
    SerializerPlugin, World,
};
use wasmhook_testkit::hostile_wasm;
use wasmhook_tests::fixtures;

/// The engine's runtime settings with a few warm instances: each instance
/// the pool is sized for reserves address space (two 4 GiB memory slots),
/// and this file's tests each make a runtime, side by side on a machine with
/// many cores; 1,024 warm instances would reserve 18 TiB a runtime.
fn few_warm() -> RuntimeConfig {
    RuntimeConfig { warm_instances: 8, ..RuntimeConfig::default() }
}

/// One runtime for the whole file: components compile once.
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new(RuntimeConfig { max_concurrent_calls: 16, ..few_warm() }).unwrap())
}

fn bundled_serializer(name: &str) -> Arc<SerializerPlugin> {
    let plugin = bundled::find(name).unwrap_or_else(|| panic!("no bundled plugin {name}"));
    assert_eq!(plugin.world, World::Serializer);
    runtime().load_serializer(name, plugin.wasm).unwrap()
}

fn hostile() -> Arc<SerializerPlugin> {
    runtime().load_serializer("hostile", &hostile_wasm()).unwrap()
}

fn event(name: &str, data: Value) -> Event {
    Event {
        id: "evt_1".into(),
        name: name.into(),
        action: String::new(),
        academy: Some("downtown-campus".into()),
        occurred_at: "2025-01-20T15:00:00Z".into(),
        data: data.to_string(),
    }
}

fn delivered(call: Call<Decision>) -> Delivery {
    match call.result {
        Ok(Decision::Deliver(delivery)) => delivery,
        other => panic!("expected a delivery, got {other:?} (logs: {:?})", call.logs),
    }
}

/// What `hostile.counter` answered: how many calls its instance served
/// before this one.
fn counted(call: Call<Decision>) -> u32 {
    match call.result {
        Ok(Decision::Deliver(delivery)) => delivery.payload.parse().unwrap(),
        other => panic!("{other:?}"),
    }
}

fn failure<T: std::fmt::Debug>(call: &Call<T>) -> &PluginError {
    call.result.as_ref().err().unwrap_or_else(|| panic!("expected a failure, got {:?}", call.result))
}

#[test]
fn every_bundled_serializer_produces_the_seed_payloads() {
    let fixtures = fixtures();
    assert_eq!(fixtures.len(), 12, "seed 001 documents 12 event payloads");
    for fixture in &fixtures {
        let plugin = bundled_serializer(&fixture.plugin);
        let delivery = delivered(runtime().serialize(&plugin, &fixture.event()));
        let payload: Value = serde_json::from_str(&delivery.payload).unwrap();
        assert_eq!(payload, fixture.payload, "{}: payload differs from seed 001", fixture.event);
        for secret in &fixture.secrets {
            assert!(!delivery.payload.contains(secret.as_str()), "{}: leaked {secret:?}", fixture.event);
        }
        assert_eq!(delivery.academy_override, fixture.academy_override, "{}", fixture.event);
        let follow_ups: Vec<_> = delivery.follow_ups.iter().map(|f| f.name.clone()).collect();
        assert_eq!(follow_ups, fixture.follow_ups, "{}", fixture.event);
    }
    let serializers = BUNDLED.iter().filter(|p| p.world == World::Serializer);
    for plugin in serializers {
        assert!(fixtures.iter().any(|f| f.plugin == plugin.name), "bundled serializer {} has no fixture", plugin.name);
    }
}

#[test]
fn mentorship_goes_to_the_mentors_academy_and_announces_started_sessions() {
    let fixture = fixtures().into_iter().find(|f| f.plugin == "mentorship").unwrap();
    let plugin = bundled_serializer("mentorship");
    for status in ["PENDING", "STARTED", "COMPLETED", "FAILED", "IGNORED"] {
        let mut source = fixture.source.clone();
        source["status"] = json!(status);
        let delivery = delivered(runtime().serialize(&plugin, &event(&fixture.event, source)));
        assert_eq!(delivery.academy_override.as_deref(), Some("downtown-campus"), "{status}");
        let names: Vec<_> = delivery.follow_ups.iter().map(|f| f.name.as_str()).collect();
        if status == "STARTED" {
            assert_eq!(names, ["session.mentorship_session_starting"]);
            let data: Value = serde_json::from_str(&delivery.follow_ups[0].data).unwrap();
            assert_eq!(data["session_id"], 889);
            assert_eq!(data["mentor"]["email"], "michael.chen@example.com");
        } else {
            assert!(names.is_empty(), "{status}: {names:?}");
        }
    }
}

#[test]
fn a_serializer_error_is_a_rejection_not_a_crash() {
    let plugin = bundled_serializer("payments");
    let call = runtime().serialize(&plugin, &event("subscription.subscription_created", json!({"id": "not a number"})));
    assert!(matches!(failure(&call), PluginError::Rejected(m) if m.contains("invalid JSON")), "{:?}", call.result);
    let call = runtime().serialize(&plugin, &event("unknown.event", json!({})));
    assert!(matches!(failure(&call), PluginError::Rejected(m) if m.contains("unknown.event")), "{:?}", call.result);
}

/// After every misbehaviour the engine still serves a good plugin.
fn assert_good_plugin_still_works() {
    let fixture = fixtures().into_iter().find(|f| f.plugin == "assignments").unwrap();
    let delivery = delivered(runtime().serialize(&bundled_serializer("assignments"), &fixture.event()));
    assert_eq!(serde_json::from_str::<Value>(&delivery.payload).unwrap(), fixture.payload);
}

#[test]
fn an_infinite_loop_is_stopped_by_the_deadline() {
    let call = runtime().serialize(&hostile(), &event("hostile.loop", json!({})));
    assert!(
        matches!(failure(&call), PluginError::DeadlineExceeded(d) if *d == runtime().limits().deadline),
        "{:?}",
        call.result
    );
    assert!(call.duration >= runtime().limits().deadline, "stopped before its deadline: {:?}", call.duration);
    assert_good_plugin_still_works();
}

#[test]
fn a_memory_bomb_is_stopped_by_the_cap() {
    let call = runtime().serialize(&hostile(), &event("hostile.memory_bomb", json!({})));
    assert_eq!(failure(&call), &PluginError::MemoryLimit(runtime().limits().max_memory), "{:?}", call.result);
    assert!(call.peak_memory <= runtime().limits().max_memory);
    assert!(call.peak_memory > runtime().limits().max_memory / 2, "peak {}", call.peak_memory);
    assert_good_plugin_still_works();
}

#[test]
fn a_panic_is_a_trap_whose_message_is_kept_in_the_logs() {
    let call = runtime().serialize(&hostile(), &event("hostile.trap", json!({})));
    assert!(matches!(failure(&call), PluginError::Trap(_)), "{:?}", call.result);
    assert!(call.logs.iter().any(|l| l.message.contains("hostile plugin panicked on purpose")), "{:?}", call.logs);
    assert_good_plugin_still_works();
}

#[test]
fn invalid_json_output_is_refused() {
    let call = runtime().serialize(&hostile(), &event("hostile.bad_json", json!({})));
    assert!(
        matches!(failure(&call), PluginError::InvalidOutput(m) if m.contains("payload is not valid JSON")),
        "{:?}",
        call.result
    );
    assert_good_plugin_still_works();
}

#[test]
fn oversized_input_and_output_are_refused() {
    let limits = *runtime().limits();
    let call = runtime().serialize(&hostile(), &event("hostile.huge_output", json!({})));
    assert!(
        matches!(failure(&call), PluginError::OutputTooLarge { limit, .. } if *limit == limits.max_output),
        "{:?}",
        call.result
    );
    let big = json!({ "blob": "y".repeat(limits.max_input) });
    let call = runtime().serialize(&hostile(), &event("echo", big));
    assert!(
        matches!(failure(&call), PluginError::InputTooLarge { limit, .. } if *limit == limits.max_input),
        "{:?}",
        call.result
    );
    assert_good_plugin_still_works();
}

#[test]
fn logs_are_bounded_and_printed_output_is_captured() {
    let rt = runtime();
    let limits = *rt.limits();
    // Ten thousand host calls can outlast the default 100 ms deadline in a
    // debug build on a busy machine; the deadline is not what is checked here.
    rt.activate("log-flood", 1, &hostile());
    rt.set_limits("log-flood", &LimitOverrides { deadline_ms: Some(1000), ..LimitOverrides::default() }).unwrap();
    let call = rt.serialize(&rt.serializer("log-flood").unwrap(), &event("hostile.log_flood", json!({})));
    assert!(matches!(call.result, Ok(Decision::Skip { .. })), "{:?}", call.result);
    assert_eq!(call.logs.len(), limits.max_log_lines + 1, "kept lines plus the 'dropped' line");
    assert!(call.logs.last().unwrap().message.contains("more log lines dropped"));

    let call = rt.serialize(&hostile(), &event("hostile.stdout", json!({})));
    let messages: Vec<_> = call.logs.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(messages, ["written to stdout", "written to stderr"]);
}

#[test]
fn plugins_get_no_ambient_capabilities() {
    let delivery = delivered(runtime().serialize(&hostile(), &event("hostile.ambient", json!({}))));
    let seen: Value = serde_json::from_str(&delivery.payload).unwrap();
    assert_eq!(seen, json!({"env": 0, "args": 0, "now": 0, "root_dir": false, "cwd_file": false}));
}

#[test]
fn instances_are_reused_within_an_academy_only_and_dropped_after_a_trap() {
    let rt = Runtime::new(RuntimeConfig { max_concurrent_calls: 8, ..few_warm() }).unwrap();
    let plugin = rt.load_serializer("hostile", &hostile_wasm()).unwrap();
    let count = |academy: &str, name: &str| {
        let event = Event { academy: Some(academy.into()), ..event(name, json!({})) };
        counted(rt.serialize(&plugin, &event))
    };
    assert_eq!([count("a", "hostile.counter"), count("a", "hostile.counter")], [0, 1], "warm within academy a");
    assert_eq!(count("b", "hostile.counter"), 0, "academy b never sees a's instance");
    assert_eq!(count("a", "hostile.counter"), 2);

    let trap = rt.serialize(&plugin, &Event { academy: Some("a".into()), ..event("hostile.trap", json!({})) });
    assert!(matches!(trap.result, Err(PluginError::Trap(_))));
    assert_eq!(count("a", "hostile.counter"), 0, "the trapped instance was dropped, not reused");

    let cold = Runtime::new(RuntimeConfig { warm_instances: 0, max_concurrent_calls: 2, ..few_warm() }).unwrap();
    let plugin = cold.load_serializer("hostile", &hostile_wasm()).unwrap();
    for _ in 0..2 {
        let call = cold.serialize(&plugin, &event("hostile.counter", json!({})));
        assert!(matches!(call.result, Ok(Decision::Deliver(d)) if d.payload == "0"), "no reuse when disabled");
    }
}

#[test]
fn warm_instances_do_not_take_the_slots_of_the_calls_that_run() {
    // One call at a time, but three academies' instances kept warm: each
    // academy's first call still finds a slot of the pool free.
    let rt = Runtime::new(RuntimeConfig { max_concurrent_calls: 1, warm_instances: 3, ..few_warm() }).unwrap();
    let plugin = rt.load_serializer("hostile", &hostile_wasm()).unwrap();
    for academy in ["a", "b", "c", "a"] {
        let event = Event { academy: Some(academy.into()), ..event("hostile.counter", json!({})) };
        let call = rt.serialize(&plugin, &event);
        assert!(matches!(call.result, Ok(Decision::Deliver(_))), "academy {academy}: {:?}", call.result);
    }
}

#[test]
fn an_instance_whose_memory_grew_is_not_kept_warm() {
    // `hostile.huge_output` builds a 4 MiB string (its output is refused as
    // too large, a clean failure that would keep the instance): past the
    // 2 MiB an idle instance may hold, the academy's next call starts afresh.
    let rt = Runtime::new(RuntimeConfig { max_concurrent_calls: 2, ..few_warm() }).unwrap();
    let plugin = rt.load_serializer("hostile", &hostile_wasm()).unwrap();
    let call = |name: &str| rt.serialize(&plugin, &event(name, json!({})));
    assert_eq!([counted(call("hostile.counter")), counted(call("hostile.counter"))], [0, 1], "kept warm");
    let big = call("hostile.huge_output");
    assert!(matches!(failure(&big), PluginError::OutputTooLarge { .. }), "{:?}", big.result);
    assert!(big.peak_memory > 2 << 20, "peak {}", big.peak_memory);
    assert_eq!(counted(call("hostile.counter")), 0, "the grown instance was dropped");
}

#[test]
fn what_is_not_a_component_of_the_right_world_is_rejected() {
    let rt = runtime();
    let garbage = rt.load_serializer("garbage", b"definitely not wasm").unwrap_err();
    assert!(matches!(garbage, LoadError::NotAComponent(m) if m.contains("header")), "{garbage}");

    let empty_core_module = b"\0asm\x01\0\0\0";
    let core = rt.load_serializer("core", empty_core_module).unwrap_err();
    assert!(matches!(core, LoadError::NotAComponent(m) if m.contains("core WebAssembly module")), "{core}");

    let truncated = &bundled::find("events").unwrap().wasm[..1000];
    let broken = rt.load_serializer("broken", truncated).unwrap_err();
    assert!(matches!(broken, LoadError::Compile(_)), "{broken}");

    let transformer = bundled::find("slack-transformer").unwrap().wasm;
    let wrong = rt.load_serializer("slack", transformer).unwrap_err();
    assert!(matches!(wrong, LoadError::WrongWorld { expected: "serializer", .. }), "{wrong}");
    let wrong = rt.load_transformer("events", bundled::find("events").unwrap().wasm).unwrap_err();
    assert!(matches!(wrong, LoadError::WrongWorld { expected: "hook-transformer", .. }), "{wrong}");
}

#[test]
fn a_component_over_the_size_cap_is_rejected() {
    let rt = Runtime::new(RuntimeConfig { max_component_size: 1000, max_concurrent_calls: 2, ..few_warm() }).unwrap();
    let error = rt.load_serializer("events", bundled::find("events").unwrap().wasm).unwrap_err();
    assert!(matches!(error, LoadError::TooLarge { limit: 1000, .. }), "{error}");
}

#[test]
fn new_bytes_for_a_name_change_the_next_output_without_a_rebuild() {
    let rt = runtime();
    let source = fixtures().into_iter().find(|f| f.event == "assignment.assignment_created").unwrap();
    let event = source.event();

    rt.activate("swappable", 1, &hostile());
    let before = rt.serializer("swappable").unwrap();
    let echoed = delivered(rt.serialize(&before, &event));
    assert_eq!(serde_json::from_str::<Value>(&echoed.payload).unwrap(), source.source, "v1 echoes the source");

    rt.activate("swappable", 2, &bundled_serializer("assignments"));
    let after = rt.serializer("swappable").unwrap();
    assert_ne!(after.info().digest, before.info().digest);
    let serialized = delivered(rt.serialize(&after, &event));
    assert_eq!(serde_json::from_str::<Value>(&serialized.payload).unwrap(), source.payload, "v2 serializes");

    // A call that started on the old version finishes on it.
    let in_flight = delivered(rt.serialize(&before, &event));
    assert_eq!(in_flight, echoed);
}

#[test]
fn the_example_transformer_reshapes_or_cancels_the_request() {
    let rt = runtime();
    let plugin = rt.load_transformer("slack", bundled::find("slack-transformer").unwrap().wasm).unwrap();
    let request = Request {
        url: "https://hooks.slack.test/services/x".into(),
        method: "POST".into(),
        headers: vec![("X-Custom".into(), "1".into())],
        body: r#"{"id":456,"task_status":"DONE","user":{"id":1}}"#.into(),
    };
    let call = rt.transform(&plugin, Some("downtown-campus"), "assignment.assignment_status_updated", &request);
    let out = call.result.unwrap().expect("not cancelled");
    let body: Value = serde_json::from_str(&out.body).unwrap();
    assert_eq!(body, json!({"text": "*assignment.assignment_status_updated*\n• id: 456\n• task_status: DONE"}));
    assert_eq!(out.url, request.url);
    let content_types: Vec<_> =
        out.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.as_str()).collect();
    assert_eq!(content_types, ["application/json"]);

    let call = rt.transform(&plugin, Some("downtown-campus"), "e", &Request { body: "[1]".into(), ..request });
    assert_eq!(call.result, Ok(None));
    assert!(call.logs.iter().any(|l| l.message.contains("cancelled")), "{:?}", call.logs);
}

#[test]
fn compiled_components_are_cached_on_disk_and_bad_artifacts_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let config = RuntimeConfig { cache_dir: Some(dir.path().to_owned()), max_concurrent_calls: 2, ..few_warm() };
    let wasm = bundled::find("marketing").unwrap().wasm;
    let fixture = fixtures().into_iter().find(|f| f.event == "form_entry.won_or_lost").unwrap();

    let digest = Runtime::new(config.clone()).unwrap().load_serializer("marketing", wasm).unwrap().info().digest;
    let artifacts: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    let name = artifacts[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with(&digest.hex()) && name.ends_with(".cwasm"), "{name}");

    // A restart loads the artifact; a damaged artifact is recompiled.
    for damage in [false, true] {
        if damage {
            std::fs::write(&artifacts[0], b"garbage").unwrap();
        }
        let rt = Runtime::new(config.clone()).unwrap();
        let plugin = rt.load_serializer("marketing", wasm).unwrap();
        let delivery = delivered(rt.serialize(&plugin, &fixture.event()));
        assert_eq!(serde_json::from_str::<Value>(&delivery.payload).unwrap(), fixture.payload);
    }
    assert!(std::fs::read(&artifacts[0]).unwrap().len() > 1000, "the damaged artifact was rewritten");
}

#[test]
fn consecutive_faults_trip_the_breaker_of_an_activated_version_only() {
    let config = BreakerConfig { failures: 2, cool_down: Duration::from_secs(3600) };
    let rt = Runtime::new(RuntimeConfig { breaker: config, max_concurrent_calls: 4, ..few_warm() }).unwrap();
    rt.activate("hostile", 1, &rt.load_serializer("hostile", &hostile_wasm()).unwrap());
    let active = rt.serializer("hostile").unwrap();

    // An error the plugin returns is not a fault; a trap and a timeout are.
    assert!(matches!(rt.serialize(&active, &event("hostile.trap", json!({}))).result, Err(PluginError::Trap(_))));
    assert!(rt.serialize(&active, &event("echo", json!({}))).result.is_ok(), "a success starts the count again");
    assert!(matches!(rt.serialize(&active, &event("hostile.trap", json!({}))).result, Err(PluginError::Trap(_))));
    assert!(matches!(
        rt.serialize(&active, &event("hostile.loop", json!({}))).result,
        Err(PluginError::DeadlineExceeded(_))
    ));
    let refused = rt.serialize(&active, &event("echo", json!({}))).result.unwrap_err();
    assert!(matches!(refused, PluginError::CircuitOpen { version: 1, failures: 2, .. }), "{refused}");
    assert!(refused.to_string().starts_with("plugin hostile version 1 is switched off"), "{refused}");

    let health = rt.health("hostile", 1).unwrap();
    assert_eq!((health.metrics.calls, health.metrics.errors, health.metrics.refused), (4, 3, 1));
    assert!(health.breaker.open);
    // A dry run is neither refused nor counted.
    let dry = rt.for_dry_run("hostile", &active);
    assert!(rt.serialize(&dry, &event("echo", json!({}))).result.is_ok());
    assert_eq!(rt.health("hostile", 1).unwrap().metrics.calls, 4);
    // Activating a version closes its breaker.
    rt.activate("hostile", 1, &active);
    assert!(rt.serialize(&rt.serializer("hostile").unwrap(), &event("echo", json!({}))).result.is_ok());
}

#[test]
fn a_plugins_own_limits_apply_within_the_operators_maxima() {
    let rt = runtime();
    rt.activate("limited", 1, &hostile());
    let tight = LimitOverrides { deadline_ms: Some(5), max_memory: Some(8 << 20), ..LimitOverrides::default() };
    let limits = rt.set_limits("limited", &tight).unwrap();
    assert_eq!((limits.deadline, limits.max_memory), (Duration::from_millis(5), 8 << 20));
    let plugin = rt.serializer("limited").unwrap();
    let bomb = rt.serialize(&plugin, &event("hostile.memory_bomb", json!({})));
    assert_eq!(bomb.result.unwrap_err(), PluginError::MemoryLimit(8 << 20));
    let spin = rt.serialize(&plugin, &event("hostile.loop", json!({})));
    assert_eq!(spin.result.unwrap_err(), PluginError::DeadlineExceeded(Duration::from_millis(5)));

    let too_much = LimitOverrides { max_memory: Some(u64::MAX), ..LimitOverrides::default() };
    let error = rt.set_limits("limited", &too_much).unwrap_err();
    assert_eq!(error.field, "max_memory");
    assert_eq!(rt.limits_of("limited").max_memory, 8 << 20, "a refused change leaves the limits as they were");
}
