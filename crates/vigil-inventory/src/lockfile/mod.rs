//! Collectors of lockfiles and manifests (evidence `DECLARED`).
