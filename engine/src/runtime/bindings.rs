//! Host-side bindings of the WIT contract (`wit/plugin.wit`).

/// The `serializer` world, plus the `types` and `host` interfaces both
/// worlds share.
pub mod serializer {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "wasmhook:plugin/serializer",
    });
}

/// The `hook-transformer` world, reusing the shared interfaces above.
pub mod transformer {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "wasmhook:plugin/hook-transformer",
        with: {
            "wasmhook:plugin/types": super::serializer::wasmhook::plugin::types,
            "wasmhook:plugin/host": super::serializer::wasmhook::plugin::host,
        },
    });
}

pub use serializer::wasmhook::plugin::{host, types};
