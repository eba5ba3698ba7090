//! The engine's settings: embedded defaults, overridden by a TOML file,
//! then by `WASMHOOK_*` environment variables, then by command-line flags.
//!
//! Each layer is applied key by key and the whole is checked after each key,
//! so a bad key or value is refused with the one place it came from:
//! `FILE:LINE`, the environment variable or the flag. Keys are the field
//! names of [`Config`] (`targets.require_https` inside a section); the
//! environment variable of a key is `WASMHOOK_` and the key in upper case
//! with `_` for `.` (`WASMHOOK_TARGETS_REQUIRE_HTTPS`); its flag, where it has
//! one, is `--` and the key with `-` for `_`.
//!
//! Each section's type belongs to the module it configures, with its
//! defaults and its checks (`targets::Targets`, `connections::Http`,
//! `store::space::Storage`, `quota::QuotaSettings` and
//! `quota::RateLimitSettings`; `delivery::DeliverySettings` and
//! `runtime::PluginSettings`, whose keys are flat at the top level), so
//! that a module changes its settings without touching the others; this
//! module only layers them and composes them into [`Config`]. Nothing below the composition root
//! (`server`) imports it (`engine/tests/layers.rs` checks).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::catalog::CatalogMode;
use crate::connections::Http;
use crate::delivery::{DeliveryConfig, DeliverySettings};
use crate::public_url::PublicUrl;
use crate::quota::{QuotaSettings, RateLimitSettings};
use crate::runtime::PluginSettings;
use crate::secrets::{Secret, SecretKey};
use crate::store::space::Storage;
use crate::store::{Backend, PostgresSettings, RedbSettings};
use crate::targets::{TargetPolicy, Targets};
use crate::units::duration;

/// The prefix of the environment variables that are settings.
pub const ENV_PREFIX: &str = "WASMHOOK_";

/// Variables with the prefix that are not settings, and so are left alone:
/// the configuration file's path and the `wasmhook plugin` client's. Any
/// other unknown `WASMHOOK_*` variable is refused (a misspelt setting).
pub const NOT_SETTINGS: &[&str] = &["WASMHOOK_CONFIG", "WASMHOOK_TOKEN", "WASMHOOK_URL"];

/// The prefix of the test suite's variables (`WASMHOOK_TEST_POSTGRES_URL`,
/// …), left alone too: a shell that runs the tests can run the engine.
const TEST_PREFIX: &str = "WASMHOOK_TEST_";

/// Whether `name` is the environment variable of a setting (or of a
/// misspelt one).
fn is_setting_var(name: &str) -> bool {
    name.starts_with(ENV_PREFIX) && !NOT_SETTINGS.contains(&name) && !name.starts_with(TEST_PREFIX)
}

