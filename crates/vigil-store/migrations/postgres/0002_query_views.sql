-- The views the query language reads (PostgreSQL). One view per data object; each column is
-- named exactly like the query field (dotted names quoted). Encoding, as vigil-query's catalogue
-- specifies for PostgreSQL: strings text, numbers bigint / double precision, booleans boolean,
-- timestamps bigint nanoseconds since the epoch (UTC), arrays jsonb, absent values NULL.
-- The tables keep milliseconds; the views multiply (saturating, like Timestamp::unix_nanos, so
-- an absurd stored time cannot make a view raise "bigint out of range"). Rows that are gone stay
-- visible (history): their last_seen is when they were last seen; a present row's is its host's
-- last report.

CREATE FUNCTION vigil_ns(ms BIGINT) RETURNS BIGINT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN ms > 9223372036854 THEN 9223372036854775807
        WHEN ms < -9223372036854 THEN -9223372036854775808
        ELSE ms * 1000000
    END
$$;

CREATE VIEW q_software_components AS
SELECT
    c.ecosystem                                         AS "ecosystem",
    c.name                                              AS "name",
    c.version                                           AS "version",
    c.purl                                              AS "purl",
    ci.evidence                                         AS "evidence",
    h.name                                              AS "host.name",
    ct.container_id                                     AS "container.id",
    ct.image                                            AS "container.image",
    ct.k8s_namespace                                    AS "k8s.namespace.name",
    ct.k8s_workload                                     AS "k8s.workload.name",
    ci.path                                             AS "path",
    ci.pids                                             AS "process.pids",
    vigil_ns(ci.first_seen)                             AS "first_seen",
    vigil_ns(CASE WHEN ci.gone_at IS NULL THEN h.last_seen ELSE ci.last_seen END)
                                                        AS "last_seen",
    ci.dev                                              AS "dev"
FROM component_instances ci
JOIN components c ON c.id = ci.component_id
JOIN hosts h ON h.id = ci.host_id
LEFT JOIN containers ct ON ct.id = ci.container_ref;

CREATE VIEW q_hosts AS
SELECT
    CAST(h.id AS TEXT)                                  AS "host.id",
    h.name                                              AS "host.name",
    h.os_name                                           AS "os.name",
    h.os_version                                        AS "os.version",
    h.arch                                              AS "arch",
    h.agent_version                                     AS "agent.version",
    vigil_ns(h.first_seen)                              AS "first_seen",
    vigil_ns(h.last_seen)                               AS "last_seen"
FROM hosts h;

CREATE VIEW q_containers AS
SELECT
    ct.container_id                                     AS "container.id",
    ct.name                                             AS "container.name",
    ct.image                                            AS "container.image",
    ct.image_digest                                     AS "container.image.digest",
    h.name                                              AS "host.name",
    ct.k8s_namespace                                    AS "k8s.namespace.name",
    ct.k8s_pod                                          AS "k8s.pod.name",
    ct.k8s_workload                                     AS "k8s.workload.name",
    ct.k8s_workload_kind                                AS "k8s.workload.kind",
    vigil_ns(ct.first_seen)                             AS "first_seen",
    vigil_ns(CASE WHEN ct.gone_at IS NULL THEN h.last_seen ELSE ct.last_seen END)
                                                        AS "last_seen"
FROM containers ct
JOIN hosts h ON h.id = ct.host_id;

CREATE VIEW q_processes AS
SELECT
    p.pid                                               AS "process.pid",
    vigil_ns(p.start_time)                              AS "process.start_time",
    p.exe                                               AS "process.executable",
    p.cmdline                                           AS "process.command_line",
    p."user"                                            AS "process.user",
    h.name                                              AS "host.name",
    ct.container_id                                     AS "container.id",
    (SELECT coalesce(jsonb_agg(s.value -> 'port' ORDER BY s.ordinality), '[]'::jsonb)
     FROM jsonb_array_elements(p.listening) WITH ORDINALITY AS s(value, ordinality))
                                                        AS "listening_ports",
    vigil_ns(CASE WHEN p.gone_at IS NULL THEN h.last_seen ELSE p.last_seen END)
                                                        AS "last_seen"
FROM processes p
JOIN hosts h ON h.id = p.host_id
LEFT JOIN containers ct ON ct.id = p.container_ref;

-- One row per advisory × affected package (an advisory naming none still has one row).
CREATE VIEW q_advisories AS
SELECT
    a.id                                                AS "id",
    a.aliases                                           AS "aliases",
    a.kind                                              AS "kind",
    a.summary                                           AS "summary",
    a.cwes                                              AS "cwes",
    a.severity                                          AS "severity",
    ap.ecosystem                                        AS "ecosystem",
    ap.name                                             AS "name",
    ap.versions                                         AS "versions",
    a.source                                            AS "source",
    vigil_ns(a.published)                              AS "published",
    vigil_ns(a.modified)                                AS "modified",
    vigil_ns(a.withdrawn)                               AS "withdrawn"
FROM advisories a
LEFT JOIN advisory_packages ap ON ap.advisory_id = a.id;

