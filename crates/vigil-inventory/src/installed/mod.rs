//! Collectors of installed packages and OS package databases (evidence `INSTALLED`), one file
//! per format.

pub mod apk;
pub mod conda;
pub mod dpkg;
pub mod npm;
pub mod os_release;
pub mod python;
