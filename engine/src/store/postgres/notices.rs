//! Changes reach every engine: a write that changes what engines keep in
//! memory announces it with `pg_notify` inside its transaction (so it is
//! heard once committed, and not at all if rolled back), and each engine
//! listens on a connection of its own, updating its hook index and token
//! cache and passing catalogue and plugin changes on ([`Change`], followed
//! by `app/follow.rs`).
//!
//! A notice is a hint, not a log: each one makes an engine read the state
//! again (the whole hook index, say), never apply a delta, so a notice
//! missed or heard twice does no harm. Notices are lost while the
//! listening connection is down, so an engine reads everything again when
//! it listens anew, and every [`REFRESH`] as a safety net.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{GenericClient, Pool};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};
use tokio_postgres::AsyncMessage;
use tokio_util::task::AbortOnDropHandle;

use super::super::StoreError;
use super::super::contract::Change;
use super::super::token_cache::TokenCache;
use super::hooks::HookCache;
use crate::secrets::Keyring;

/// The channel every engine listens on.
const CHANNEL: &str = "wasmhook_changes";

/// How often an engine reads everything again whatever it heard.
const REFRESH: Duration = Duration::from_secs(30);

/// How long an engine waits before listening again on a new connection.
const RECONNECT: Duration = Duration::from_secs(1);

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub(super) enum Notice {
    /// A hook was created, changed, deactivated or deleted.
    Hooks,
    /// A token was revoked.
    Tokens,
    /// A catalogue event was added or changed.
    Catalog,
    /// A plugin got a version, another active one, other limits, or was
    /// deleted.
    Plugin { name: String },
}

/// A notice as sent: who sent it, so an engine skips its own.
#[derive(Serialize, Deserialize)]
struct Sent {
    from: String,
    #[serde(flatten)]
    notice: Notice,
}

/// Announces `notice` from engine `node` once `txn` commits.
pub(super) async fn announce(txn: &impl GenericClient, node: &str, notice: Notice) -> Result<(), StoreError> {
    let payload = serde_json::to_string(&Sent { from: node.to_owned(), notice }).expect("a notice serializes");
    txn.execute(&txn.prepare_cached("SELECT pg_notify($1, $2)").await?, &[&CHANNEL, &payload]).await?;
    Ok(())
}

/// What an engine keeps in memory and follows.
#[derive(Clone)]
pub(super) struct Followed {
    pub node: Arc<str>,
    pub location: String,
    pub pool: Pool,
    pub keyring: Arc<Keyring>,
    pub hooks: Arc<HookCache>,
    pub tokens: Arc<TokenCache>,
    pub changes: broadcast::Sender<Change>,
}

/// Starts listening, on connections made from `config`, until dropped.
/// While the server is away it tries every second, and says so on the
/// first failure and every 30th after it, not every second.
pub(super) fn listen(config: tokio_postgres::Config, followed: Followed) -> AbortOnDropHandle<()> {
    AbortOnDropHandle::new(tokio::spawn(async move {
        let mut failures = 0u32;
        loop {
            let ended = listen_once(&config, &followed, &mut failures).await;
            failures += 1;
            if failures % 30 == 1 {
                match ended {
                    Ok(()) => {
                        tracing::warn!(store = %followed.location, "the connection listening to other engines' changes ended: listening again every second")
                    }
                    Err(error) => {
                        tracing::warn!(store = %followed.location, %error, failures, "not listening to other engines' changes: trying again every second")
                    }
                }
            }
            tokio::time::sleep(RECONNECT).await;
        }
    }))
}