CREATE VIEW q_findings AS
SELECT
    CAST(f.id AS TEXT)                                  AS "finding.id",
    f.status                                            AS "finding.status",
    f.mute_reason                                       AS "finding.mute_reason",
    f.advisory_id                                       AS "vulnerability.id",
    f.aliases                                           AS "vulnerability.aliases",
    a.kind                                              AS "vulnerability.kind",
    a.summary                                           AS "vulnerability.title",
    a.cwes                                              AS "vulnerability.references.cwe",
    f.risk_score                                        AS "vulnerability.risk.score",
    f.risk_level                                        AS "vulnerability.risk.level",
    c.ecosystem                                         AS "component.ecosystem",
    c.name                                              AS "component.name",
    c.version                                           AS "component.version",
    c.purl                                              AS "component.purl",
    f.evidence                                          AS "evidence",
    (CASE f.entity_type WHEN 'host' THEN CAST(h.id AS TEXT) COLLATE "C" ELSE ct.container_id END)
                                                        AS "affected_entity.id",
    f.entity_type                                       AS "affected_entity.type",
    (CASE f.entity_type WHEN 'host' THEN h.name ELSE coalesce(ct.name, ct.container_id) END)
                                                        AS "affected_entity.name",
    h.name                                              AS "host.name",
    ct.container_id                                     AS "container.id",
    ct.image                                            AS "container.image",
    ct.k8s_namespace                                    AS "k8s.namespace.name",
    ct.k8s_workload                                     AS "k8s.workload.name",
    f.pids                                              AS "process.pids",
    f.locations                                         AS "locations",
    f.owner_team                                        AS "owner.team",
    vigil_ns(f.detected_at)                             AS "detected_at",
    vigil_ns(f.acknowledged_at)                         AS "acknowledged_at",
    vigil_ns(f.resolved_at)                             AS "resolved_at"
FROM findings f
JOIN components c ON c.id = f.component_id
JOIN hosts h ON h.id = f.host_id
LEFT JOIN containers ct ON ct.id = f.container_ref
LEFT JOIN advisories a ON a.id = f.advisory_id;

-- Every PRODUCT.md §5 field. The event's own columns are authoritative for timestamp, id, type
-- and finding; everything else is read from the payload the writer recorded at the time (an
-- event states what was true then, not what the finding says now). A payload value of the
-- wrong JSON type reads as NULL (never a cast error that would fail every query on the view).
CREATE VIEW q_security_events AS
SELECT
    vigil_ns(e."timestamp")                             AS "timestamp",
    e.event_id                                          AS "event.id",
    e.event_type                                        AS "event.type",
    CAST(e.finding_id AS TEXT)                          AS "finding.id",
    (e.payload ->> 'finding.status') COLLATE "C"        AS "finding.status",
    (e.payload ->> 'vulnerability.id') COLLATE "C"      AS "vulnerability.id",
    (CASE WHEN jsonb_typeof(e.payload -> 'vulnerability.aliases') = 'array'
          THEN e.payload -> 'vulnerability.aliases' END) AS "vulnerability.aliases",
    (e.payload ->> 'vulnerability.kind') COLLATE "C"    AS "vulnerability.kind",
    (e.payload ->> 'vulnerability.title') COLLATE "C"   AS "vulnerability.title",
    (CASE WHEN jsonb_typeof(e.payload -> 'vulnerability.references.cwe') = 'array'
          THEN e.payload -> 'vulnerability.references.cwe' END)
                                                        AS "vulnerability.references.cwe",
    (CASE WHEN jsonb_typeof(e.payload -> 'vulnerability.risk.score') = 'number'
          THEN CAST(e.payload ->> 'vulnerability.risk.score' AS DOUBLE PRECISION) END)
                                                        AS "vulnerability.risk.score",
    (e.payload ->> 'vulnerability.risk.level') COLLATE "C"
                                                        AS "vulnerability.risk.level",
    (e.payload ->> 'component.ecosystem') COLLATE "C"   AS "component.ecosystem",
    (e.payload ->> 'component.name') COLLATE "C"        AS "component.name",
    (e.payload ->> 'component.version') COLLATE "C"     AS "component.version",
    (e.payload ->> 'component.purl') COLLATE "C"        AS "component.purl",
    (e.payload ->> 'evidence') COLLATE "C"              AS "evidence",
    (e.payload ->> 'affected_entity.id') COLLATE "C"    AS "affected_entity.id",
    (e.payload ->> 'affected_entity.type') COLLATE "C"  AS "affected_entity.type",
    (e.payload ->> 'affected_entity.name') COLLATE "C"  AS "affected_entity.name",
    (e.payload ->> 'host.name') COLLATE "C"             AS "host.name",
    (e.payload ->> 'container.id') COLLATE "C"          AS "container.id",
    (e.payload ->> 'container.image') COLLATE "C"       AS "container.image",
    (e.payload ->> 'k8s.namespace.name') COLLATE "C"    AS "k8s.namespace.name",
    (e.payload ->> 'k8s.workload.name') COLLATE "C"     AS "k8s.workload.name",
    (CASE WHEN jsonb_typeof(e.payload -> 'process.pids') = 'array'
          THEN e.payload -> 'process.pids' END)         AS "process.pids",
    (CASE WHEN jsonb_typeof(e.payload -> 'locations') = 'array'
          THEN e.payload -> 'locations' END)            AS "locations",
    (e.payload ->> 'owner.team') COLLATE "C"            AS "owner.team"
FROM security_events e;
