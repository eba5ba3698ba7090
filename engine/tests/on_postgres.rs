//! The e2e suites that matter most, again with every engine on PostgreSQL:
//! the hooks API, delivery (with its `kill -9`), plugins and the console's
//! actions on a hook, the very files that run on redb as test binaries of
//! their own.
//!
//! This binary's name is what puts its engines on PostgreSQL (the
//! testkit's `postgres` module reads it): each data directory a test starts
//! an engine on gets a database of its own, the same one when an engine is
//! restarted on it. Without `WASMHOOK_TEST_POSTGRES_URL` the whole binary
//! is skipped with a notice, unless `WASMHOOK_TEST_REQUIRE_POSTGRES=1` (CI),
//! which fails its tests.

#[path = "console_actions.rs"]
mod console_actions;
#[path = "delivery.rs"]
mod delivery;
#[path = "hooks_api.rs"]
mod hooks_api;
#[path = "plugins.rs"]
mod plugins;
