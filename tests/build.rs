//! Builds the test-only plugins (the hostile serializer) to components.

fn main() {
    wasmhook_plugin_build::rerun_if_sources_change();
    let [hostile] = wasmhook_plugin_build::build_components(&["wasmhook-test-hostile"]).try_into().unwrap();
    println!("cargo:rustc-env=WASMHOOK_TEST_HOSTILE_WASM={}", hostile.display());
}
