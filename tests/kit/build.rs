//! Builds the hostile test component (`tests/plugins/hostile`) once, when
//! this crate is built, and hands its path to the crate: every test binary
//! then embeds the same bytes instead of each running its own nested cargo
//! build. Only tests and benchmarks depend on this crate, so a build of the
//! engine itself never compiles the hostile plugin.

fn main() {
    wasmhook_plugin_build::rerun_if_sources_change();
    let [hostile] = wasmhook_plugin_build::build_components(&["wasmhook-test-hostile"])
        .try_into()
        .expect("one component per package");
    println!("cargo:rustc-env=WASMHOOK_TEST_HOSTILE_WASM={}", hostile.display());
}
