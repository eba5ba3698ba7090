//! The plugins compiled into this binary (see `build.rs`): the serializers of
//! the default catalogue and an example hook transformer.

use crate::runtime::World;

/// One bundled plugin's component.
#[derive(Debug)]
pub struct BundledPlugin {
    /// The name catalogue entries use to refer to it.
    pub name: &'static str,
    /// The world it implements.
    pub world: World,
    /// The component's bytes.
    pub wasm: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// The bundled plugin called `name`.
pub fn find(name: &str) -> Option<&'static BundledPlugin> {
    BUNDLED.iter().find(|plugin| plugin.name == name)
}
