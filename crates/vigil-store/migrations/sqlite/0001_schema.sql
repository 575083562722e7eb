-- vigil store schema, version 1 (SQLite). See ../../SCHEMA.md for the meaning of each table.
-- Times are INTEGER unix milliseconds, UTC. JSON columns hold compact JSON text.

CREATE TABLE hosts (
    id              INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE,
    os_name         TEXT,
    os_version      TEXT,
    arch            TEXT,
    agent_version   TEXT,
    labels          TEXT    NOT NULL DEFAULT '{}',
    first_seen      INTEGER NOT NULL,
    last_seen       INTEGER NOT NULL,
    last_sequence   INTEGER
);

CREATE TABLE containers (
    id              INTEGER PRIMARY KEY,
    host_id         INTEGER NOT NULL REFERENCES hosts(id),
    container_id    TEXT    NOT NULL,
    name            TEXT,
    image           TEXT,
    image_digest    TEXT,
    runtime         TEXT,
    k8s_namespace   TEXT,
    k8s_pod         TEXT,
    k8s_workload    TEXT,
    k8s_workload_kind TEXT,
    labels          TEXT    NOT NULL DEFAULT '{}',
    first_seen      INTEGER NOT NULL,
    -- Meaningful only once gone: while present, a row was last seen when its host last reported.
    last_seen       INTEGER NOT NULL,
    gone_at         INTEGER,
    UNIQUE (host_id, container_id)
);

CREATE TABLE processes (
    id              INTEGER PRIMARY KEY,
    host_id         INTEGER NOT NULL REFERENCES hosts(id),
    pid             INTEGER NOT NULL,
    start_time      INTEGER NOT NULL,
    exe             TEXT,
    cmdline         TEXT,
    user            TEXT,
    container_ref   INTEGER REFERENCES containers(id),
    listening       TEXT    NOT NULL DEFAULT '[]',
    first_seen      INTEGER NOT NULL,
    last_seen       INTEGER NOT NULL,
    gone_at         INTEGER,
    UNIQUE (host_id, pid, start_time)
);

CREATE TABLE components (
    id              INTEGER PRIMARY KEY,
    ecosystem       TEXT    NOT NULL,
    -- The base ecosystem (`Debian` for `Debian:12`): advisories may name either.
    ecosystem_kind  TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    name_key        TEXT    NOT NULL,
    version         TEXT    NOT NULL,
    purl            TEXT    NOT NULL,
    UNIQUE (ecosystem, name_key, version)
);
CREATE INDEX components_by_key ON components (ecosystem_kind, name_key);

CREATE TABLE component_instances (
    id              INTEGER PRIMARY KEY,
    component_id    INTEGER NOT NULL REFERENCES components(id),
    host_id         INTEGER NOT NULL REFERENCES hosts(id),
    container_ref   INTEGER REFERENCES containers(id),
    path            TEXT    NOT NULL,
    evidence        TEXT    NOT NULL CHECK (evidence IN ('DECLARED', 'INSTALLED', 'LOADED')),
    dev             INTEGER NOT NULL CHECK (dev IN (0, 1)),
    pids            TEXT    NOT NULL DEFAULT '[]',
    first_seen      INTEGER NOT NULL,
    -- Meaningful only once gone (see containers.last_seen).
    last_seen       INTEGER NOT NULL,
    gone_at         INTEGER
);
-- One row per (host, container, component, path); NULL container = the host itself.
CREATE UNIQUE INDEX component_instances_identity
    ON component_instances (host_id, ifnull(container_ref, 0), component_id, path);
CREATE INDEX component_instances_by_component ON component_instances (component_id);
CREATE INDEX component_instances_present ON component_instances (host_id) WHERE gone_at IS NULL;
CREATE INDEX component_instances_gone ON component_instances (gone_at) WHERE gone_at IS NOT NULL;

-- Exposure history: one row per continuous presence of an instance. Kept forever.
CREATE TABLE exposure_windows (
    id              INTEGER PRIMARY KEY,
    instance_id     INTEGER NOT NULL REFERENCES component_instances(id),
    from_ts         INTEGER NOT NULL,
    to_ts           INTEGER
);
CREATE INDEX exposure_windows_by_instance ON exposure_windows (instance_id, from_ts);

CREATE TRIGGER exposure_windows_keep BEFORE DELETE ON exposure_windows
BEGIN
    SELECT RAISE(ABORT, 'exposure_windows is history: rows are never deleted');
END;

CREATE TABLE ingest_log (
    host_id         INTEGER NOT NULL REFERENCES hosts(id),
    sequence        INTEGER NOT NULL,
    full_snapshot   INTEGER NOT NULL CHECK (full_snapshot IN (0, 1)),
    applied_at      INTEGER NOT NULL,
    PRIMARY KEY (host_id, sequence)
) WITHOUT ROWID;

