-- Wasmhook's PostgreSQL schema, version 1: every table of the redb backend
-- (see store/redb/tables.rs), laid out as Svix and Hook0 lay theirs out.
-- Keys and the columns queries filter, order or join on are columns; the
-- records the engine only reads back whole (a hook's sealed settings, an
-- event's idempotency record, a catalogue entry, a plugin's limits) are
-- jsonb. Identifiers compared or ordered by the engine use the "C"
-- collation, so they sort by bytes as redb's keys do, whatever the
-- database's locale. Times are whole seconds (the engine's `Time`); the
-- queue's due time is in milliseconds, as the dispatcher counts it.

-- Components (plugin versions and hook transformers), stored once per
-- sha256; deleted when no plugin version and no hook uses them.
CREATE TABLE components (
    sha256 text COLLATE "C" PRIMARY KEY,
    bytes bytea NOT NULL,
    size bigint NOT NULL CHECK (size >= 0)
);

-- Hooks. `record` is the model's `Hook` with every confidential value
-- sealed with the keyring (store/sealing.rs), as redb stores it. The id is
-- taken from hooks_id_seq before sealing (the seal is bound to it).
CREATE TABLE hooks (
    id bigserial PRIMARY KEY,
    academy text COLLATE "C",
    transformer_sha256 text COLLATE "C" REFERENCES components (sha256),
    record jsonb NOT NULL
);
CREATE INDEX hooks_by_academy ON hooks (academy, id);
CREATE INDEX hooks_by_transformer ON hooks (transformer_sha256) WHERE transformer_sha256 IS NOT NULL;

CREATE TABLE hook_stats (
    hook_id bigint PRIMARY KEY REFERENCES hooks (id) ON DELETE CASCADE,
    total_calls bigint NOT NULL,
    successes bigint NOT NULL,
    consecutive_failures integer NOT NULL,
    last_call_at timestamptz,
    last_response_code integer
);

-- API tokens, by the sha256 of the token: the token itself is never stored.
CREATE TABLE tokens (
    id bigserial PRIMARY KEY,
    sha256 bytea NOT NULL UNIQUE CHECK (octet_length(sha256) = 32),
    name text NOT NULL,
    role jsonb NOT NULL,
    created_at timestamptz NOT NULL
);

-- Catalogue events added or changed at run time.
CREATE TABLE catalog_events (
    name text COLLATE "C" PRIMARY KEY,
    spec jsonb NOT NULL
);

-- Uploaded plugin versions: immutable, at most one active per name.
CREATE TABLE plugin_versions (
    name text COLLATE "C" NOT NULL,
    version integer NOT NULL CHECK (version > 0),
    sha256 text COLLATE "C" NOT NULL REFERENCES components (sha256),
    size bigint NOT NULL,
    uploaded_at timestamptz NOT NULL,
    active boolean NOT NULL DEFAULT false,
    PRIMARY KEY (name, version)
);
CREATE UNIQUE INDEX plugin_versions_one_active ON plugin_versions (name) WHERE active;
CREATE INDEX plugin_versions_by_component ON plugin_versions (sha256);

CREATE TABLE plugin_limits (
    name text COLLATE "C" PRIMARY KEY,
    limits jsonb NOT NULL
);

-- Payloads: each body stored once, whatever number of jobs, attempts and
-- hook samples refer to it; deleted with the last of them (NOT EXISTS over
-- the referencing columns, each indexed: no reference count to keep).
CREATE TABLE payloads (
    id uuid PRIMARY KEY,
    body text NOT NULL
);

-- The last body delivered to each hook.
CREATE TABLE hook_samples (
    hook_id bigint PRIMARY KEY REFERENCES hooks (id) ON DELETE CASCADE,
    payload_id uuid NOT NULL REFERENCES payloads (id)
);
CREATE INDEX hook_samples_by_payload ON hook_samples (payload_id);

-- Ingested events: the idempotency record, unique per (academy, client
-- event id).
CREATE TABLE events (
    academy text COLLATE "C" NOT NULL,
    event_id text COLLATE "C" NOT NULL,
    received_at timestamptz NOT NULL,
    record jsonb NOT NULL,
    PRIMARY KEY (academy, event_id)
);
CREATE INDEX events_by_received_at ON events (received_at);

-- The delivery queue: one row per delivery waiting for its next attempt.
-- A job's hook may be gone (its job is then dropped), so no foreign key.
-- `claimed_by` and `claimed_until` are the lease of the node attempting it
-- (issue 12, step 2): unused until then.
CREATE TABLE jobs (
    id bigserial PRIMARY KEY,
    hook_id bigint NOT NULL,
    due_ms bigint NOT NULL,
    event_id text NOT NULL,
    event text NOT NULL,
    webhook_id text NOT NULL,
    payload_id uuid NOT NULL REFERENCES payloads (id),
    attempts integer NOT NULL CHECK (attempts >= 0),
    claimed_by text,
    claimed_until timestamptz,
    CHECK ((claimed_by IS NULL) = (claimed_until IS NULL))
);
CREATE INDEX jobs_by_due ON jobs (due_ms, id);
CREATE INDEX jobs_by_hook ON jobs (hook_id, due_ms, id);
CREATE INDEX jobs_by_payload ON jobs (payload_id);

-- Delivery attempts, each hook's log. Kept after its hook is deleted,
-- until pruned.
CREATE TABLE attempts (
    id bigserial PRIMARY KEY,
    delivery_id bigint NOT NULL,
    hook_id bigint NOT NULL,
    event_id text NOT NULL,
    event text NOT NULL,
    webhook_id text NOT NULL,
    attempt integer NOT NULL,
    scheduled_at timestamptz NOT NULL,
    sent_at timestamptz NOT NULL,
    request_headers jsonb NOT NULL,
    payload_id uuid NOT NULL REFERENCES payloads (id),
    transformed_id uuid REFERENCES payloads (id),
    response_status integer,
    response_body text,
    duration_ms bigint NOT NULL,
    error text,
    outcome text NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'cancelled')),
    next_attempt_at timestamptz
);
CREATE INDEX attempts_by_hook ON attempts (hook_id, id DESC);
CREATE INDEX attempts_by_sent_at ON attempts (sent_at);
CREATE INDEX attempts_by_payload ON attempts (payload_id);
CREATE INDEX attempts_by_transformed ON attempts (transformed_id) WHERE transformed_id IS NOT NULL;

-- Failures shown to integrators.
CREATE TABLE hook_errors (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL,
    message text NOT NULL,
    event text NOT NULL,
    event_id text,
    hook_id bigint,
    academy text COLLATE "C"
);
CREATE INDEX hook_errors_by_at ON hook_errors (at, id);

-- Events whose serializer failed, kept under the plugin's name to be
-- ingested again once it is fixed; at most a cap per plugin.
CREATE TABLE parked_events (
    plugin text COLLATE "C" NOT NULL,
    academy text COLLATE "C" NOT NULL,
    event_id text COLLATE "C" NOT NULL,
    event text NOT NULL,
    data text NOT NULL,
    error text NOT NULL,
    parked_at timestamptz NOT NULL,
    failures integer NOT NULL CHECK (failures > 0),
    PRIMARY KEY (plugin, academy, event_id)
);
