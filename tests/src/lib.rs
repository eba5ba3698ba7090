//! Shared support for the end-to-end tests.

/// The hostile serializer component (see `tests/plugins/hostile`).
pub fn hostile_wasm() -> Vec<u8> {
    std::fs::read(env!("WASMHOOK_TEST_HOSTILE_WASM")).expect("hostile plugin built by build.rs")
}
