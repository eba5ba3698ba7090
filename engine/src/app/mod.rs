//! The services the API calls: each owns one concern's rules and the
//! writes that follow from them, so a handler only parses, calls a service
//! and maps its answer, and a second transport (the console, a CLI acting
//! on a data directory) can call the same services.
//!
//! - [`plugins`]: uploads, activation, limits and deletion of serializer
//!   plugins, and every fetch of component bytes, compiled once;
//! - [`catalog`]: adding and changing catalogue events, under the rule
//!   that an event names only a loaded serializer;
//! - [`hooks`]: subscribing, changing and unsubscribing hooks, under the
//!   rules of their settings and academy;
//! - [`replay`]: a delivery queued again;
//! - [`follow`]: what other engines write to a shared store, followed.

pub mod catalog;
pub mod follow;
pub mod hooks;
pub mod plugins;
pub mod replay;
