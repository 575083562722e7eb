-- vigil store schema, version 1 (PostgreSQL). The same tables, columns and meaning as the SQLite
-- schema (../sqlite/0001_schema.sql); see ../../SCHEMA.md. Differences are in types only:
-- BIGINT times (unix milliseconds, UTC), BOOLEAN flags, JSONB for JSON columns (except the OSV
-- record, kept as the exact text written), BYTEA blobs, BIGSERIAL row ids. Text columns use the
-- "C" collation so ordering and comparison are by bytes, as on SQLite, whatever the database's
-- default collation.

CREATE TABLE hosts (
    id              BIGSERIAL PRIMARY KEY,
    name            TEXT COLLATE "C" NOT NULL UNIQUE,
    os_name         TEXT COLLATE "C",
    os_version      TEXT COLLATE "C",
    arch            TEXT COLLATE "C",
    agent_version   TEXT COLLATE "C",
    labels          JSONB   NOT NULL DEFAULT '{}',
    first_seen      BIGINT  NOT NULL,
    last_seen       BIGINT  NOT NULL,
    last_sequence   BIGINT
);

CREATE TABLE containers (
    id              BIGSERIAL PRIMARY KEY,
    host_id         BIGINT  NOT NULL REFERENCES hosts(id),
    container_id    TEXT COLLATE "C" NOT NULL,
    name            TEXT COLLATE "C",
    image           TEXT COLLATE "C",
    image_digest    TEXT COLLATE "C",
    runtime         TEXT COLLATE "C",
    k8s_namespace   TEXT COLLATE "C",
    k8s_pod         TEXT COLLATE "C",
    k8s_workload    TEXT COLLATE "C",
    k8s_workload_kind TEXT COLLATE "C",
    labels          JSONB   NOT NULL DEFAULT '{}',
    first_seen      BIGINT  NOT NULL,
    -- Meaningful only once gone: while present, a row was last seen when its host last reported.
    last_seen       BIGINT  NOT NULL,
    gone_at         BIGINT,
    UNIQUE (host_id, container_id)
);

CREATE TABLE processes (
    id              BIGSERIAL PRIMARY KEY,
    host_id         BIGINT  NOT NULL REFERENCES hosts(id),
    pid             BIGINT  NOT NULL,
    start_time      BIGINT  NOT NULL,
    exe             TEXT COLLATE "C",
    cmdline         TEXT COLLATE "C",
    "user"          TEXT COLLATE "C",
    container_ref   BIGINT  REFERENCES containers(id),
    listening       JSONB   NOT NULL DEFAULT '[]',
    first_seen      BIGINT  NOT NULL,
    last_seen       BIGINT  NOT NULL,
    gone_at         BIGINT,
    UNIQUE (host_id, pid, start_time)
);

CREATE TABLE components (
    id              BIGSERIAL PRIMARY KEY,
    ecosystem       TEXT COLLATE "C" NOT NULL,
    -- The base ecosystem (`Debian` for `Debian:12`): advisories may name either.
    ecosystem_kind  TEXT COLLATE "C" NOT NULL,
    name            TEXT COLLATE "C" NOT NULL,
    name_key        TEXT COLLATE "C" NOT NULL,
    version         TEXT COLLATE "C" NOT NULL,
    purl            TEXT COLLATE "C" NOT NULL,
    UNIQUE (ecosystem, name_key, version)
);
CREATE INDEX components_by_key ON components (ecosystem_kind, name_key);

CREATE TABLE component_instances (
    id              BIGSERIAL PRIMARY KEY,
    component_id    BIGINT  NOT NULL REFERENCES components(id),
    host_id         BIGINT  NOT NULL REFERENCES hosts(id),
    container_ref   BIGINT  REFERENCES containers(id),
    path            TEXT COLLATE "C" NOT NULL,
    evidence        TEXT COLLATE "C" NOT NULL CHECK (evidence IN ('DECLARED', 'INSTALLED', 'LOADED')),
    dev             BOOLEAN NOT NULL,
    pids            JSONB   NOT NULL DEFAULT '[]',
    first_seen      BIGINT  NOT NULL,
    -- Meaningful only once gone (see containers.last_seen).
    last_seen       BIGINT  NOT NULL,
    gone_at         BIGINT
-- Room on each page for the new version of an updated row (evidence, pids), so updates stay
-- heap-only and leave the indexes alone.
) WITH (fillfactor = 85);
-- One row per (host, container, component, path); NULL container = the host itself. The path
-- enters the index by its MD5 so that paths longer than a B-tree entry (about 2.7 kB) still
-- store; rows are never looked up through this index by path. Component before container:
-- a snapshot looks up a host's instances of a set of components in one probe per component.
CREATE UNIQUE INDEX component_instances_identity
    ON component_instances (host_id, component_id, coalesce(container_ref, 0), md5(path));