CREATE TABLE advisories (
    id              TEXT    PRIMARY KEY,
    kind            TEXT    NOT NULL CHECK (kind IN ('MALICIOUS', 'VULNERABILITY')),
    summary         TEXT,
    aliases         TEXT    NOT NULL DEFAULT '[]',
    cwes            TEXT    NOT NULL DEFAULT '[]',
    severity        TEXT,
    published       INTEGER,
    modified        INTEGER,
    withdrawn       INTEGER,
    source          TEXT    NOT NULL,
    record          TEXT    NOT NULL,
    imported_at     INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- One row per affected package of an advisory, for lookups by (ecosystem, name key).
CREATE TABLE advisory_packages (
    advisory_id     TEXT    NOT NULL REFERENCES advisories(id) ON DELETE CASCADE,
    ordinal         INTEGER NOT NULL,
    ecosystem       TEXT    NOT NULL,
    ecosystem_kind  TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    name_key        TEXT    NOT NULL,
    versions        TEXT    NOT NULL DEFAULT '[]',
    PRIMARY KEY (advisory_id, ordinal)
) WITHOUT ROWID;
CREATE INDEX advisory_packages_by_key ON advisory_packages (ecosystem_kind, name_key);

CREATE TABLE blobs (
    key             TEXT    PRIMARY KEY,
    bytes           BLOB    NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE findings (
    id              INTEGER PRIMARY KEY,
    advisory_id     TEXT    NOT NULL,
    aliases         TEXT    NOT NULL DEFAULT '[]',
    component_id    INTEGER NOT NULL REFERENCES components(id),
    entity_type     TEXT    NOT NULL CHECK (entity_type IN ('host', 'container')),
    -- hosts.id when entity_type = 'host', containers.id when 'container'.
    entity_id       INTEGER NOT NULL,
    host_id         INTEGER NOT NULL REFERENCES hosts(id),
    container_ref   INTEGER REFERENCES containers(id),
    status          TEXT    NOT NULL CHECK (status IN ('NEW', 'ACKNOWLEDGED', 'RESOLVED', 'MUTED')),
    mute_reason     TEXT,
    risk_score      REAL    NOT NULL,
    risk_level      TEXT    NOT NULL,
    evidence        TEXT    NOT NULL CHECK (evidence IN ('DECLARED', 'INSTALLED', 'LOADED')),
    locations       TEXT    NOT NULL DEFAULT '[]',
    pids            TEXT    NOT NULL DEFAULT '[]',
    owner_team      TEXT,
    detected_at     INTEGER NOT NULL,
    acknowledged_at INTEGER,
    resolved_at     INTEGER,
    updated_at      INTEGER NOT NULL,
    CHECK ((entity_type = 'host' AND entity_id = host_id AND container_ref IS NULL)
        OR (entity_type = 'container' AND entity_id = container_ref)),
    UNIQUE (advisory_id, component_id, entity_type, entity_id)
);
CREATE INDEX findings_by_status ON findings (status);
CREATE INDEX findings_by_component ON findings (component_id);
CREATE INDEX findings_by_host ON findings (host_id);

CREATE TABLE security_events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT    NOT NULL UNIQUE,
    timestamp       INTEGER NOT NULL,
    event_type      TEXT    NOT NULL,
    finding_id      INTEGER REFERENCES findings(id),
    payload         TEXT    NOT NULL CHECK (json_valid(payload) AND json_type(payload) = 'object')
);
CREATE INDEX security_events_by_finding ON security_events (finding_id);
CREATE INDEX security_events_by_time ON security_events (timestamp);

CREATE TRIGGER security_events_no_update BEFORE UPDATE ON security_events
BEGIN
    SELECT RAISE(ABORT, 'security_events is append-only');
END;
CREATE TRIGGER security_events_no_delete BEFORE DELETE ON security_events
BEGIN
    SELECT RAISE(ABORT, 'security_events is append-only');
END;

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    finding_id      INTEGER REFERENCES findings(id),
    event_seq       INTEGER REFERENCES security_events(seq),
    workflow        TEXT    NOT NULL,
    task            TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL UNIQUE,
    payload         TEXT    NOT NULL DEFAULT '{}',
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'in_flight', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    lease_owner     TEXT,
    lease_expires_at INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    delivered_at    INTEGER
);
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_in_flight ON outbox (lease_expires_at) WHERE status = 'in_flight';

CREATE TABLE api_tokens (
    id              INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL,
    scopes          TEXT    NOT NULL DEFAULT '[]',
    -- SHA-256 of the secret, lower-case hex. The secret itself is never stored.
    secret_sha256   TEXT    NOT NULL UNIQUE,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER,
    revoked_at      INTEGER
);
