//! The plugin-author path, as the README describes it: the template crate
//! passes its own native tests and builds into a component both with plain
//! `cargo build --target wasm32-wasip2` and with `cargo component build`,
//! and the engine runs what either produces.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use wasmhook::runtime::{Decision, Event, Runtime, RuntimeConfig};
use wasmhook_testkit::workspace_root;

fn template() -> PathBuf {
    workspace_root().join("plugins/template")
}

fn cargo(args: &[&str], target_dir: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(template())
        .args(args)
        .args(["--locked", "--target-dir"])
        .arg(target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("run cargo");
    assert!(status.success(), "cargo {args:?} in plugins/template failed: {status}");
}

fn target_dir(name: &str) -> PathBuf {
    workspace_root().join("target").join(name)
}

/// The template's serializer, run by the engine, behaves as its source says.
fn assert_runs_in_the_engine(wasm: &Path) {
    let bytes = std::fs::read(wasm).unwrap_or_else(|e| panic!("{}: {e}", wasm.display()));
    let runtime = Runtime::new(RuntimeConfig { max_concurrent_calls: 2, ..RuntimeConfig::default() }).unwrap();
    let plugin = runtime.load_serializer("my-serializer", &bytes).unwrap();
    let event = |data: Value| Event {
        id: "evt_1".into(),
        name: "orders.order_paid".into(),
        action: "orders.Order.order_paid".into(),
        academy: None,
        occurred_at: "2025-01-20T15:00:00Z".into(),
        data: data.to_string(),
    };

    let call = runtime.serialize(&plugin, &event(json!({"id": 7, "status": "PAID", "total": 10.5, "card": "4242"})));
    let Ok(Decision::Deliver(delivery)) = call.result else { panic!("{:?}", call.result) };
    let payload: Value = serde_json::from_str(&delivery.payload).unwrap();
    assert_eq!(payload, json!({"id": 7, "status": "PAID", "total": 10.5, "test_mode": false}));
    assert_eq!(call.logs.iter().map(|l| l.message.as_str()).collect::<Vec<_>>(), ["order 7 is PAID"]);

    let call = runtime.serialize(&plugin, &event(json!({"id": 8, "status": "PAID", "total": 1, "test_mode": true})));
    assert!(matches!(call.result, Ok(Decision::Skip { .. })), "{:?}", call.result);
}

#[test]
fn the_template_is_unit_testable_natively() {
    cargo(&["test"], &target_dir("template-native"));
}

#[test]
fn the_template_builds_with_plain_cargo_and_runs_in_the_engine() {
    let target = target_dir("template-wasip2");
    cargo(&["build", "--release", "--target", "wasm32-wasip2"], &target);
    assert_runs_in_the_engine(&target.join("wasm32-wasip2/release/my_serializer.wasm"));
}

/// `cargo component` is an optional tool: CI installs it (`.ci/run`), so
/// there this test must pass; elsewhere it is skipped with a notice.
#[test]
fn the_template_builds_with_cargo_component_and_runs_in_the_engine() {
    let installed = Command::new("cargo-component").arg("--version").output().is_ok_and(|o| o.status.success());
    if !installed {
        assert!(std::env::var_os("CI").is_none(), "CI must install cargo-component (see .ci/run)");
        eprintln!("cargo-component is not installed: skipping (cargo install --locked cargo-component)");
        return;
    }
    let target = target_dir("template-component");
    cargo(&["component", "build", "--release"], &target);
    assert_runs_in_the_engine(&target.join("wasm32-wasip1/release/my_serializer.wasm"));
}
