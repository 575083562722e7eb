//! Collectors of installed packages and OS package databases (evidence `INSTALLED`).

pub mod npm;
