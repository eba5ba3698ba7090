//! Compiles plugin crates of this workspace into WebAssembly components, from
//! a build script.
//!
//! The engine embeds the bundled plugins and the tests load hostile ones, so
//! both need `.wasm` files before they compile. A build script cannot depend
//! on artifacts of another target, so it runs a nested
//! `cargo build --target wasm32-wasip2` over the workspace, in a target
//! directory of its own (the outer build holds the lock on the usual one).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The component target; `rust-toolchain.toml` makes rustup install it.
pub const TARGET: &str = "wasm32-wasip2";
/// The profile bundled plugins are built with (see the workspace manifest).
pub const PROFILE: &str = "plugin";

/// Builds `packages` (package names of this workspace) to components and
/// returns the path of each `.wasm`, in the same order. Panics with cargo's
/// exit status when the build fails: the build script reports it.
pub fn build_components(packages: &[&str]) -> Vec<PathBuf> {
    let workspace = workspace_root();
    let target_dir = workspace.join("target").join("wasm-plugins");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());

    let mut command = Command::new(cargo);
    command
        .current_dir(&workspace)
        .args(["build", "--locked", "--target", TARGET, "--profile", PROFILE])
        .arg("--target-dir")
        .arg(&target_dir);
    for package in packages {
        command.args(["--package", package]);
    }
    // The outer build's settings (a clippy wrapper, host rustflags, its
    // target) must not leak into the guest build.
    for var in [
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_RUSTFLAGS",
    ] {
        command.env_remove(var);
    }
    let status = command.status().expect("failed to run cargo for the plugins");
    assert!(status.success(), "building plugins {packages:?} for {TARGET} failed: {status}");

    let out = target_dir.join(TARGET).join(PROFILE);
    packages.iter().map(|p| out.join(format!("{}.wasm", p.replace('-', "_")))).collect()
}

/// Tells cargo to rerun the build script when any plugin source, the SDK or
/// the contract changes.
pub fn rerun_if_sources_change() {
    let root = workspace_root();
    for dir in ["wit", "sdk", "plugins", "tests/plugins", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
}

/// The workspace of the package whose build script runs: read when the
/// script runs, not baked in when this crate compiles, so a shared target
/// directory (several checkouts) never points a build at another checkout.
/// The packages that build plugins (`engine`, `tests`) sit one level below
/// the workspace root.
fn workspace_root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").expect("called from a build script");
    Path::new(&manifest).join("..").canonicalize().expect("workspace root")
}
