-- Query plans at fleet scale (issue #7: 1M component instances, the seed query in ~100 ms).
--
-- 1. Name predicates run on the components (thousands) instead of the instances (millions):
--    q_software_components gains the hidden column "$component" (the component's row id; no
--    query field can name it) and q_components lists each component once under the same key,
--    so vigil-query compiles `filter contains(name, "debug")` right after `fetch` as
--    `"$component" IN (SELECT … FROM q_components WHERE …)`, answered through the index below.
-- 2. Indexes: components by (name, version) serves `summarize …, by:{name, version}` in index
--    order and `lookup … sourceField: name`; instances by (component, host, container) replaces
--    the component index (its prefix) and covers the view's joins.
-- 3. Planner statistics: SQLite plans from sqlite_stat1, which nothing fills until ANALYZE runs.
--    Without it the planner scans every instance and sorts them for a `summarize`. We write the
--    shape of a fleet (500 hosts x 2,000 instances, ~100 instances per component, ~3 versions
--    per name) as documented in "Manual Control Of Query Plans Using SQLITE_STAT Tables":
--    plans then do not depend on when, or whether, ANALYZE ran. Only for tables without
--    statistics of their own; a later ANALYZE replaces them with measured ones.

CREATE INDEX components_by_name_version ON components (name, version);
CREATE INDEX component_instances_by_component_host
    ON component_instances (component_id, host_id, container_ref);
DROP INDEX component_instances_by_component;

DROP VIEW q_software_components;
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
    ci.dev                                              AS "dev",
    ci.component_id                                     AS "$component"
FROM component_instances ci
JOIN components c ON c.id = ci.component_id
JOIN hosts h ON h.id = ci.host_id
LEFT JOIN containers ct ON ct.id = ci.container_ref;

CREATE VIEW q_components AS
SELECT
    c.id                                                AS "$component",
    c.ecosystem                                         AS "ecosystem",
    c.name                                              AS "name",
    c.version                                           AS "version",
    c.purl                                              AS "purl"
FROM components c;

ANALYZE sqlite_schema;
INSERT INTO sqlite_stat1 (tbl, idx, stat)
SELECT column1, column2, column3 FROM (VALUES
    ('components', 'sqlite_autoindex_components_1', '10000 2000 3 1'),
    ('components', 'components_by_key', '10000 2000 3'),
    ('components', 'components_by_name_version', '10000 3 1'),
    ('component_instances', 'component_instances_identity', '1000000 2000 1000 1 1'),
    ('component_instances', 'component_instances_by_component_host', '1000000 100 1 1'),
    ('component_instances', 'component_instances_present', '1000000 2000'),
    ('component_instances', 'component_instances_gone', '10000 10'),
    ('hosts', 'sqlite_autoindex_hosts_1', '500 1'),
    ('containers', 'sqlite_autoindex_containers_1', '2000 4 1')
) AS hint
WHERE NOT EXISTS (SELECT 1 FROM sqlite_stat1 s WHERE s.tbl = hint.column1);
-- Load them on this connection (the others read them when they open).
ANALYZE sqlite_schema;
