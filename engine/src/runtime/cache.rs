//! Precompiled components on disk, so a restart does not recompile.
//!
//! An artifact is named after the component's sha256 and the engine's
//! compatibility hash (wasmtime version and compilation settings): an
//! artifact of another wasmtime or another configuration is never loaded,
//! only recompiled.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::Engine;
use wasmtime::component::Component;

use super::LoadError;
use super::plugin::Digest;

pub(crate) struct ArtifactCache {
    dir: PathBuf,
    engine_tag: String,
}

impl ArtifactCache {
    pub(crate) fn new(dir: PathBuf, engine: &Engine) -> std::io::Result<Self> {
        // Owner only, as everything in the data directory.
        crate::data_dir::create_private_dir(&dir)?;
        // DefaultHasher is deterministic within one build of the binary,
        // which is all the tag must be: another build may only recompile.
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(ArtifactCache { dir, engine_tag: format!("{:016x}", hasher.finish()) })
    }

    /// The cached artifact for these bytes, else compiles them and caches
    /// the result. A cache that cannot be read or written costs a compile,
    /// never a failure.
    pub(crate) fn load_or_compile(
        &self,
        engine: &Engine,
        digest: &Digest,
        bytes: &[u8],
    ) -> Result<Component, LoadError> {
        let path = self.dir.join(format!("{}-{}.cwasm", digest.hex(), self.engine_tag));
        if path.exists() {
            // SAFETY: artifacts in this directory are written by this engine
            // only (below) and named after its compatibility hash; wasmtime
            // additionally checks the header before loading.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok(component),
                Err(error) => {
                    tracing::warn!(path = %path.display(), error = %error, "unusable cached artifact, recompiling")
                }
            }
        }
        let artifact = engine.precompile_component(bytes).map_err(|e| LoadError::Compile(format!("{e:#}")))?;
        if let Err(error) = write_atomically(&path, &artifact) {
            tracing::warn!(path = %path.display(), error = %error, "could not cache a compiled plugin");
        }
        // SAFETY: the artifact was produced by `precompile_component` on
        // this very engine just above.
        unsafe { Component::deserialize(engine, &artifact) }.map_err(|e| LoadError::Compile(format!("{e:#}")))
    }
}

/// Writes through a temporary file and a rename, so a crash never leaves a
/// half-written artifact under the final name. The temporary file is this
/// write's own: two compiles of one component at once each rename theirs
/// (with one name, the second rename found the file gone).
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}.{n}", std::process::id()));
    crate::data_dir::write_private_file(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
