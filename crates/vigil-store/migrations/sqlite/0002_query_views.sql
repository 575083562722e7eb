-- The views the query language reads (SQLite). One view per data object; each column is named
-- exactly like the query field (dotted names quoted). Encoding, as vigil-query's catalogue
-- specifies: strings TEXT, numbers INTEGER/REAL, booleans INTEGER 0/1, timestamps INTEGER
-- nanoseconds since the epoch (UTC), arrays TEXT holding a JSON array, absent values NULL.
-- The tables keep milliseconds; the views multiply. Rows that are gone stay visible (history):
-- their last_seen is when they were last seen; a present row's is its host's last report.

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
    ci.first_seen * 1000000                             AS "first_seen",
    (CASE WHEN ci.gone_at IS NULL THEN h.last_seen ELSE ci.last_seen END) * 1000000
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
    h.first_seen * 1000000                              AS "first_seen",
    h.last_seen * 1000000                               AS "last_seen"
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
    ct.first_seen * 1000000                             AS "first_seen",
    (CASE WHEN ct.gone_at IS NULL THEN h.last_seen ELSE ct.last_seen END) * 1000000
                                                        AS "last_seen"
FROM containers ct
JOIN hosts h ON h.id = ct.host_id;

CREATE VIEW q_processes AS
SELECT
    p.pid                                               AS "process.pid",
    p.start_time * 1000000                              AS "process.start_time",
    p.exe                                               AS "process.executable",
    p.cmdline                                           AS "process.command_line",
    p.user                                              AS "process.user",
    h.name                                              AS "host.name",
    ct.container_id                                     AS "container.id",
    (SELECT json_group_array(json_extract(s.value, '$.port')) FROM json_each(p.listening) s)
                                                        AS "listening_ports",
    (CASE WHEN p.gone_at IS NULL THEN h.last_seen ELSE p.last_seen END) * 1000000
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
    a.published * 1000000                               AS "published",
    a.modified * 1000000                                AS "modified",
    a.withdrawn * 1000000                               AS "withdrawn"
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
    (CASE f.entity_type WHEN 'host' THEN CAST(h.id AS TEXT) ELSE ct.container_id END)
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
    f.detected_at * 1000000                             AS "detected_at",
    f.acknowledged_at * 1000000                         AS "acknowledged_at",
    f.resolved_at * 1000000                             AS "resolved_at"
FROM findings f
JOIN components c ON c.id = f.component_id
JOIN hosts h ON h.id = f.host_id
LEFT JOIN containers ct ON ct.id = f.container_ref
LEFT JOIN advisories a ON a.id = f.advisory_id;

-- Every PRODUCT.md §5 field. The event's own columns are authoritative for timestamp, id, type
-- and finding; everything else is read from the payload the writer recorded at the time (an
-- event states what was true then, not what the finding says now).
CREATE VIEW q_security_events AS
SELECT
    e.timestamp * 1000000                               AS "timestamp",
    e.event_id                                          AS "event.id",
    e.event_type                                        AS "event.type",
    CAST(e.finding_id AS TEXT)                          AS "finding.id",
    json_extract(e.payload, '$."finding.status"')       AS "finding.status",
    json_extract(e.payload, '$."vulnerability.id"')     AS "vulnerability.id",
    json_extract(e.payload, '$."vulnerability.aliases"') AS "vulnerability.aliases",
    json_extract(e.payload, '$."vulnerability.kind"')   AS "vulnerability.kind",
    json_extract(e.payload, '$."vulnerability.title"')  AS "vulnerability.title",
    json_extract(e.payload, '$."vulnerability.references.cwe"')
                                                        AS "vulnerability.references.cwe",
    json_extract(e.payload, '$."vulnerability.risk.score"')
                                                        AS "vulnerability.risk.score",
    json_extract(e.payload, '$."vulnerability.risk.level"')
                                                        AS "vulnerability.risk.level",
    json_extract(e.payload, '$."component.ecosystem"')  AS "component.ecosystem",
    json_extract(e.payload, '$."component.name"')       AS "component.name",
    json_extract(e.payload, '$."component.version"')    AS "component.version",
    json_extract(e.payload, '$."component.purl"')       AS "component.purl",
    json_extract(e.payload, '$."evidence"')             AS "evidence",
    json_extract(e.payload, '$."affected_entity.id"')   AS "affected_entity.id",
    json_extract(e.payload, '$."affected_entity.type"') AS "affected_entity.type",
    json_extract(e.payload, '$."affected_entity.name"') AS "affected_entity.name",
    json_extract(e.payload, '$."host.name"')            AS "host.name",
    json_extract(e.payload, '$."container.id"')         AS "container.id",
    json_extract(e.payload, '$."container.image"')      AS "container.image",
    json_extract(e.payload, '$."k8s.namespace.name"')   AS "k8s.namespace.name",
    json_extract(e.payload, '$."k8s.workload.name"')    AS "k8s.workload.name",
    json_extract(e.payload, '$."process.pids"')         AS "process.pids",
    json_extract(e.payload, '$."locations"')            AS "locations",
    json_extract(e.payload, '$."owner.team"')           AS "owner.team"
FROM security_events e;