/// Every setting of `wasmhook serve`. The README's configuration reference
/// documents each key (a test checks it lists them all).
///
/// Unknown keys are refused by the layering, which sets only the keys the
/// defaults have; serde's `deny_unknown_fields` cannot be used with the
/// flattened sections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address the API listens on (port 0: any free port).
    pub listen: SocketAddr,
    /// Directory of the store (`redb`) and the plugin cache.
    pub data_dir: PathBuf,
    /// Which backend keeps the engine's data: `redb` (a file in
    /// `data_dir`, `[redb]`) or `postgres` (`[postgres]`).
    pub store: Backend,
    /// The embedded store, when `store = "redb"`.
    pub redb: RedbSettings,
    /// The PostgreSQL database, when `store = "postgres"`.
    pub postgres: PostgresSettings,
    /// The bootstrap superadmin token. Never printed.
    pub admin_token: Option<Secret>,
    /// An operator's catalogue file (TOML, like the built-in one).
    pub catalog: Option<PathBuf>,
    /// Whether `catalog` extends or replaces the built-in catalogue.
    pub catalog_mode: CatalogMode,
    /// How deliveries run (`delivery_*`, `retry_schedule`,
    /// `default_timeout`: flat keys).
    #[serde(flatten)]
    pub delivery: DeliverySettings,
    /// Record events but deliver nothing (global pause).
    pub disable_webhooks: bool,
    /// Days events, delivery attempts and hook errors are kept.
    pub retention_days: u32,
    /// What plugins may be given (`plugin_*`: flat keys).
    #[serde(flatten)]
    pub plugins: PluginSettings,
    /// How log lines are written on standard error.
    pub log_format: LogFormat,
    /// How long a shutdown waits for requests and deliveries in flight.
    #[serde(with = "duration")]
    pub shutdown_grace: Duration,
    /// The address clients reach the API at, which links are built from;
    /// unset: links are relative.
    pub public_url: Option<PublicUrl>,
    /// The API's connections: timeouts and cap.
    pub http: Http,
    /// The disk-space guard.
    pub storage: Storage,
    /// Which delivery targets are allowed.
    pub targets: Targets,
    /// What one academy may store and upload at once.
    pub quotas: QuotaSettings,
    /// How fast one token may post events and write through the API.
    pub rate_limits: RateLimitSettings,
    /// Whether the web console is served at `/console` (see `console`).
    pub console: bool,
    /// The key that seals hook secrets and custom header values in the
    /// store (32 bytes in base64); unset: the data directory's key file,
    /// generated on the first start. Never printed.
    pub secret_key: Option<SecretKey>,
    /// Keys that sealed the store before `secret_key`: accepted to open
    /// its values, which are sealed again with `secret_key` at start.
    pub previous_secret_keys: Vec<SecretKey>,
    /// How long a hook's previous signing secret keeps signing beside the
    /// new one after a rotation.
    #[serde(with = "duration")]
    pub signing_secret_overlap: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./wasmhook-data"),
            store: Backend::Redb,
            redb: RedbSettings::default(),
            postgres: PostgresSettings::default(),
            admin_token: None,
            catalog: None,
            catalog_mode: CatalogMode::Extend,
            delivery: DeliverySettings::default(),
            disable_webhooks: false,
            retention_days: 30,
            plugins: PluginSettings::default(),
            log_format: LogFormat::Human,
            shutdown_grace: Duration::from_secs(10),
            public_url: None,
            http: Http::default(),
            storage: Storage::default(),
            targets: Targets::default(),
            quotas: QuotaSettings::default(),
            rate_limits: RateLimitSettings::default(),
            console: true,
            secret_key: None,
            previous_secret_keys: Vec::new(),
            signing_secret_overlap: Duration::from_secs(24 * 3600),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// A refused setting: where it came from, which key, and why. Displayed
/// on one line, e.g. `wasmhook.toml:3: delivery_concurrency: must be at least 1`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// `FILE:LINE`, `environment variable WASMHOOK_…` or `flag --…`.
    pub origin: String,
    /// The key, when the error is about one.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "{}: {}: {}", self.origin, key, self.message),
            None => write!(f, "{}: {}", self.origin, self.message),
        }
    }
}

impl Config {
    /// The configuration of defaults < `file` < `env` (the process's
    /// variables; those without the `WASMHOOK_` prefix are ignored) <
    /// `flags` (keys to JSON values).
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &Map<String, Value>,
    ) -> Result<Config, ConfigError> {
        let mut layers = Layers::new();
        if let Some(path) = file {
            layers.file(path)?;
        }
        layers.env(env)?;
        layers.flags(flags)?;
        Ok(layers.finish())
    }

    /// Every key, sections' keys as `section.key`, sorted.
    pub fn keys() -> Vec<String> {
        fn walk(prefix: &str, value: &Value, keys: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    for (key, value) in map {
                        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                        walk(&path, value, keys);
                    }
                }
                _ => keys.push(prefix.to_owned()),
            }
        }
        let mut keys = Vec::new();
        walk("", &defaults(), &mut keys);
        keys
    }

    /// The environment variable of `key`.
    pub fn env_var(key: &str) -> String {
        format!("{ENV_PREFIX}{}", key.replace('.', "_").to_ascii_uppercase())
    }

    /// How deliveries run: the delivery settings, and the target policy
    /// of the `[targets]` section.
    pub fn delivery(&self) -> DeliveryConfig {
        self.delivery.config(Arc::new(TargetPolicy::new(self.targets.clone())))
    }

    /// What the types alone do not check: each section's own checks, then
    /// those of the top-level keys.
    fn validate(&self) -> Result<(), String> {
        self.delivery.check()?;
        self.plugins.check()?;
        self.http.check()?;
        self.storage.check()?;
        self.redb.check()?;
        self.postgres.check()?;
        self.rate_limits.check()?;
        if self.admin_token.as_ref().is_some_and(|token| token.expose().is_empty()) {
            return Err("must not be empty (leave it out instead)".into());
        }
        Ok(())
    }
}

/// The defaults as a JSON tree: every key is there (unset options as
/// `null`), with a value of its type.
fn defaults() -> Value {
    serde_json::to_value(Config::default()).expect("the configuration serializes")
}

