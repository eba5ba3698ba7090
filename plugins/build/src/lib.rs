//! Compiles plugin crates of this workspace into WebAssembly components,
//! from a build script.
//!
//! The engine embeds the bundled plugins (its build script); the test kit
//! (`tests/kit`, which only tests and benchmarks depend on) embeds the
//! hostile one, so a release build of the engine never compiles it. A build
//! script cannot depend on artifacts of another target, so this runs a nested
//! `cargo build --target wasm32-wasip2` over the workspace, in a target
//! directory of its own (the outer build holds the lock on the usual one).
//!
//! The `wasm32-wasip2` standard library is checked first: rustup does not
//! add a `rust-toolchain.toml` target by itself everywhere (not with
//! `RUSTUP_AUTO_INSTALL=0`, common in CI images), and without it the nested
//! build fails deep inside with "can't find crate for `std`".

use std::path::{Path, PathBuf};
use std::process::Command;

/// The component target (see [`ensure_target`]).
pub const TARGET: &str = "wasm32-wasip2";
/// The profile bundled plugins are built with (see the workspace manifest).
pub const PROFILE: &str = "plugin";

/// Builds `packages` (package names of this workspace) to components and
/// returns the path of each `.wasm`, in the same order. Panics with cargo's
/// exit status when the build fails: the build script reports it.
pub fn build_components(packages: &[&str]) -> Vec<PathBuf> {
    let workspace = workspace_root();
    if let Err(message) = ensure_target(&workspace) {
        panic!("{message}");
    }
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

/// Makes sure the toolchain that builds the workspace has the standard
/// library of [`TARGET`]: when it is missing, adds it with rustup (as
/// `rust-toolchain.toml` asks) and says so; when that cannot be done,
/// returns the one line that tells the user what to run.
pub fn ensure_target(workspace: &Path) -> Result<(), String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .current_dir(workspace)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    let installed = |sysroot: &Path| sysroot.join("lib/rustlib").join(TARGET).join("lib").is_dir();
    if sysroot.as_deref().is_some_and(installed) {
        return Ok(());
    }
    let missing = format!(
        "the Rust target {TARGET} is not installed and `rustup target add {TARGET}` failed: run it, then build again"
    );
    let added = Command::new("rustup")
        .current_dir(workspace)
        .args(["target", "add", TARGET])
        .status()
        .is_ok_and(|status| status.success());
    if !added {
        return Err(missing);
    }
    println!(
        "cargo:warning=installed the Rust target {TARGET} with `rustup target add {TARGET}` (plugins are built for it)"
    );
    Ok(())
}

/// Tells cargo to rerun the build script when any plugin source, the SDK or
/// the contract changes.
pub fn rerun_if_sources_change() {
    let root = workspace_root();
    for dir in ["wit", "sdk", "plugins", "tests/plugins", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
}

/// The workspace of the package whose build script runs: read at run time
/// (cargo sets `CARGO_MANIFEST_DIR` for it), not baked in when this crate
/// compiles, so a shared target directory (several checkouts) never points
/// a build at another checkout. The packages that build plugins (`engine`,
/// `tests/kit`) sit at different depths: the nearest directory above whose
/// manifest has a `[workspace]` table is the root.
fn workspace_root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo (a build script)");
    let manifest = Path::new(&manifest).canonicalize().expect("the package's directory");
    manifest
        .ancestors()
        .skip(1)
        .find(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml"))
                .is_ok_and(|toml| toml.lines().any(|line| line.trim() == "[workspace]"))
        })
        .unwrap_or_else(|| panic!("no workspace above {}", manifest.display()))
        .to_path_buf()
}
