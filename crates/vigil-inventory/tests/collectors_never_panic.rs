//! Every registered collector on arbitrary bytes: no panic, and an error rather than
//! garbage for non-files. Complements the per-collector property tests.

use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use vigil_inventory::{Collected, Registry, SourceFile};

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let registry = Registry::default();
        for collector in registry.collectors() {
            let path = Path::new("/nonexistent/node_modules/x/package.json");
            let mut out = Collected::new(Arc::from(path), collector);
            let _ = collector.collect(&SourceFile { path, bytes: &bytes }, &mut out);
        }
    }

    #[test]
    fn structured_text(text in "[ \\n\\t\"'{}\\[\\]:,=@/#a-z0-9.\\-_()<>$\\\\]{0,400}") {
        let registry = Registry::default();
        for collector in registry.collectors() {
            let path = Path::new("/nonexistent/var/lib/dpkg/status");
            let mut out = Collected::new(Arc::from(path), collector);
            let _ = collector.collect(&SourceFile { path, bytes: text.as_bytes() }, &mut out);
        }
    }
}