/// The configuration being built: a JSON tree of every key, valid after
/// each change.
struct Layers {
    tree: Value,
    defaults: Value,
}

impl Layers {
    fn new() -> Layers {
        let defaults = defaults();
        Layers { tree: defaults.clone(), defaults }
    }

    /// Sets `path` to `value`, or refuses it (and keeps the tree as it was).
    fn set(&mut self, path: &[&str], value: Value, source: &dyn Fn() -> String) -> Result<(), ConfigError> {
        let key = path.join(".");
        let error = |message: String| ConfigError { origin: source(), key: Some(key.clone()), message };
        let Some(slot) = lookup(&mut self.tree, path) else {
            return Err(ConfigError { origin: source(), key: None, message: format!("unknown key `{key}`") });
        };
        let previous = std::mem::replace(slot, value);
        let checked = serde_json::from_value::<Config>(self.tree.clone())
            .map_err(|e| e.to_string())
            .and_then(|config| config.validate());
        if let Err(message) = checked {
            *lookup(&mut self.tree, path).expect("the key was just found") = previous;
            return Err(error(message));
        }
        Ok(())
    }

    /// A TOML file's keys.
    fn file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: name.clone(),
            key: None,
            message: e.to_string(),
        })?;
        let syntax = |e: toml::de::Error| {
            let source = match e.span() {
                Some(span) => format!("{name}:{}", line_of(&text, span.start)),
                None => name.clone(),
            };
            ConfigError { origin: source, key: None, message: e.message().to_owned() }
        };
        // The values, and where each key is written.
        let table: toml::Table = toml::from_str(&text).map_err(syntax)?;
        let spans = toml::de::DeTable::parse(&text).map_err(syntax)?;
        let mut lines = BTreeMap::new();
        key_lines(&text, "", spans.get_ref(), &mut lines);
        let values = serde_json::to_value(table).map_err(|e| ConfigError {
            origin: name.clone(),
            key: None,
            message: e.to_string(),
        })?;

        let mut leaves = Vec::new();
        self.leaves(&mut Vec::new(), values, &mut leaves);
        // In the order they are written, so the first error is the first line.
        leaves.sort_by_key(|(path, _)| lines.get(&path.join(".")).copied().unwrap_or(0));
        for (path, value) in leaves {
            let line = lines.get(&path.join(".")).copied();
            let source = || match line {
                Some(line) => format!("{name}:{line}"),
                None => name.clone(),
            };
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            self.set(&path, value, &source)?;
        }
        Ok(())
    }

    /// The keys set by `value` at `prefix`: a table is descended into where
    /// the defaults have a section.
    fn leaves(&self, prefix: &mut Vec<String>, value: Value, out: &mut Vec<(Vec<String>, Value)>) {
        let section = {
            let path: Vec<&str> = prefix.iter().map(String::as_str).collect();
            path.is_empty() || matches!(lookup_ref(&self.defaults, &path), Some(Value::Object(_)))
        };
        match value {
            Value::Object(map) if section => {
                for (key, value) in map {
                    prefix.push(key);
                    self.leaves(prefix, value, out);
                    prefix.pop();
                }
            }
            value => out.push((prefix.clone(), value)),
        }
    }

    /// `WASMHOOK_*` variables, in name order. An empty one counts as unset.
    fn env(&mut self, env: impl IntoIterator<Item = (String, String)>) -> Result<(), ConfigError> {
        let by_var: BTreeMap<String, String> =
            Config::keys().into_iter().map(|key| (Config::env_var(&key), key)).collect();
        let mut vars: Vec<(String, String)> = env.into_iter().filter(|(name, _)| is_setting_var(name)).collect();
        vars.sort();
        for (name, raw) in vars {
            let source = || format!("environment variable {name}");
            let Some(key) = by_var.get(&name) else {
                return Err(ConfigError { origin: source(), key: None, message: "not a setting".into() });
            };
            if raw.is_empty() {
                continue;
            }
            let path: Vec<&str> = key.split('.').collect();
            let kind = lookup_ref(&self.defaults, &path).expect("every key has a default");
            self.set(&path, from_text(kind, &raw), &source)?;
        }
        Ok(())
    }

    /// Flags: keys to values (already typed by the command line).
    fn flags(&mut self, flags: &Map<String, Value>) -> Result<(), ConfigError> {
        for (key, value) in flags {
            if value.is_null() {
                continue;
            }
            let source = || format!("flag --{}", key.replace(['_', '.'], "-"));
            let path: Vec<&str> = key.split('.').collect();
            self.set(&path, value.clone(), &source)?;
        }
        Ok(())
    }

    fn finish(self) -> Config {
        serde_json::from_value(self.tree).expect("the tree was checked after each change")
    }
}

