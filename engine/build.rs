//! Builds the bundled plugins into components and embeds them: the engine
//! runs on its defaults with nothing but its own binary.

use std::fmt::Write;

/// (plugin name, package, world) of every bundled plugin.
const BUNDLED: &[(&str, &str, &str)] = &[
    ("admissions", "wasmhook-plugin-admissions", "Serializer"),
    ("assignments", "wasmhook-plugin-assignments", "Serializer"),
    ("events", "wasmhook-plugin-events", "Serializer"),
    ("marketing", "wasmhook-plugin-marketing", "Serializer"),
    ("mentorship", "wasmhook-plugin-mentorship", "Serializer"),
    ("payments", "wasmhook-plugin-payments", "Serializer"),
    ("slack-transformer", "wasmhook-plugin-slack-transformer", "HookTransformer"),
];

fn main() {
    wasmhook_plugin_build::rerun_if_sources_change();
    let packages: Vec<&str> = BUNDLED.iter().map(|(_, package, _)| *package).collect();
    let wasm = wasmhook_plugin_build::build_components(&packages);

    let mut code =
        String::from("/// Every plugin bundled in this binary.\npub static BUNDLED: &[BundledPlugin] = &[\n");
    for ((name, _, world), path) in BUNDLED.iter().zip(&wasm) {
        writeln!(
            code,
            "    BundledPlugin {{ name: {name:?}, world: World::{world}, wasm: include_bytes!({path:?}) }},",
            path = path.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("bundled.rs");
    std::fs::write(out, code).unwrap();
}