CREATE INDEX component_instances_by_component ON component_instances (component_id);
CREATE INDEX component_instances_present ON component_instances (host_id) WHERE gone_at IS NULL;
CREATE INDEX component_instances_gone ON component_instances (gone_at) WHERE gone_at IS NOT NULL;

-- Exposure history: one row per continuous presence of an instance. Kept forever.
CREATE TABLE exposure_windows (
    id              BIGSERIAL PRIMARY KEY,
    instance_id     BIGINT  NOT NULL REFERENCES component_instances(id),
    from_ts         BIGINT  NOT NULL,
    to_ts           BIGINT
);
CREATE INDEX exposure_windows_by_instance ON exposure_windows (instance_id, from_ts);

CREATE FUNCTION vigil_exposure_windows_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'exposure_windows is history: rows are never deleted';
END
$$;
CREATE TRIGGER exposure_windows_keep BEFORE DELETE ON exposure_windows
    FOR EACH ROW EXECUTE FUNCTION vigil_exposure_windows_keep();
CREATE TRIGGER exposure_windows_keep_all BEFORE TRUNCATE ON exposure_windows
    FOR EACH STATEMENT EXECUTE FUNCTION vigil_exposure_windows_keep();

CREATE TABLE ingest_log (
    host_id         BIGINT  NOT NULL REFERENCES hosts(id),
    sequence        BIGINT  NOT NULL,
    full_snapshot   BOOLEAN NOT NULL,
    applied_at      BIGINT  NOT NULL,
    PRIMARY KEY (host_id, sequence)
);

CREATE TABLE advisories (
    id              TEXT COLLATE "C" PRIMARY KEY,
    kind            TEXT COLLATE "C" NOT NULL CHECK (kind IN ('MALICIOUS', 'VULNERABILITY')),
    summary         TEXT COLLATE "C",
    aliases         JSONB   NOT NULL DEFAULT '[]',
    cwes            JSONB   NOT NULL DEFAULT '[]',
    severity        TEXT COLLATE "C",
    published       BIGINT,
    modified        BIGINT,
    withdrawn       BIGINT,
    source          TEXT COLLATE "C" NOT NULL,
    -- The OSV JSON exactly as written (compared as text to tell whether a re-import changed it).
    record          TEXT    NOT NULL,
    imported_at     BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);

-- One row per affected package of an advisory, for lookups by (ecosystem, name key).
CREATE TABLE advisory_packages (
    advisory_id     TEXT COLLATE "C" NOT NULL REFERENCES advisories(id) ON DELETE CASCADE,
    ordinal         BIGINT  NOT NULL,
    ecosystem       TEXT COLLATE "C" NOT NULL,
    ecosystem_kind  TEXT COLLATE "C" NOT NULL,
    name            TEXT COLLATE "C" NOT NULL,
    name_key        TEXT COLLATE "C" NOT NULL,
    versions        JSONB   NOT NULL DEFAULT '[]',
    PRIMARY KEY (advisory_id, ordinal)
);
CREATE INDEX advisory_packages_by_key ON advisory_packages (ecosystem_kind, name_key);

CREATE TABLE blobs (
    key             TEXT COLLATE "C" PRIMARY KEY,
    bytes           BYTEA   NOT NULL,
    updated_at      BIGINT  NOT NULL
);