/// Listens on one connection until it ends (`Ok`) or fails; `failures`
/// (of the attempts before) is reset once it listens.
async fn listen_once(
    config: &tokio_postgres::Config,
    followed: &Followed,
    failures: &mut u32,
) -> Result<(), StoreError> {
    let (client, mut connection) = config.connect(tokio_postgres::NoTls).await?;
    let (notices, mut heard) = mpsc::unbounded_channel();
    // The connection delivers notifications only while it is polled.
    let _connection = AbortOnDropHandle::new(tokio::spawn(async move {
        while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            match message {
                Ok(AsyncMessage::Notification(notification)) => {
                    let _ = notices.send(notification.payload().to_owned());
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }));
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    if *failures > 0 {
        tracing::info!(store = %followed.location, failures, "listening to other engines' changes again");
    }
    *failures = 0;
    tracing::debug!(store = %followed.location, "listening to other engines' changes");
    // What was announced while nothing listened is read now.
    refresh(followed).await;
    loop {
        match tokio::time::timeout(REFRESH, heard.recv()).await {
            Ok(Some(payload)) => follow(followed, &payload).await,
            Ok(None) => return Ok(()),
            Err(_) => refresh(followed).await,
        }
    }
}

/// Applies the notice `payload`, unless this engine sent it.
async fn follow(followed: &Followed, payload: &str) {
    let sent: Sent = match serde_json::from_str(payload) {
        Ok(sent) => sent,
        Err(error) => return tracing::warn!(store = %followed.location, %error, payload, "an unknown notice"),
    };
    if *sent.from == *followed.node {
        return;
    }
    tracing::debug!(store = %followed.location, from = %sent.from, notice = ?sent.notice, "a change of another engine");
    match sent.notice {
        Notice::Hooks => reload_hooks(followed).await,
        Notice::Tokens => followed.tokens.clear(),
        Notice::Catalog => {
            let _ = followed.changes.send(Change::Catalog);
        }
        Notice::Plugin { name } => {
            let _ = followed.changes.send(Change::Plugin(name));
        }
    }
}

/// Reads everything again: what was announced may not have been heard.
async fn refresh(followed: &Followed) {
    reload_hooks(followed).await;
    followed.tokens.clear();
    let _ = followed.changes.send(Change::Everything);
}

async fn reload_hooks(followed: &Followed) {
    let reloaded = async {
        let client = followed.pool.get().await?;
        followed.hooks.reload(&client, &followed.keyring, &followed.location).await
    };
    if let Err(error) = reloaded.await {
        tracing::error!(store = %followed.location, %error, "cannot reload the hooks another engine changed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LimitOverrides, Role, Scope};
    use crate::store::contract_tests::hook;
    use crate::store::postgres::testing;
    use crate::store::{Hooks, Plugins, Store, Tokens};

    /// Waits (at most 2 s, the issue's bound) until `done`.
    async fn within_2s(what: &str, done: impl AsyncFn() -> bool) {
        for _ in 0..40 {
            if done().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("not followed within 2 s: {what}");
    }

    /// Two engines on one database: what one writes, the other follows.
    #[tokio::test]
    async fn an_engine_follows_the_hooks_tokens_and_plugins_another_changes() {
        let Some(database) = testing::database().await else { return };
        let (a, b) = (database.open().await, database.open().await);
        let mut b_changes = b.changes();

        let created = hook(&a, Some("x")).await;
        within_2s("a hook created", async || b.hook(&Scope::All, created.id).is_some()).await;
        a.delete_hooks(&Scope::All, &Default::default()).await.unwrap();
        within_2s("a hook deleted", async || b.hook(&Scope::All, created.id).is_none()).await;

        let record = a.create_token([7; 32], "ci".into(), Role::Service).await.unwrap();
        assert!(b.token([7; 32]).await.unwrap().is_some(), "b reads it, and keeps it");
        a.revoke_token(record.id).await.unwrap();
        within_2s("a token revoked", async || b.token([7; 32]).await.unwrap().is_none()).await;

        a.set_plugin_limits("marketing", LimitOverrides::default()).await.unwrap();
        let heard = async {
            loop {
                match b_changes.recv().await.unwrap() {
                    Change::Plugin(name) => return name,
                    _ => continue, // a refresh
                }
            }
        };
        let heard = tokio::time::timeout(Duration::from_secs(2), heard).await.expect("b hears of the plugin");
        assert_eq!(heard, "marketing");
        drop((a, b));
        database.remove().await;
    }

    #[test]
    fn a_notice_is_sent_as_json_with_its_sender() {
        let sent = Sent { from: "1/a".into(), notice: Notice::Plugin { name: "marketing".into() } };
        let payload = serde_json::to_string(&sent).unwrap();
        assert_eq!(payload, r#"{"from":"1/a","kind":"plugin","name":"marketing"}"#);
        let back: Sent = serde_json::from_str(&payload).unwrap();
        assert_eq!(back.notice, Notice::Plugin { name: "marketing".into() });
        let hooks: Sent = serde_json::from_str(r#"{"from":"2/b","kind":"hooks"}"#).unwrap();
        assert_eq!(hooks.notice, Notice::Hooks);
    }
}