/// An environment variable's text as a value of the type of `default`:
/// numbers and booleans are parsed, lists are comma-separated.
fn from_text(default: &Value, text: &str) -> Value {
    match default {
        Value::Bool(_) => match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Value::Bool(true),
            "false" | "0" | "no" | "off" => Value::Bool(false),
            _ => Value::String(text.to_owned()),
        },
        Value::Number(_) => text
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| text.parse::<u64>().map(Value::from))
            .unwrap_or_else(|_| Value::String(text.to_owned())),
        Value::Array(_) => {
            Value::Array(text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(Value::from).collect())
        }
        _ => Value::String(text.to_owned()),
    }
}

fn lookup<'a>(tree: &'a mut Value, path: &[&str]) -> Option<&'a mut Value> {
    path.iter().try_fold(tree, |node, key| node.as_object_mut()?.get_mut(*key))
}

fn lookup_ref<'a>(tree: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(tree, |node, key| node.as_object()?.get(*key))
}

/// The line of each key of a parsed TOML document, by dotted path.
fn key_lines(text: &str, prefix: &str, table: &toml::de::DeTable<'_>, lines: &mut BTreeMap<String, usize>) {
    for (key, value) in table {
        let path = if prefix.is_empty() { key.get_ref().to_string() } else { format!("{prefix}.{}", key.get_ref()) };
        lines.insert(path.clone(), line_of(text, key.span().start));
        if let Some(inner) = value.get_ref().as_table() {
            key_lines(text, &path, inner, lines);
        }
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use ipnet::IpNet;

    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wasmhook.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn the_defaults_are_valid_and_round_trip() {
        let config = Config::load(None, Vec::new(), &Map::new()).unwrap();
        assert_eq!(config, Config::default());
        let text = toml::to_string(&Config::default()).unwrap();
        assert_eq!(toml::from_str::<Config>(&text).unwrap(), Config::default(), "{text}");
        assert!(text.contains("retry_schedule = [\"1m\", \"5m\", \"15m\", \"1h\"]"), "{text}");
    }

    #[test]
    fn keys_and_variables() {
        let keys = Config::keys();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
        assert!(keys.contains(&"admin_token".to_owned()) && keys.contains(&"catalog".to_owned()), "{keys:?}");
        assert!(keys.contains(&"targets.allowed_networks".to_owned()), "{keys:?}");
        assert!(!keys.contains(&"targets".to_owned()));
        assert_eq!(Config::env_var("targets.require_https"), "WASMHOOK_TARGETS_REQUIRE_HTTPS");
        assert_eq!(Config::env_var("delivery_concurrency"), "WASMHOOK_DELIVERY_CONCURRENCY");
        let vars: std::collections::BTreeSet<String> = keys.iter().map(|key| Config::env_var(key)).collect();
        assert_eq!(vars.len(), keys.len(), "one variable per key");
        assert!(vars.iter().all(|var| is_setting_var(var)), "{vars:?}");
    }

    #[test]
    fn layers_override_in_order() {
        let (_dir, path) = file(
            "delivery_concurrency = 8\nretention_days = 7\nretry_schedule = [\"1s\", \"2s\"]\n\n[targets]\nallowed_networks = [\"10.0.0.0/8\"]\n",
        );
        let vars = env(&[
            ("WASMHOOK_RETENTION_DAYS", "9"),
            ("WASMHOOK_LOG_FORMAT", "json"),
            ("WASMHOOK_TARGETS_DENIED_NETWORKS", "192.168.0.0/16, fd00::/8"),
            ("WASMHOOK_TARGETS_REQUIRE_HTTPS", "yes"),
            ("WASMHOOK_HTTP_HEADER_TIMEOUT", "5s"),
            ("WASMHOOK_HTTP_MAX_CONNECTIONS", "100"),
            ("WASMHOOK_PUBLIC_URL", "https://hooks.example.com/"),
            ("WASMHOOK_ADMIN_TOKEN", "s3cret"),
            ("WASMHOOK_TOKEN", "the plugin client's"),
            ("WASMHOOK_TEST_POSTGRES_URL", "the test suite's"),
            ("WASMHOOK_CATALOG", ""),
            ("HOME", "/root"),
        ]);
        let mut flags = Map::new();
        flags.insert("retention_days".into(), Value::from(11));
        flags.insert("retry_schedule".into(), Value::from("5ms,1h"));
        let config = Config::load(Some(&path), vars, &flags).unwrap();
        assert_eq!(config.delivery.concurrency, 8, "file");
        assert_eq!(config.retention_days, 11, "flag over env over file");
        assert_eq!(config.delivery.retry_schedule, [Duration::from_millis(5), Duration::from_secs(3600)]);
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.targets.allowed_networks, ["10.0.0.0/8".parse::<IpNet>().unwrap()]);
        assert_eq!(config.targets.denied_networks.len(), 2);
        assert!(config.targets.require_https);
        assert_eq!((config.http.header_timeout, config.http.max_connections), (Duration::from_secs(5), 100));
        assert_eq!(config.http.keepalive_timeout, Duration::from_secs(75), "the default");
        assert_eq!(config.public_url.as_ref().map(PublicUrl::as_str), Some("https://hooks.example.com"));
        assert_eq!(config.admin_token.as_ref().map(Secret::expose), Some("s3cret"));
        assert_eq!(config.catalog, None, "an empty variable is unset");
        assert!(!format!("{config:?}").contains("s3cret"));
        assert!(!serde_json::to_string(&config).unwrap().contains("s3cret"));
    }

    #[test]
    fn errors_name_the_key_and_where_it_came_from() {
        let load = |text: &str| {
            let (_dir, path) = file(text);
            let error = Config::load(Some(&path), Vec::new(), &Map::new()).unwrap_err();
            error.to_string().replace(&path.display().to_string(), "F")
        };
        assert_eq!(load("listen = \"127.0.0.1:1\"\nbogus = 1\n"), "F:2: unknown key `bogus`");
        assert_eq!(load("[targets]\nallowed = []\n"), "F:2: unknown key `targets.allowed`");
        assert_eq!(load("[nope]\nx = 1\n"), "F:1: unknown key `nope`");
        assert_eq!(
            load("delivery_concurrency = \"many\"\n"),
            "F:1: delivery_concurrency: invalid type: string \"many\", expected usize"
        );
        assert_eq!(load("\n\ndelivery_concurrency = 0\n"), "F:3: delivery_concurrency: must be at least 1");
        assert_eq!(
            load("[targets]\nrequire_https = true\ndenied_networks = [\n  \"10.0.0.0/8\",\n  \"10.0.0.0/33\",\n]\n"),
            "F:3: targets.denied_networks: invalid IP address syntax"
        );
        assert_eq!(load("targets = 3\n"), "F:1: targets: invalid type: integer `3`, expected struct Targets");
        assert!(load("shutdown_grace = \"soon\"\n").starts_with("F:1: shutdown_grace: \"soon\" is not a duration"));
        assert_eq!(load("[http]\nbody_timeout = \"0s\"\n"), "F:2: http.body_timeout: must be longer than 0 ms");
        assert_eq!(load("[http]\nmax_connections = 0\n"), "F:2: http.max_connections: must be at least 1");
        assert_eq!(
            load("public_url = \"https://hooks.example.com/?a=1\"\n"),
            "F:1: public_url: \"https://hooks.example.com/?a=1\" must not have a query or a fragment"
        );
        assert_eq!(load("\nlisten = [\n"), "F:2: unclosed array, expected `]`");

        let env_error = |vars: &[(&str, &str)]| Config::load(None, env(vars), &Map::new()).unwrap_err().to_string();
        assert_eq!(env_error(&[("WASMHOOK_BOGUS", "1")]), "environment variable WASMHOOK_BOGUS: not a setting");
        assert_eq!(
            env_error(&[("WASMHOOK_RETENTION_DAYS", "-1")]),
            "environment variable WASMHOOK_RETENTION_DAYS: retention_days: invalid value: integer `-1`, expected u32"
        );
        assert_eq!(
            env_error(&[("WASMHOOK_LOG_FORMAT", "xml")]),
            "environment variable WASMHOOK_LOG_FORMAT: log_format: unknown variant `xml`, expected `human` or `json`"
        );
        assert!(
            env_error(&[("WASMHOOK_DISABLE_WEBHOOKS", "maybe")])
                .starts_with("environment variable WASMHOOK_DISABLE_WEBHOOKS: disable_webhooks: invalid type")
        );
        let mut flags = Map::new();
        flags.insert("retry_schedule".into(), Value::from("1m,soon"));
        let error = Config::load(None, Vec::new(), &flags).unwrap_err().to_string();
        assert!(error.starts_with("flag --retry-schedule: retry_schedule: \"soon\" is not a duration"), "{error}");
    }
}