CREATE TABLE findings (
    id              BIGSERIAL PRIMARY KEY,
    advisory_id     TEXT COLLATE "C" NOT NULL,
    aliases         JSONB   NOT NULL DEFAULT '[]',
    component_id    BIGINT  NOT NULL REFERENCES components(id),
    entity_type     TEXT COLLATE "C" NOT NULL CHECK (entity_type IN ('host', 'container')),
    -- hosts.id when entity_type = 'host', containers.id when 'container'.
    entity_id       BIGINT  NOT NULL,
    host_id         BIGINT  NOT NULL REFERENCES hosts(id),
    container_ref   BIGINT  REFERENCES containers(id),
    status          TEXT COLLATE "C" NOT NULL CHECK (status IN ('NEW', 'ACKNOWLEDGED', 'RESOLVED', 'MUTED')),
    mute_reason     TEXT COLLATE "C",
    risk_score      DOUBLE PRECISION NOT NULL,
    risk_level      TEXT COLLATE "C" NOT NULL,
    evidence        TEXT COLLATE "C" NOT NULL CHECK (evidence IN ('DECLARED', 'INSTALLED', 'LOADED')),
    locations       JSONB   NOT NULL DEFAULT '[]',
    pids            JSONB   NOT NULL DEFAULT '[]',
    owner_team      TEXT COLLATE "C",
    detected_at     BIGINT  NOT NULL,
    acknowledged_at BIGINT,
    resolved_at     BIGINT,
    updated_at      BIGINT  NOT NULL,
    CHECK ((entity_type = 'host' AND entity_id = host_id AND container_ref IS NULL)
        OR (entity_type = 'container' AND entity_id = container_ref)),
    UNIQUE (advisory_id, component_id, entity_type, entity_id)
);
CREATE INDEX findings_by_status ON findings (status);
CREATE INDEX findings_by_component ON findings (component_id);
CREATE INDEX findings_by_host ON findings (host_id);

-- `seq` is assigned under a transaction-level advisory lock taken by every append and held
-- until commit (see src/postgres/events.rs), so sequence order is commit order.
CREATE TABLE security_events (
    seq             BIGSERIAL PRIMARY KEY,
    event_id        TEXT COLLATE "C" NOT NULL UNIQUE,
    "timestamp"     BIGINT  NOT NULL,
    event_type      TEXT COLLATE "C" NOT NULL,
    finding_id      BIGINT  REFERENCES findings(id),
    payload         JSONB   NOT NULL CHECK (jsonb_typeof(payload) = 'object')
);
CREATE INDEX security_events_by_finding ON security_events (finding_id);
CREATE INDEX security_events_by_time ON security_events ("timestamp");

CREATE FUNCTION vigil_security_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'security_events is append-only';
END
$$;
CREATE TRIGGER security_events_no_update BEFORE UPDATE ON security_events
    FOR EACH ROW EXECUTE FUNCTION vigil_security_events_append_only();
CREATE TRIGGER security_events_no_delete BEFORE DELETE ON security_events
    FOR EACH ROW EXECUTE FUNCTION vigil_security_events_append_only();
CREATE TRIGGER security_events_no_truncate BEFORE TRUNCATE ON security_events
    FOR EACH STATEMENT EXECUTE FUNCTION vigil_security_events_append_only();

CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    finding_id      BIGINT  REFERENCES findings(id),
    event_seq       BIGINT  REFERENCES security_events(seq),
    workflow        TEXT COLLATE "C" NOT NULL,
    task            TEXT COLLATE "C" NOT NULL,
    idempotency_key TEXT COLLATE "C" NOT NULL UNIQUE,
    payload         JSONB   NOT NULL DEFAULT '{}',
    status          TEXT COLLATE "C" NOT NULL CHECK (status IN ('pending', 'in_flight', 'delivered', 'dead')),
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    last_error      TEXT COLLATE "C",
    lease_owner     TEXT COLLATE "C",
    lease_expires_at BIGINT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    delivered_at    BIGINT
);
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_in_flight ON outbox (lease_expires_at) WHERE status = 'in_flight';

CREATE TABLE api_tokens (
    id              BIGSERIAL PRIMARY KEY,
    name            TEXT COLLATE "C" NOT NULL,
    scopes          JSONB   NOT NULL DEFAULT '[]',
    -- SHA-256 of the secret, lower-case hex. The secret itself is never stored.
    secret_sha256   TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at      BIGINT  NOT NULL,
    last_used_at    BIGINT,
    revoked_at      BIGINT
);
