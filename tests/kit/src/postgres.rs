//! PostgreSQL for the engine's tests: a database of its own for each test,
//! or for each data directory an engine of the `on_postgres` test binary is
//! started on (see `on_postgres`), on the server named by
//! `WASMHOOK_TEST_POSTGRES_URL` (`scripts/postgres-test-cluster` starts a
//! throwaway one). Without it a test is skipped with a notice, unless
//! `WASMHOOK_TEST_REQUIRE_POSTGRES=1` (CI), which fails it.
//!
//! The calls block: [`crate::start`] and the others are synchronous, and
//! are called from inside the tests' runtimes, so each call runs
//! tokio-postgres on a thread and a runtime of its own.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};

pub const URL: &str = "WASMHOOK_TEST_POSTGRES_URL";
const REQUIRE: &str = "WASMHOOK_TEST_REQUIRE_POSTGRES";

/// The test binary whose engines run on PostgreSQL: it includes the e2e
/// suites that also run on redb in binaries of their own.
const POSTGRES_BINARY: &str = "on_postgres";

/// Whether this test binary's engines run on PostgreSQL: in `on_postgres`
/// (`engine/tests/on_postgres.rs`), not in any other. The binary is told
/// by its name because Rust's test harness runs no code of a test binary's
/// own before its tests, which run on threads in any order, and the suites
/// it includes are the very files the redb binaries are built from:
/// nothing in them can say which binary they are in. Cargo names a test
/// binary `<target>-<hash>`.
fn on_postgres() -> bool {
    let exe = std::env::current_exe().expect("the test binary's path");
    let stem = exe.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    stem.rsplit_once('-').map_or(stem, |(target, _hash)| target) == POSTGRES_BINARY
}

/// The server the tests are given, or `None` (with a notice) when none is
/// given and none is required.
pub fn server() -> Option<String> {
    let Ok(server) = std::env::var(URL) else {
        if std::env::var(REQUIRE).is_ok_and(|v| v == "1") {
            panic!("{REQUIRE}=1 but {URL} is not set: start a server with scripts/postgres-test-cluster");
        }
        eprintln!("skipped: {URL} is not set (scripts/postgres-test-cluster starts a server)");
        return None;
    };
    Some(server)
}

/// A new empty database: its URL, or `None` (see [`server`]).
pub fn database() -> Option<String> {
    let server = server()?;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!("wasmhook_e2e_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    // One statement per call: PostgreSQL creates no database in a
    // transaction, which several statements at once would be. A database
    // of that name is left by an earlier run whose process had this id.
    sql(&server, &format!("DROP DATABASE IF EXISTS {name}"));
    sql(&server, &format!("CREATE DATABASE {name}"));
    let mut url = url::Url::parse(&server).unwrap_or_else(|e| panic!("{URL}={server}: {e}"));
    url.set_path(&name);
    Some(url.to_string())
}

/// Runs `statements` on the database at `url`.
pub fn sql(url: &str, statements: &str) {
    let run = async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
        let connection = tokio::spawn(connection);
        client.batch_execute(statements).await.unwrap_or_else(|e| panic!("{statements}: {e}"));
        drop(client);
        let _ = connection.await;
    };
    std::thread::scope(|scope| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        // A panic (the server refused) is the test's: passed on as it is.
        if let Err(panic) = scope.spawn(move || runtime.block_on(run)).join() {
            std::panic::resume_unwind(panic);
        }
    });
}

/// The environment of an engine of this binary started on `data_dir`:
/// nothing on redb; on PostgreSQL, the database of `data_dir`, created
/// the first time an engine is started on it and the same for every later
/// start (a restarted engine finds its data again, as on redb), and leases
/// of 3 s (the least allowed), so that a restart after a `kill -9` takes
/// the killed engine's jobs within the tests' waits. A test's own
/// variables come after these and win.
///
/// With no server given and none required, the binary's engines cannot
/// start: this says so on one line and ends the test binary, successful,
/// before any test started one (every test of its suites starts one;
/// the few temp directories of the tests under way are left behind).
pub(crate) fn environment(data_dir: &Path) -> Vec<(&'static str, String)> {
    if !on_postgres() {
        return Vec::new();
    }
    static DATABASES: Mutex<BTreeMap<PathBuf, String>> = Mutex::new(BTreeMap::new());
    // Held while a database is created: two starts on one directory at
    // once get one database. A panic while it was held (the server refused)
    // left nothing half-done in the map.
    let mut databases = DATABASES.lock().unwrap_or_else(PoisonError::into_inner);
    let url = match databases.get(data_dir) {
        Some(url) => url.clone(),
        None => {
            let Some(url) = database() else {
                // Written past the harness's capture of the tests' output,
                // which exiting would discard.
                let _ = writeln!(
                    std::io::stderr(),
                    "skipped: every test of {POSTGRES_BINARY} (the e2e suites on PostgreSQL): {URL} is not set \
                     (scripts/postgres-test-cluster starts a server)"
                );
                std::process::exit(0);
            };
            databases.insert(data_dir.to_owned(), url.clone());
            url
        }
    };
    vec![
        ("WASMHOOK_STORE", "postgres".to_owned()),
        ("WASMHOOK_POSTGRES_URL", url),
        ("WASMHOOK_POSTGRES_LEASE", "3s".to_owned()),
    ]
}
