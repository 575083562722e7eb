//! Collectors of installed packages and OS package databases (evidence `INSTALLED`), one file
//! per format.

pub mod apk;
pub mod binary;
pub mod conda;
pub mod dotnet;
pub mod dpkg;
pub mod elf;
pub mod gem;
pub mod java_archive;
pub mod npm;
pub mod nuspec;
pub mod os_release;
pub mod python;
pub mod rpm;
pub mod rpm_bdb;
