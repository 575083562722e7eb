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

CREATE INDEX components_by_name_version ON components (name, version);
-- How many (name, version) pairs there are: without it the planner takes names x versions as
-- independent, underestimates the groups of `summarize …, by:{name, version}` and hashes every
-- instance instead of reading them in index order until the default limit is reached.
CREATE STATISTICS components_name_version (ndistinct) ON name, version FROM components;
CREATE INDEX component_instances_by_component_host
    ON component_instances (component_id, host_id, container_ref);
DROP INDEX component_instances_by_component;

CREATE OR REPLACE VIEW q_software_components AS
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
